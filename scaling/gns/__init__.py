"""Gradient noise scale (McCandlish et al. 2018) and critical batch size (Kaplan §5.1).

- `estimator`: micro-batched gradients, the unbiased |G|² and tr(Σ) estimates
  and their moving averages (what the train step uses).
- `standalone`: `estimate_noise_scale(loss_fn, params, batch)` for any loss.
- `critical_batch`: B_crit from batch-size scans, B_crit(L) = B*/L^(1/α_B)
  (numpy/scipy only: importing it does not import JAX).
- `crossing`: where a noisy learning curve crosses a loss, without shifting it.
"""

import importlib

_LAZY = {"estimate_noise_scale": "standalone", "NoiseScale": "standalone",
         "fit_bcrit_from_runs": "critical_batch"}


def __getattr__(name):
  if name in _LAZY:
    return getattr(importlib.import_module(f"scaling.gns.{_LAZY[name]}"), name)
  raise AttributeError(f"module 'scaling.gns' has no attribute {name!r}")
