"""Cross-entropy in nats per token, over the real (unpadded) vocabulary."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def token_losses(logits_BxTxV, targets_BxT, vocab_size: int):
  """Per-token cross-entropy (float32) of [B, T, V_padded] logits.

  Rows past `vocab_size` (padding of the embedding table) take no probability.
  """
  logits = logits_BxTxV.astype(jnp.float32)
  v_pad = logits.shape[-1]
  if v_pad > vocab_size:
    logits = jnp.where(jnp.arange(v_pad) < vocab_size, logits, -jnp.inf)
  log_z_BxT = jax.nn.logsumexp(logits, axis=-1)
  target_logit_BxT = jnp.take_along_axis(logits, targets_BxT[..., None], axis=-1)[..., 0]
  return log_z_BxT - target_logit_BxT


def chunked_token_losses(hidden_BxTxD, logits_fn, targets_BxT, vocab_size: int, chunk: int):
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
    return token_losses(logits_fn(h_BxCxD), y_BxC, vocab_size)

  _, loss_NxBxC = jax.lax.scan(lambda c, xs: (c, one(*xs)), None, (h_NxBxCxD, y_NxBxC))
  return loss_NxBxC.swapaxes(0, 1).reshape(b, t)
