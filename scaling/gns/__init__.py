"""Gradient noise scale (McCandlish et al. 2018): the estimator.

- `estimator`: micro-batched gradients, the unbiased |G|² and tr(Σ) estimates
  and their moving averages (what the train step uses).
- `standalone`: `estimate_noise_scale(loss_fn, params, batch)` for any loss.

B_crit from batch-size scans, the fit the estimate is compared with, is in
scaling.laws.bcrit.
"""

import importlib

_LAZY = {"estimate_noise_scale": "standalone", "NoiseScale": "standalone"}


def __getattr__(name):
  if name in _LAZY:
    return getattr(importlib.import_module(f"scaling.gns.{_LAZY[name]}"), name)
  raise AttributeError(f"module 'scaling.gns' has no attribute {name!r}")
