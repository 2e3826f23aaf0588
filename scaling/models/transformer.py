"""Decoder-only Transformer in Flax NNX, in the paper's notation.

Dimensions: B batch, T positions (<= n_ctx), D d_model, A d_attn, H n_heads,
K = A/H head size, F d_ff, V padded vocabulary. Tensor names carry their shape
(`x_BxTxD`). Every parameter carries its logical axes as metadata (`axes`), which
`scaling.sharding` maps onto mesh axes.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

from scaling.models.head import LanguageModelHead

from scaling.sharding import constrain

_INIT_STD = 0.02
_RESIDUAL = ("batch", "act_length", "act_embed")  # logical axes of x_BxTxD


@dataclasses.dataclass(frozen=True)
class TransformerShape:
  """The architecture hyper-parameters of Kaplan et al. Section 2."""

  n_layer: int
  d_model: int
  d_ff: int
  d_attn: int
  n_heads: int
  n_ctx: int
  vocab_size: int          # tokens the vocabulary really has
  padded_vocab: int        # embedding rows: vocab_size rounded up (multiple of 128)
  dtype: str = "float32"   # compute dtype
  param_dtype: str = "float32"
  attention: str = "xla"   # jax.nn.dot_product_attention implementation
  share_layers: bool = False
  tie_embeddings: bool = True
  dropout: float = 0.0
  scan_layers: bool = False  # blocks stacked and applied with a scan: compile time flat in depth
  remat: str = "none"        # "block": recompute each block's activations in the backward pass


def _normal(std):
  return nnx.initializers.normal(stddev=std)


def _dense(d_in, d_out, axes, std, shape: TransformerShape, rngs):
  return nnx.Linear(
      d_in, d_out, use_bias=True, dtype=jnp.dtype(shape.dtype),
      param_dtype=jnp.dtype(shape.param_dtype), kernel_init=_normal(std),
      kernel_metadata={"axes": axes}, bias_metadata={"axes": axes[1:]},
      rngs=rngs)


def _layer_norm(shape: TransformerShape, rngs):
  return nnx.LayerNorm(
      shape.d_model, epsilon=1e-5, dtype=jnp.dtype(shape.dtype),
      param_dtype=jnp.dtype(shape.param_dtype),
      scale_metadata={"axes": ("embed",)}, bias_metadata={"axes": ("embed",)},
      rngs=rngs)


class Block(nnx.Module):
  """Pre-LayerNorm block: x + Attn(LN(x)); x + MLP(LN(x))."""

  def __init__(self, shape: TransformerShape, *, rngs: nnx.Rngs):
    self.shape = shape
    resid_std = _INIT_STD / math.sqrt(2 * shape.n_layer)
    self.ln_attn = _layer_norm(shape, rngs)
    self.qkv = _dense(shape.d_model, 3 * shape.d_attn, ("embed", "heads"),
                      _INIT_STD, shape, rngs)
    self.attn_out = _dense(shape.d_attn, shape.d_model, ("heads", "embed"),
                           resid_std, shape, rngs)
    self.ln_mlp = _layer_norm(shape, rngs)
    self.mlp_in = _dense(shape.d_model, shape.d_ff, ("embed", "mlp"),
                         _INIT_STD, shape, rngs)
    self.mlp_out = _dense(shape.d_ff, shape.d_model, ("mlp", "embed"),
                          resid_std, shape, rngs)
    self.dropout = nnx.Dropout(shape.dropout)

  def attention(self, x_BxTxD):
    s = self.shape
    b, t, _ = x_BxTxD.shape
    k_size = s.d_attn // s.n_heads
    qkv_BxTx3A = self.qkv(x_BxTxD)
    qkv_BxTx3xHxK = qkv_BxTx3A.reshape(b, t, 3, s.n_heads, k_size)
    q_BxTxHxK, k_BxTxHxK, v_BxTxHxK = (qkv_BxTx3xHxK[:, :, i] for i in range(3))
    out_BxTxHxK = jax.nn.dot_product_attention(
        q_BxTxHxK, k_BxTxHxK, v_BxTxHxK, is_causal=True,
        implementation=None if s.attention == "auto" else s.attention)
    return self.attn_out(out_BxTxHxK.reshape(b, t, s.d_attn))

  def __call__(self, x_BxTxD, rngs=None):
    drop = lambda y: self.dropout(y, deterministic=rngs is None, rngs=rngs)
    x_BxTxD = x_BxTxD + drop(self.attention(self.ln_attn(x_BxTxD)))
    h_BxTxF = jax.nn.gelu(self.mlp_in(self.ln_mlp(x_BxTxD)))
    return x_BxTxD + drop(self.mlp_out(h_BxTxF))


def _stacked(blocks: list[Block]) -> Block:
  """One Block whose parameters stack those of `blocks` on a leading axis.

  The blocks are initialised one by one exactly as the unrolled model does,
  so the same seed gives the same weights with and without scan_layers.
  """
  states = [nnx.state(block) for block in blocks]
  stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *states)
  return nnx.merge(nnx.graphdef(blocks[0]), stacked)


def _apply_block(block: Block, x_BxTxD, rngs):
  return block(constrain(x_BxTxD, _RESIDUAL), rngs)


class Transformer(LanguageModelHead, nnx.Module):
  """Token + learned position embeddings, n_layer blocks, final LN, logits."""

  def __init__(self, shape: TransformerShape, *, rngs: nnx.Rngs):
    self.shape = shape
    pdt = jnp.dtype(shape.param_dtype)
    self.embed = nnx.Embed(
        shape.padded_vocab, shape.d_model, dtype=jnp.dtype(shape.dtype),
        param_dtype=pdt, embedding_init=_normal(_INIT_STD),
        embedding_metadata={"axes": ("vocab", "embed")}, rngs=rngs)
    self.pos_embed = nnx.Param(
        _normal(_INIT_STD / 2)(rngs.params(), (shape.n_ctx, shape.d_model), pdt),
        axes=(None, "embed"))
    n_blocks = 1 if shape.share_layers else shape.n_layer
    blocks = [Block(shape, rngs=rngs) for _ in range(n_blocks)]
    if shape.scan_layers and not shape.share_layers:
      self.blocks = _stacked(blocks)  # every parameter gets a leading n_layer axis
    else:
      self.blocks = nnx.List(blocks)
    self.ln_f = _layer_norm(shape, rngs)
    if not shape.tie_embeddings:
      self.unembed = nnx.Linear(
          shape.d_model, shape.padded_vocab, use_bias=False,
          dtype=jnp.dtype(shape.dtype), param_dtype=pdt,
          kernel_init=_normal(_INIT_STD),
          kernel_metadata={"axes": ("embed", "vocab")}, rngs=rngs)
    self.dropout = nnx.Dropout(shape.dropout)

  def hidden(self, tokens_BxT, rngs=None):
    """Final-LayerNorm activations, before the logits.

    `rngs` (an nnx.Rngs with a `dropout` stream) turns dropout on; without it
    the model is deterministic.
    """
    s = self.shape
    t = self.check_length(tokens_BxT)
    x_BxTxD = self.embed(tokens_BxT)
    x_BxTxD = x_BxTxD + self.pos_embed[...][:t].astype(x_BxTxD.dtype)
    x_BxTxD = self.dropout(x_BxTxD, deterministic=rngs is None, rngs=rngs)
    apply = _apply_block if s.remat == "none" else nnx.remat(_apply_block)
    # one dropout key per layer, the same ones with and without scan
    keys = jax.random.split(rngs.dropout(), s.n_layer) if rngs is not None else None
    if s.scan_layers and not s.share_layers:
      x_BxTxD = self._scan_blocks(x_BxTxD, keys, apply)
    else:
      for i in range(s.n_layer):
        layer_rngs = nnx.Rngs(dropout=keys[i]) if keys is not None else None
        x_BxTxD = apply(self.blocks[0 if s.share_layers else i], x_BxTxD, layer_rngs)
    return self.ln_f(x_BxTxD)

  def _scan_blocks(self, x_BxTxD, keys, apply):
    @nnx.scan(in_axes=(nnx.Carry, 0, 0 if keys is not None else None), out_axes=nnx.Carry)
    def body(x_BxTxD, block, key):
      return apply(block, x_BxTxD, nnx.Rngs(dropout=key) if key is not None else None)

    return body(x_BxTxD, self.blocks, keys)
