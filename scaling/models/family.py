"""Model families: what each `model.kind` owns about itself.

A family builds its module from a resolved `model` section and knows its own
accounting (Kaplan et al. Section 2.1): the formula N, training and forward
FLOPs per token, and how many layers the MFU count charges attention for.
Everything that used to ask `model.kind == ...` asks the family instead.
"""

from __future__ import annotations

from flax import nnx

from scaling import accounting
from scaling.formulas import padded_vocab  # pylint: disable=unused-import  (scaling.models' name)
from scaling.models.lstm import LSTM, LSTMShape
from scaling.models.transformer import Transformer, TransformerShape




class TransformerFamily:
  kind = "transformer"

  @staticmethod
  def shape(m) -> TransformerShape:
    return TransformerShape(
        n_layer=m.n_layer, d_model=m.d_model, d_ff=m.d_ff, d_attn=m.d_attn,
        n_heads=m.n_heads, n_ctx=m.n_ctx, vocab_size=m.vocab_size,
        padded_vocab=padded_vocab(m.vocab_size), dtype=m.dtype,
        param_dtype=m.param_dtype, attention=m.attention, share_layers=m.share_layers,
        tie_embeddings=m.tie_embeddings, dropout=m.dropout,
        scan_layers=m.scan_layers, remat=m.remat)

  def build(self, m, rngs: nnx.Rngs) -> nnx.Module:
    return Transformer(self.shape(m), rngs=rngs)

  @staticmethod
  def n_formula(m, *, applied: bool = False) -> int:
    """N ≈ 2·d_model·n_layer·(2·d_attn + d_ff) of the weights (a shared block
    once), or with `applied` of every application; unresolved d_ff/d_attn ok."""
    n_layer = m.n_layer if applied or not m.share_layers else 1
    return accounting.n_formula(n_layer, m.d_model, m.d_attn or m.d_model,
                                m.d_ff or 4 * m.d_model)

  def flops(self, m, params) -> dict:
    """C_forward = 2N + 2·n_layer·n_ctx·d_attn, N counting every application of a
    shared block; training FLOPs 6N per token."""
    n = accounting.applied_nonembedding(params, m.share_layers, m.n_layer)
    return {"n_applied": n, "flops_per_token": accounting.train_flops_per_token(n),
            "c_forward_per_token": accounting.c_forward_per_token(
                n, m.n_layer, m.n_ctx, m.d_attn),
            "n_params_formula": self.n_formula(m)}

  @staticmethod
  def attention_layers(m) -> int:
    return m.n_layer


class LSTMFamily:
  kind = "lstm"

  @staticmethod
  def shape(m) -> LSTMShape:
    return LSTMShape(
        n_layer=m.n_layer, d_model=m.d_model, n_ctx=m.n_ctx, vocab_size=m.vocab_size,
        padded_vocab=padded_vocab(m.vocab_size), dtype=m.dtype,
        param_dtype=m.param_dtype, impl=m.lstm_impl, unroll=m.lstm_unroll,
        tie_embeddings=m.tie_embeddings, dropout=m.dropout)

  def build(self, m, rngs: nnx.Rngs) -> nnx.Module:
    return LSTM(self.shape(m), rngs=rngs)

  @staticmethod
  def n_formula(m, *, applied: bool = False) -> int:
    del applied  # no shared layers
    return accounting.lstm_n_formula(m.n_layer, m.d_model)

  def flops(self, m, params) -> dict:
    """C_forward = 2N: nothing grows with n_ctx; training FLOPs 6N per token."""
    n = accounting.count_params(params)["nonembedding"]
    return {"n_applied": n, "flops_per_token": accounting.train_flops_per_token(n),
            "c_forward_per_token": accounting.lstm_c_forward_per_token(n),
            "n_params_formula": self.n_formula(m)}

  @staticmethod
  def attention_layers(m) -> int:
    del m  # no attention: the MFU count's n_ctx term is zero
    return 0


FAMILIES = {f.kind: f for f in (TransformerFamily(), LSTMFamily())}
KINDS = tuple(FAMILIES)


def family(model_cfg):
  """The family of a `model` section (by model.kind)."""
  try:
    return FAMILIES[model_cfg.kind]
  except KeyError:
    raise ValueError(f"model.kind={model_cfg.kind!r} is unknown; use one of "
                     f"{', '.join(KINDS)}") from None
