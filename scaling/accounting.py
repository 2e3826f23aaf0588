"""Parameter and FLOP accounting of Kaplan et al. Section 2.1.

N is the number of non-embedding parameters, counted exactly from the parameter
tree; token and position embeddings (and an untied unembedding) are excluded.
"""

from __future__ import annotations

import math

import jax

from scaling.constants import PF_DAY  # pylint: disable=unused-import
# The formulas live in scaling.formulas (no JAX); re-exported for the trainer's callers.
from scaling.formulas import (  # pylint: disable=unused-import
    attention_flops_per_token, c_forward_per_token, lstm_c_forward_per_token, lstm_n_formula,
    mfu_flops_per_token, n_formula, train_flops_per_token, transformer_nonembedding)

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
