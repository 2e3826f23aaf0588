"""Model construction from a config's `model` section (see family.py)."""

from __future__ import annotations

from flax import nnx

from scaling.models.family import FAMILIES, KINDS, family, padded_vocab
from scaling.models.lstm import LSTMShape
from scaling.models.transformer import TransformerShape

__all__ = ["FAMILIES", "KINDS", "build_model", "family", "lstm_shape", "padded_vocab",
           "transformer_shape"]


def transformer_shape(model_cfg) -> TransformerShape:
  """A TransformerShape from a resolved `model` config section."""
  return FAMILIES["transformer"].shape(model_cfg)


def lstm_shape(model_cfg) -> LSTMShape:
  """An LSTMShape from a resolved `model` config section."""
  return FAMILIES["lstm"].shape(model_cfg)


def build_model(model_cfg, seed: int) -> nnx.Module:
  """Builds the model named by `model.kind` with parameters from `seed`."""
  return family(model_cfg).build(model_cfg, nnx.Rngs(params=seed))
