"""The paper's parameter and FLOP formulas (Kaplan et al. Section 2.1), in
plain integers: no JAX, so the law library and the experiment files use the
same ones as the trainer's accounting (`scaling.accounting` counts the
parameter tree itself and re-exports these).

N is the number of non-embedding parameters; C counts training FLOPs per token.
"""

from __future__ import annotations


def padded_vocab(vocab_size: int, multiple: int = 128) -> int:
  """The embedding rows: vocab_size rounded up to a multiple of `multiple`."""
  return -(-int(vocab_size) // multiple) * multiple


def n_formula(n_layer: int, d_model: int, d_attn: int, d_ff: int) -> int:
  """The paper's estimate N ≈ 2·d_model·n_layer·(2·d_attn + d_ff) (weights only)."""
  return 2 * d_model * n_layer * (2 * d_attn + d_ff)


def transformer_nonembedding(n_layer: int, d_model: int) -> int:
  """The project Transformer's exact non-embedding count at d_ff = 4·d_attn =
  4·d_model, biases and LayerNorms included: n_layer·(12·d² + 13·d) + 2·d
  (tests/test_accounting.py checks it against the parameter tree)."""
  return n_layer * (12 * d_model * d_model + 13 * d_model) + 2 * d_model


def c_forward_per_token(n: int, n_layer: int, n_ctx: int, d_attn: int) -> int:
  """Forward FLOPs per token, C_forward ≈ 2N + 2·n_layer·n_ctx·d_attn."""
  return 2 * n + 2 * n_layer * n_ctx * d_attn


def train_flops_per_token(n_applied: int) -> int:
  """Training FLOPs per token in the paper's convention, C = 6·N per token.

  `n_applied` counts every application of a shared block (Universal
  Transformers), since each application costs compute.
  """
  return 6 * n_applied


def attention_flops_per_token(n_layer: int, n_ctx: int, d_model: int) -> int:
  """Training FLOPs per token of the attention scores and their use,
  forward and backward: 12·n_layer·n_ctx·d_model."""
  return 12 * n_layer * n_ctx * d_model


def mfu_flops_per_token(n: int, d_model: int, vocab: int, n_layer: int,
                        n_ctx: int) -> int:
  """Hardware FLOPs per token for MFU: 6(N + d_model·V) + 12·n_layer·n_ctx·d_model."""
  return 6 * (n + d_model * vocab) + attention_flops_per_token(n_layer, n_ctx, d_model)


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
