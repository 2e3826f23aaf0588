"""Model construction from a config's `model` section."""

from __future__ import annotations

from flax import nnx

from scaling.models.lstm import LSTM, LSTMShape
from scaling.models.transformer import Transformer, TransformerShape

KINDS = ("transformer", "lstm")


def padded_vocab(vocab_size: int, multiple: int = 128) -> int:
  return -(-vocab_size // multiple) * multiple


def transformer_shape(model_cfg) -> TransformerShape:
  """A TransformerShape from a resolved `model` config section."""
  return TransformerShape(
      n_layer=model_cfg.n_layer, d_model=model_cfg.d_model,
      d_ff=model_cfg.d_ff, d_attn=model_cfg.d_attn,
      n_heads=model_cfg.n_heads, n_ctx=model_cfg.n_ctx,
      vocab_size=model_cfg.vocab_size,
      padded_vocab=padded_vocab(model_cfg.vocab_size),
      dtype=model_cfg.dtype, param_dtype=model_cfg.param_dtype,
      attention=model_cfg.attention, share_layers=model_cfg.share_layers,
      tie_embeddings=model_cfg.tie_embeddings, dropout=model_cfg.dropout,
      scan_layers=model_cfg.scan_layers, remat=model_cfg.remat)


def lstm_shape(model_cfg) -> LSTMShape:
  """An LSTMShape from a resolved `model` config section."""
  return LSTMShape(
      n_layer=model_cfg.n_layer, d_model=model_cfg.d_model, n_ctx=model_cfg.n_ctx,
      vocab_size=model_cfg.vocab_size,
      padded_vocab=padded_vocab(model_cfg.vocab_size),
      dtype=model_cfg.dtype, param_dtype=model_cfg.param_dtype,
      impl=model_cfg.lstm_impl, unroll=model_cfg.lstm_unroll,
      tie_embeddings=model_cfg.tie_embeddings, dropout=model_cfg.dropout)


def build_model(model_cfg, seed: int) -> nnx.Module:
  """Builds the model named by `model.kind` with parameters from `seed`."""
  rngs = nnx.Rngs(params=seed)
  if model_cfg.kind == "transformer":
    return Transformer(transformer_shape(model_cfg), rngs=rngs)
  if model_cfg.kind == "lstm":
    return LSTM(lstm_shape(model_cfg), rngs=rngs)
  raise ValueError(f"model.kind={model_cfg.kind!r} is unknown; use one of {KINDS}")
