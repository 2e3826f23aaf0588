"""Parameter and FLOP accounting of Kaplan et al. Section 2.1.

N is the number of non-embedding parameters, counted exactly from the parameter
tree; token and position embeddings (and an untied unembedding) are excluded.
"""

from __future__ import annotations

import math

import jax

from scaling.constants import PF_DAY  # pylint: disable=unused-import

# Top-level parameter collections that are embeddings in the paper's sense.
EMBEDDING_KEYS = frozenset({"embed", "pos_embed", "unembed"})


def _top_key(path) -> str:
  entry = path[0]
  return str(getattr(entry, "key", getattr(entry, "name", entry)))


def count_params(params) -> dict[str, int]:
  """Counts parameters of a pytree of arrays: embedding and non-embedding."""
  counts = {"embedding": 0, "nonembedding": 0}
  for path, leaf in jax.tree_util.tree_leaves_with_path(params):
    kind = "embedding" if _top_key(path) in EMBEDDING_KEYS else "nonembedding"
    counts[kind] += math.prod(leaf.shape)
  return counts


def n_formula(n_layer: int, d_model: int, d_attn: int, d_ff: int) -> int:
  """The paper's estimate N ≈ 2·d_model·n_layer·(2·d_attn + d_ff) (weights only)."""
  return 2 * d_model * n_layer * (2 * d_attn + d_ff)


def c_forward_per_token(n: int, n_layer: int, n_ctx: int, d_attn: int) -> int:
  """Forward FLOPs per token, C_forward ≈ 2N + 2·n_layer·n_ctx·d_attn."""
  return 2 * n + 2 * n_layer * n_ctx * d_attn


def train_flops_per_token(n_applied: int) -> int:
  """Training FLOPs per token in the paper's convention, C = 6·N per token.

  `n_applied` counts every application of a shared block (Universal
  Transformers), since each application costs compute.
  """
  return 6 * n_applied


def mfu_flops_per_token(n: int, d_model: int, vocab: int, n_layer: int,
                        n_ctx: int) -> int:
  """Hardware FLOPs per token for MFU: 6(N + d_model·V) + 12·n_layer·n_ctx·d_model."""
  return 6 * (n + d_model * vocab) + 12 * n_layer * n_ctx * d_model


def lstm_n_formula(n_layer: int, d_model: int) -> int:
  """Weights of n_layer LSTM layers of width d_model: 8·n_layer·d_model².

  Each layer has W_ih and W_hh, each d_model × 4·d_model (gates i, f, g, o).
  """
  return 8 * n_layer * d_model * d_model


def lstm_c_forward_per_token(n: int) -> int:
  """Forward FLOPs per token of the LSTM: 2N.

  Every weight is used once per token (x @ W_ih, h @ W_hh) and the recurrent
  state has a fixed size, so unlike attention nothing grows with n_ctx.
  """
  return 2 * n


def applied_nonembedding(params, share_layers: bool, n_layer: int) -> int:
  """Non-embedding parameters counted once per application.

  For a Universal Transformer (share_layers) the one block under `blocks` is
  applied n_layer times, everything else (the final LayerNorm) once.
  """
  total = 0
  for path, leaf in jax.tree_util.tree_leaves_with_path(params):
    key = _top_key(path)
    if key in EMBEDDING_KEYS:
      continue
    total += math.prod(leaf.shape) * (n_layer if share_layers and key == "blocks" else 1)
  return total
