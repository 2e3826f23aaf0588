"""The step at which a noisy learning curve crosses a loss, without shifting it.

A moving average in steps pulls a convex curve up (and a running minimum then
holds it there), so a target is reached late, the more so the steeper the curve
is over the window: that biased B_crit by up to ~30%. Here the curve is smoothed
by a local quadratic fit in x = ln(step) at each point of a grid in x (tricube
weights over ±`half_width` in x, widened to hold at least `MIN_ROWS` rows). A
local quadratic reproduces any curve that is locally quadratic in ln(step)
exactly, so smoothing does not move the crossing; noise only scatters it. The
fitted curve is then made non-increasing by isotonic regression (which leaves a
monotone curve unchanged) and the crossing is interpolated linearly in ln(step).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

MIN_ROWS = 6
GRID_POINTS = 400


def local_quadratic(x: np.ndarray, y: np.ndarray, grid: np.ndarray,
                    half_width: float) -> np.ndarray:
  """The local quadratic (tricube-weighted) fit of y(x), evaluated at each grid point."""
  dist = np.abs(grid[:, None] - x[None, :])
  kth = np.sort(dist, axis=1)[:, min(MIN_ROWS, len(x)) - 1]
  h = np.maximum(half_width, kth * 1.0001)[:, None]
  w = np.clip(1 - (dist / h) ** 3, 0, None) ** 3
  d = x[None, :] - grid[:, None]
  moments = [np.sum(w * d ** k, axis=1) for k in range(5)]
  rhs = [np.sum(w * d ** k * y[None, :], axis=1) for k in range(3)]
  a = np.stack([np.stack(moments[i:i + 3], axis=-1) for i in range(3)], axis=-2)
  b = np.stack(rhs, axis=-1)
  return np.linalg.solve(a + 1e-12 * np.eye(3), b[..., None])[:, 0, 0]


def smoothed_curve(steps: np.ndarray, loss: np.ndarray,
                   half_width: float) -> tuple[np.ndarray, np.ndarray]:
  """(ln-step grid, smoothed non-increasing loss on it) of one run."""
  x = np.log(np.asarray(steps, np.float64))
  y = np.asarray(loss, np.float64)
  grid = np.unique(np.r_[np.linspace(x[0], x[-1], GRID_POINTS), x[:GRID_POINTS // 4]])
  fitted = local_quadratic(x, y, grid, half_width)
  return grid, optimize.isotonic_regression(fitted, increasing=False).x


def crossing(grid: np.ndarray, curve: np.ndarray, target: float) -> tuple[str, float | None]:
  """("crossed", step), ("at_start", None) or ("not_reached", None) for a loss target."""
  if curve[0] <= target:
    return "at_start", None
  below = np.nonzero(curve <= target)[0]
  if not len(below):
    return "not_reached", None
  i = below[0]
  frac = (curve[i - 1] - target) / (curve[i - 1] - curve[i])
  return "crossed", float(np.exp(grid[i - 1] + frac * (grid[i] - grid[i - 1])))
