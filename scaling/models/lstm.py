"""LSTM language model in Flax NNX: the recurrent baseline of Kaplan et al. Fig. 7.

Token embedding, n_layer LSTM layers of width d_model, a final LayerNorm and
logits (tied to the embedding or a separate unembedding, as in the
Transformer). Dimensions: B batch, T positions, D d_model (= the hidden size
H of every layer), G = 4·D gate pre-activations in the order (i, f, g, o) of
cuDNN and torch.nn.LSTM, V padded vocabulary.

Two implementations compute the same function from the same parameters:
  scan   the input projection of all positions is one [B·T, D] x [D, G] matrix
         product outside the loop; jax.lax.scan then runs only h @ W_hh and
         the gate arithmetic per position. Runs everywhere.
  cudnn  jax.experimental.rnn.lstm: the whole stack in one cuDNN call, with
         the weights packed into cuDNN's flat layout. CUDA GPUs only;
         float32 inputs (TF32 matmuls), no dropout. Off a GPU a model built
         with `cudnn` (a config written on a GPU) runs the scan instead.
`reference` (tests only) runs the cuDNN data path, packing included, through
jax.experimental.rnn.lstm_ref, which works on any backend.

Each layer has one bias vector: cuDNN's second bias (b_hh) is passed as
zeros, which computes the same function with fewer redundant parameters.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

from scaling.models.head import LanguageModelHead

_INIT_STD = 0.02
IMPLS = ("scan", "cudnn", "reference")


@dataclasses.dataclass(frozen=True)
class LSTMShape:
  n_layer: int
  d_model: int
  n_ctx: int               # longest sequence accepted (per-position evaluation)
  vocab_size: int
  padded_vocab: int
  dtype: str = "float32"   # compute dtype of the scan path
  param_dtype: str = "float32"
  impl: str = "scan"       # scan | cudnn | reference
  unroll: int = 1          # positions per scan iteration
  tie_embeddings: bool = True
  dropout: float = 0.0     # on the embedding and between layers


class LSTMLayer(nnx.Module):
  """One LSTM layer: x @ W_ih + b + h @ W_hh gives the four gates."""

  def __init__(self, shape: LSTMShape, *, rngs: nnx.Rngs):
    d, g = shape.d_model, 4 * shape.d_model
    pdt = jnp.dtype(shape.param_dtype)
    k = 1.0 / math.sqrt(d)  # the U(-k, k) initialisation of cuDNN and PyTorch
    uniform = nnx.initializers.uniform(scale=2 * k)
    self.w_ih = nnx.Param(uniform(rngs.params(), (d, g), pdt) - k, axes=("embed", None))
    self.w_hh = nnx.Param(uniform(rngs.params(), (d, g), pdt) - k, axes=("embed", None))
    # forget-gate bias 1 (Jozefowicz et al. 2015), the others 0
    self.bias = nnx.Param(jnp.zeros((g,), pdt).at[d:2 * d].set(1.0), axes=(None,))


def _gates(pre_BxG, c_BxD):
  """One LSTM update from the gate pre-activations, in float32."""
  i_BxD, f_BxD, g_BxD, o_BxD = jnp.split(pre_BxG.astype(jnp.float32), 4, axis=-1)
  c_BxD = jax.nn.sigmoid(f_BxD) * c_BxD + jax.nn.sigmoid(i_BxD) * jnp.tanh(g_BxD)
  return jax.nn.sigmoid(o_BxD) * jnp.tanh(c_BxD), c_BxD


def scan_layer(x_TxBxD, w_ih_DxG, w_hh_DxG, b_G, unroll: int = 1):
  """One layer over a time-major sequence, from zero state; returns h_TxBxD.

  The input projection of every position is one matrix product, outside the
  loop; the loop body is h @ W_hh plus elementwise gate arithmetic.
  """
  dt = x_TxBxD.dtype
  gx_TxBxG = jnp.einsum("tbd,dg->tbg", x_TxBxD, w_ih_DxG.astype(dt)) + b_G.astype(dt)
  w_hh_DxG = w_hh_DxG.astype(dt)
  _, b, d = x_TxBxD.shape

  def step(carry, gx_BxG):
    h_BxD, c_BxD = carry
    h_BxD, c_BxD = _gates(gx_BxG + h_BxD.astype(dt) @ w_hh_DxG, c_BxD)
    return (h_BxD, c_BxD), h_BxD.astype(dt)

  zeros = jnp.zeros((b, d), jnp.float32)
  _, h_TxBxD = jax.lax.scan(step, (zeros, zeros), gx_TxBxG, unroll=unroll)
  return h_TxBxD


def pack_cudnn_weights(layers) -> jax.Array:
  """The flat float32 weight vector of jax.experimental.rnn.lstm for `layers`.

  cuDNN's layout: (W_ih, W_hh) of every layer, each [G, D] row-major, then
  (b_ih, b_hh) of every layer; b_hh is zero here.
  """
  mats, biases = [], []
  for layer in layers:
    mats += [layer.w_ih[...].T.ravel(), layer.w_hh[...].T.ravel()]
    biases += [layer.bias[...], jnp.zeros_like(layer.bias[...])]
  return jnp.concatenate(mats + biases).astype(jnp.float32)


def _stack_cudnn(x_BxTxD, layers, impl: str):
  """The whole stack in one jax.experimental.rnn call (cudnn or its reference)."""
  from jax.experimental import rnn  # pylint: disable=g-import-not-at-top
  b, t, d = x_BxTxD.shape
  n = len(layers)
  x = x_BxTxD.astype(jnp.float32)
  zeros_NxBxD = jnp.zeros((n, b, d), jnp.float32)
  lengths_B = jnp.full((b,), t, jnp.int32)
  weights = pack_cudnn_weights(layers)
  if impl == "cudnn":
    y_BxTxD, _, _ = rnn.lstm(x, zeros_NxBxD, zeros_NxBxD, weights, lengths_B,
                             input_size=d, hidden_size=d, num_layers=n,
                             dropout=0.0, bidirectional=False)
  else:
    w_ih, w_hh, b_ih, b_hh = rnn.unpack_lstm_weights(weights, d, d, n, False)
    y_BxTxD, _, _ = rnn.lstm_ref(x, zeros_NxBxD, zeros_NxBxD, w_ih, w_hh, b_ih, b_hh,
                                 lengths_B, d, d, n, 0.0, False)
  return y_BxTxD.astype(x_BxTxD.dtype)


class LSTM(LanguageModelHead, nnx.Module):
  """Embedding, n_layer LSTM layers, final LayerNorm, logits."""

  def __init__(self, shape: LSTMShape, *, rngs: nnx.Rngs):
    if shape.impl not in IMPLS:
      raise ValueError(f"model.lstm_impl={shape.impl!r} is unknown; use auto, scan or cudnn")
    self.shape = shape
    dt, pdt = jnp.dtype(shape.dtype), jnp.dtype(shape.param_dtype)
    self.embed = nnx.Embed(
        shape.padded_vocab, shape.d_model, dtype=dt, param_dtype=pdt,
        embedding_init=nnx.initializers.normal(_INIT_STD),
        embedding_metadata={"axes": ("vocab", "embed")}, rngs=rngs)
    self.layers = nnx.List([LSTMLayer(shape, rngs=rngs) for _ in range(shape.n_layer)])
    self.ln_f = nnx.LayerNorm(
        shape.d_model, epsilon=1e-5, dtype=dt, param_dtype=pdt,
        scale_metadata={"axes": ("embed",)}, bias_metadata={"axes": ("embed",)},
        rngs=rngs)
    if not shape.tie_embeddings:
      self.unembed = nnx.Linear(
          shape.d_model, shape.padded_vocab, use_bias=False, dtype=dt, param_dtype=pdt,
          kernel_init=nnx.initializers.normal(_INIT_STD),
          kernel_metadata={"axes": ("embed", "vocab")}, rngs=rngs)
    self.dropout = nnx.Dropout(shape.dropout)

  def hidden(self, tokens_BxT, rngs=None):
    """Final-LayerNorm activations; `rngs` with a `dropout` stream turns dropout on."""
    s = self.shape
    self.check_length(tokens_BxT)
    drop = lambda y: self.dropout(y, deterministic=rngs is None, rngs=rngs)
    x_BxTxD = drop(self.embed(tokens_BxT))
    impl = s.impl
    if impl == "cudnn" and jax.default_backend() != "gpu":
      impl = "scan"  # a run trained on a GPU, evaluated elsewhere: same function
    if impl != "scan":
      if rngs is not None and s.dropout > 0:
        raise ValueError(f"model.lstm_impl={impl} has no dropout; use model.lstm_impl=scan")
      return self.ln_f(_stack_cudnn(x_BxTxD, self.layers, impl))
    x_TxBxD = x_BxTxD.transpose(1, 0, 2)
    for i, layer in enumerate(self.layers):
      x_TxBxD = scan_layer(x_TxBxD, layer.w_ih[...], layer.w_hh[...], layer.bias[...],
                           s.unroll)
      if i < s.n_layer - 1:
        x_TxBxD = drop(x_TxBxD)
    return self.ln_f(x_TxBxD.transpose(1, 0, 2))
