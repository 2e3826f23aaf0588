"""Per-position loss: the law L(T) = a + b·T^(−c) and comparisons of curves.

A per-position curve is the mean evaluation loss (nats/token) at context
positions T = 1..n_ctx, as in `summary.json`'s `per_position_loss` and
`per_position_loss.json`. The fit is scaling.laws' `position` law (robust
log-space fit, bootstrap 95% intervals); this module only adapts a curve to
it. The comparisons are what the Transformer-vs-LSTM experiment (Fig. 7)
reports. Pure numpy; importing it does not import JAX.
"""

from __future__ import annotations

import numpy as np

from scaling.laws.errors import LawInputError


class PositionFitError(LawInputError):
  """A curve that cannot be fitted; the message says why."""


def _curve(per_position_loss) -> np.ndarray:
  y = np.asarray(per_position_loss, dtype=float).ravel()
  if y.size < 4 or not np.all(np.isfinite(y)) or np.any(y <= 0):
    raise PositionFitError(
        f"per_position_loss needs at least 4 finite positive values (got {y.size}); "
        "evaluate a run with data.seq_len >= 4")
  return y


def fit(per_position_loss, *, bootstrap: int = 200, seed: int = 0,
        t_min: int = 1) -> dict:
  """Fits L(T) = a + b·T^(−c) to positions t_min..n_ctx of a curve.

  Returns {"a", "b", "c", "ci95": {name: (lo, hi)} or None, "r2", "n_points",
  "t_min"}; `bootstrap` resamples positions for the intervals (0: none).
  """
  from scaling.laws.fit import fit_law  # pylint: disable=g-import-not-at-top
  y = _curve(per_position_loss)
  t = np.arange(1, y.size + 1, dtype=float)
  keep = t >= t_min
  result = fit_law("position", {"T": t[keep], "loss": y[keep]},
                   bootstrap=bootstrap, seed=seed)
  return {**{k: float(v) for k, v in result.params.items()},
          "ci95": ({k: (float(lo), float(hi)) for k, (lo, hi) in result.ci95.items()}
                   if result.ci95 else None),
          "r2": float(result.r2), "n_points": int(result.n_points), "t_min": int(t_min)}


def smooth(per_position_loss) -> np.ndarray:
  """A running mean whose window grows with T (T ± T/4, about half an octave).

  Single positions late in the context are noisy (each averages only the
  evaluation sequences); a window that widens with T keeps the steep start
  sharp and averages many positions where the curve is flat.
  """
  y = np.asarray(per_position_loss, dtype=float)
  csum = np.concatenate([[0.0], np.cumsum(y)])
  out = np.empty_like(y)
  for i in range(y.size):
    half = (i + 1) // 4
    lo, hi = max(0, i - half), min(y.size, i + half + 1)
    out[i] = (csum[hi] - csum[lo]) / (hi - lo)
  return out


def plateau(per_position_loss) -> float:
  """The mean loss over the last quarter of the context."""
  y = np.asarray(per_position_loss, dtype=float)
  return float(np.mean(y[-max(1, y.size // 4):]))


def flattening_position(per_position_loss, tol: float = 0.02) -> int:
  """The first position T where the smoothed curve is within `tol` of its plateau.

  The plateau is the mean over the last quarter of the context: from T on,
  the rest of the context is worth less than about `tol` nats per token.
  """
  s = smooth(per_position_loss)
  return int(np.flatnonzero(s <= plateau(per_position_loss) + tol)[0]) + 1


def late_gain(per_position_loss, start: int) -> float:
  """How much the smoothed loss still falls from position `start` to the end."""
  s = smooth(per_position_loss)
  return float(s[start - 1] - s[-1])


def falls_behind_position(lstm_loss, transformer_loss, tol: float = 0.02) -> int | None:
  """The first position T after which the LSTM's smoothed loss stays more than
  `tol` nats above the Transformer's; None if it never does."""
  gap = smooth(lstm_loss) - smooth(transformer_loss)
  behind = gap > tol
  if not behind[-1]:
    return None
  ahead = np.flatnonzero(~behind)
  return int(ahead[-1]) + 2 if ahead.size else 1
