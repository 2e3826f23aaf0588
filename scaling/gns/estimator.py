"""The gradient noise scale estimator of McCandlish et al. (2018), Appendix A.

B_simple = tr(Σ)/|G|², with G the true gradient and Σ the per-example gradient
covariance. From the squared norm of a gradient averaged over B_small examples
and of one averaged over B_big examples,
  |G|²  ≈ (B_big·|G_big|² − B_small·|G_small|²) / (B_big − B_small)
  tr(Σ) ≈ (|G_small|² − |G_big|²) / (1/B_small − 1/B_big)
both unbiased (E|G_B|² = |G|² + tr(Σ)/B). Their ratio is not, so each is
smoothed with an exponential moving average before dividing.

Here the small batches are the k micro-batches of a step (B_small = B/k, and
|G_small|² is the mean of their k squared norms) and the big batch is their
mean (B_big = B). The same micro-batching is the gradient accumulation of the
train step: a `jax.lax.scan` keeps one micro-batch's activations in memory.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp


def split_microbatches(batch, k: int, sharding=None):
  """[B, ...] leaves -> [k, B/k, ...]; micro-batch i holds rows i, i+k, i+2k, ...

  Strided rows keep a batch sharded in contiguous blocks over data-parallel
  devices evenly sharded in every micro-batch (k must divide the per-device
  batch). `sharding`, if given, is applied to the [k, B/k, ...] result.
  """
  def one(x):
    if x.shape[0] % k:
      raise ValueError(f"micro-batches: k={k} does not divide the batch of {x.shape[0]}")
    x = jnp.swapaxes(x.reshape(x.shape[0] // k, k, *x.shape[1:]), 0, 1)
    return x if sharding is None else jax.lax.with_sharding_constraint(x, sharding)
  return jax.tree.map(one, batch)


def squared_norm(tree) -> jax.Array:
  """Σ of squares of every leaf, in float32."""
  return sum(jnp.sum(jnp.square(x.astype(jnp.float32))) for x in jax.tree.leaves(tree))


def accumulate_gradients(loss_fn: Callable, params, batch, k: int, *, sharding=None):
  """Mean loss and gradient over k micro-batches, and the two squared norms.

  loss_fn(params, microbatch, i) -> scalar mean loss of micro-batch i. With
  equal micro-batches the mean of their gradients is the gradient of the whole
  batch's mean loss. Returns (loss, grads, {"g2_small", "g2_big"}): g2_small is
  the mean over micro-batches of |g_i|², g2_big = |mean_i g_i|².
  """
  micro = split_microbatches(batch, k, sharding)
  grad_fn = jax.value_and_grad(loss_fn)

  def body(carry, xs):
    loss_sum, grad_sum, sq_sum = carry
    i, mb = xs
    loss, g = grad_fn(params, mb, i)
    grad_sum = jax.tree.map(lambda a, b: a + b.astype(jnp.float32), grad_sum, g)
    return (loss_sum + loss, grad_sum, sq_sum + squared_norm(g)), None

  zeros = jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params)
  init = (jnp.zeros((), jnp.float32), zeros, jnp.zeros((), jnp.float32))
  (loss_sum, grad_sum, sq_sum), _ = jax.lax.scan(body, init, (jnp.arange(k), micro))
  grads = jax.tree.map(lambda s, p: (s / k).astype(p.dtype), grad_sum, params)
  return loss_sum / k, grads, {"g2_small": sq_sum / k, "g2_big": squared_norm(grads)}


def unbiased_estimates(g2_small, g2_big, b_small, b_big):
  """(|G|², tr(Σ)) from |G_small|² and |G_big|² (McCandlish et al. eqs. A.2, A.3)."""
  g2 = (b_big * g2_big - b_small * g2_small) / (b_big - b_small)
  trace_sigma = (g2_small - g2_big) / (1.0 / b_small - 1.0 / b_big)
  return g2, trace_sigma


def ema_init() -> dict:
  """Moving averages of |G|² and tr(Σ); `weight` = 1 − decay^n undoes the zero start."""
  z = jnp.zeros((), jnp.float32)
  return {"g2": z, "trace_sigma": z, "weight": z}


def ema_update(ema: dict, g2, trace_sigma, decay: float) -> dict:
  mix = lambda old, new: decay * old + (1.0 - decay) * jnp.asarray(new, jnp.float32)
  return {"g2": mix(ema["g2"], g2), "trace_sigma": mix(ema["trace_sigma"], trace_sigma),
          "weight": mix(ema["weight"], 1.0)}


def ema_values(ema: dict) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Bias-corrected (|G|², tr(Σ), B_simple = tr(Σ)/|G|²) of the moving averages."""
  w = jnp.maximum(ema["weight"], 1e-12)
  g2, trace_sigma = ema["g2"] / w, ema["trace_sigma"] / w
  return g2, trace_sigma, trace_sigma / g2


def step_update(ema: dict, stats: dict, b_big: int, k: int, decay: float,
                tokens_per_example: int):
  """The train step's part: new moving averages and the `gns_*` metrics."""
  b_small = b_big // k
  g2_raw, tr_raw = unbiased_estimates(stats["g2_small"], stats["g2_big"], b_small, b_big)
  ema = ema_update(ema, g2_raw, tr_raw, decay)
  g2, trace_sigma, b_simple = ema_values(ema)
  metrics = {"gns_b_simple": b_simple, "gns_b_simple_tokens": b_simple * tokens_per_example,
             "gns_g2": g2, "gns_trace_sigma": trace_sigma,
             "gns_g2_raw": g2_raw, "gns_trace_sigma_raw": tr_raw}
  return ema, metrics
