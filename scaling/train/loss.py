"""Cross-entropy in nats per token, over the real (unpadded) vocabulary."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def token_losses(logits_BxTxV, targets_BxT, vocab_size: int, logits_bf16: bool = False):
  """Per-token cross-entropy (float32) of [B, T, V_padded] logits.

  Rows past `vocab_size` (padding of the embedding table) take no probability.
  logits_bf16 (speed only, model.logits_bf16): the logits and their gradient
  stay in their own dtype and float32 exists only inside the log-sum-exp and
  the softmax of the backward pass (lowp_token_losses); same function.
  """
  if logits_bf16 and logits_BxTxV.dtype != jnp.float32:
    return lowp_token_losses(logits_BxTxV, targets_BxT, vocab_size)
  logits = logits_BxTxV.astype(jnp.float32)
  v_pad = logits.shape[-1]
  if v_pad > vocab_size:
    logits = jnp.where(jnp.arange(v_pad) < vocab_size, logits, -jnp.inf)
  log_z_BxT = jax.nn.logsumexp(logits, axis=-1)
  target_logit_BxT = jnp.take_along_axis(logits, targets_BxT[..., None], axis=-1)[..., 0]
  return log_z_BxT - target_logit_BxT


def _masked_f32(logits_BxTxV, vocab_size):
  """The logits in float32 with padded rows at -inf: elementwise, so XLA fuses
  it into its consumers instead of writing a float32 copy."""
  x = logits_BxTxV.astype(jnp.float32)
  v_pad = x.shape[-1]
  return jnp.where(jnp.arange(v_pad) < vocab_size, x, -jnp.inf) if v_pad > vocab_size else x


def _lse_and_target(logits_BxTxV, targets_BxT, vocab_size):
  v_pad = logits_BxTxV.shape[-1]
  real = logits_BxTxV if v_pad == vocab_size else logits_BxTxV[..., :vocab_size]
  m_BxT = jax.lax.stop_gradient(real.max(axis=-1)).astype(jnp.float32)  # exact in any dtype
  x = _masked_f32(logits_BxTxV, vocab_size)
  log_z_BxT = jnp.log(jnp.exp(x - m_BxT[..., None]).sum(axis=-1)) + m_BxT
  target_BxT = jnp.take_along_axis(logits_BxTxV, targets_BxT[..., None], axis=-1)[..., 0]
  return log_z_BxT, target_BxT.astype(jnp.float32)


def lowp_token_losses(logits_BxTxV, targets_BxT, vocab_size: int):
  """token_losses for low-precision logits with a hand-written gradient.

  Forward keeps only the logits (their dtype) and the float32 log-sum-exp
  [B, T]; backward is one elementwise pass, softmax − one-hot in float32,
  written out in the logits' dtype. No [B, T, V] float32 array is needed.
  """

  @jax.custom_vjp
  def losses(logits, targets):
    log_z, target = _lse_and_target(logits, targets, vocab_size)
    return log_z - target

  def fwd(logits, targets):
    log_z, target = _lse_and_target(logits, targets, vocab_size)
    return log_z - target, (logits, targets, log_z)

  def bwd(res, g_BxT):
    logits, targets, log_z_BxT = res
    p_BxTxV = jnp.exp(_masked_f32(logits, vocab_size) - log_z_BxT[..., None])
    onehot = jnp.arange(logits.shape[-1]) == targets[..., None]
    d_BxTxV = g_BxT[..., None] * (p_BxTxV - onehot.astype(jnp.float32))
    return d_BxTxV.astype(logits.dtype), np.zeros(targets.shape, jax.dtypes.float0)

  losses.defvjp(fwd, bwd)
  return losses(logits_BxTxV, targets_BxT)


def chunked_token_losses(hidden_BxTxD, logits_fn, targets_BxT, vocab_size: int, chunk: int,
                         logits_bf16: bool = False):
  """token_losses over `chunk` positions at a time, recomputed in the backward pass.

  Only one chunk's [B, chunk, V] logits exist at once, and never in float32
  as a whole: the log-sum-exp is taken in float32 per chunk.
  """
  b, t, d = hidden_BxTxD.shape
  n = t // chunk
  h_NxBxCxD = hidden_BxTxD.reshape(b, n, chunk, d).swapaxes(0, 1)
  y_NxBxC = targets_BxT.reshape(b, n, chunk).swapaxes(0, 1)

  @jax.checkpoint
  def one(h_BxCxD, y_BxC):
    return token_losses(logits_fn(h_BxCxD), y_BxC, vocab_size, logits_bf16)

  _, loss_NxBxC = jax.lax.scan(lambda c, xs: (c, one(*xs)), None, (h_NxBxCxD, y_NxBxC))
  return loss_NxBxC.swapaxes(0, 1).reshape(b, t)
