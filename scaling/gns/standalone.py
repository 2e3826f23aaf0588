"""B_simple for any loss function, parameters and batch, outside the trainer.

  import jax.numpy as jnp
  from scaling.gns import estimate_noise_scale

  def loss_fn(w, batch):                       # mean loss over the batch's examples
    return 0.5 * jnp.mean((batch["x"] @ w - batch["y"]) ** 2)

  ns = estimate_noise_scale(loss_fn, w, batch, microbatches=8)
  ns.b_simple, ns.g2, ns.trace_sigma

`batch` is a pytree whose leaves share a leading example axis, or a list of
such batches: then |G|² and tr(Σ) are averaged over them (each estimate is
unbiased) before their ratio is taken, which is how to get a precise value.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Sequence

import jax
import numpy as np

from scaling.gns.estimator import accumulate_gradients, unbiased_estimates


@dataclasses.dataclass(frozen=True)
class NoiseScale:
  b_simple: float       # tr(Σ)/|G|², in examples
  g2: float             # unbiased |G|²
  trace_sigma: float    # unbiased tr(Σ), per example
  b_small: int          # examples per micro-batch
  b_big: int            # examples per batch
  n_batches: int        # batches averaged over


@functools.partial(jax.jit, static_argnums=(0, 3))
def _norms(loss_fn, params, batch, k):
  _, _, stats = accumulate_gradients(lambda p, mb, i: loss_fn(p, mb), params, batch, k)
  return stats["g2_small"], stats["g2_big"]


def _batch_size(batch) -> int:
  sizes = {x.shape[0] for x in jax.tree.leaves(batch)}
  if len(sizes) != 1:
    raise ValueError(f"batch leaves have different leading sizes {sorted(sizes)}; "
                     "every leaf needs the same example axis")
  return sizes.pop()


def estimate_noise_scale(loss_fn: Callable, params, batch, microbatches: int | None = None
                         ) -> NoiseScale:
  """Estimates B_simple = tr(Σ)/|G|² of `loss_fn` at `params`.

  loss_fn(params, batch) -> the scalar mean loss over the batch's examples.
  microbatches: k small batches of B/k examples per batch (k >= 2, dividing B);
  None: one example each (k = B), the most precise choice for one batch.
  """
  batches = list(batch) if isinstance(batch, (list, tuple)) else [batch]
  if not batches:
    raise ValueError("batch: give a batch or a non-empty list of batches")
  b_big = _batch_size(batches[0])
  k = b_big if microbatches is None else microbatches
  if k < 2:
    raise ValueError(f"microbatches={k}: one micro-batch cannot estimate noise; use k >= 2")
  if b_big % k:
    raise ValueError(f"microbatches={k} does not divide the batch of {b_big} examples; "
                     f"choose a divisor of {b_big}")
  g2s, trs = [], []
  for one in batches:
    if _batch_size(one) != b_big:
      raise ValueError(f"batches have different sizes ({_batch_size(one)} and {b_big}); "
                       "give batches of one size")
    g2_small, g2_big = _norms(loss_fn, params, one, k)
    g2, tr = unbiased_estimates(float(g2_small), float(g2_big), b_big // k, b_big)
    g2s.append(g2)
    trs.append(tr)
  g2, tr = float(np.mean(g2s)), float(np.mean(trs))
  return NoiseScale(b_simple=tr / g2 if g2 else float("inf"), g2=g2, trace_sigma=tr,
                    b_small=b_big // k, b_big=b_big, n_batches=len(batches))
