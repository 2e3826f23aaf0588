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
