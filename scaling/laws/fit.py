"""Robust log-space fitting of a law, bootstrap intervals and holdout checks.

As in Chinchilla's approach 3: minimise the Huber loss (delta = 1e-3) of the
log residuals r = log(predicted) - log(observed) with L-BFGS-B, starting from
the best points of a grid (plus a data-driven guess); positive constants are
optimised through their logarithms. Confidence intervals resample rows with
replacement and refit (95% percentile interval).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any, Mapping

import numpy as np
from scipy import optimize

from scaling.laws import blas, forms, tables
from scaling.laws.errors import LawInputError

HUBER_DELTA = 1e-3
_LOG_BOUNDS = (-60.0, 110.0)  # natural values from ~1e-26 to ~1e47


def huber(r: np.ndarray, delta: float = HUBER_DELTA) -> np.ndarray:
  a = np.abs(r)
  return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


# ----------------------------------------------------------------------------
# Parameter vectors.

def to_theta(law: forms.Law, params: Mapping[str, float]) -> np.ndarray:
  return np.array([math.log(params[p.name]) if p.positive else params[p.name]
                   for p in law.params], dtype=float)


def from_theta(law: forms.Law, theta: np.ndarray) -> dict[str, float]:
  return {p.name: float(math.exp(t) if p.positive else t)
          for p, t in zip(law.params, theta)}


def _valid_start(law: forms.Law, params: Mapping[str, float] | None) -> bool:
  if not params or set(params) != set(law.param_names):
    return False
  for p in law.params:
    v = params[p.name]
    if not np.isfinite(v) or (p.positive and v <= 0):
      return False
  return True


class _Objective:
  """Mean Huber loss / delta of the log residuals, with its gradient."""

  def __init__(self, law: forms.Law, cols, log_y: np.ndarray,
               delta: float = HUBER_DELTA):
    self.law, self.cols, self.log_y, self.delta = law, cols, log_y, delta
    self.n = len(log_y)

  def residuals(self, theta: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
      return self.law.log_fn(from_theta(self.law, theta), self.cols) - self.log_y

  def value(self, theta: np.ndarray) -> float:
    r = self.residuals(theta)
    r = np.where(np.isfinite(r), r, 1e3)
    return float(huber(r, self.delta).sum() / (self.delta * self.n))

  def value_and_grad(self, theta: np.ndarray):
    r = self.residuals(theta)
    ok = np.isfinite(r)
    r = np.where(ok, r, 1e3)
    f = huber(r, self.delta).sum() / (self.delta * self.n)
    psi = np.where(ok, np.clip(r, -self.delta, self.delta), 0.0)
    grad = np.zeros_like(theta)
    for j, p in enumerate(self.law.params):
      h = 1e-6 * max(abs(theta[j]), 1.0 if p.positive else 1e-12)
      tp, tm = theta.copy(), theta.copy()
      tp[j] += h
      tm[j] -= h
      dr = (self.residuals(tp) - self.residuals(tm)) / (2 * h)
      grad[j] = np.sum(np.where(np.isfinite(dr), dr, 0.0) * psi)
    return float(f), grad / (self.delta * self.n)


def _bounds(law: forms.Law):
  return [_LOG_BOUNDS if p.positive else (None, None) for p in law.params]


def _minimise(obj: _Objective, theta0: np.ndarray):
  res = optimize.minimize(obj.value_and_grad, theta0, jac=True,
                          method="L-BFGS-B", bounds=_bounds(obj.law),
                          options={"maxiter": 2000, "ftol": 1e-15,
                                   "gtol": 1e-10, "maxcor": 20})
  return res.x, float(res.fun), bool(res.success)


def _starts(law: forms.Law, cols, y: np.ndarray) -> list[np.ndarray]:
  """The data-driven guess (if any, first) and every grid point."""
  starts = []
  if law.init is not None:
    try:
      guess = law.init(cols, y)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError):
      guess = None
    if _valid_start(law, guess):
      starts.append(to_theta(law, guess))
  for values in itertools.product(*(p.grid for p in law.params)):
    starts.append(to_theta(law, dict(zip(law.param_names, values))))
  return starts


def _fit_arrays(law: forms.Law, cols, y: np.ndarray, n_starts: int = 6,
                starts: list[np.ndarray] | None = None):
  """Best (theta, objective, converged) over the most promising starts."""
  obj = _Objective(law, cols, np.log(y))
  if starts is None:
    cands = _starts(law, cols, y)
    n_grid = int(np.prod([len(p.grid) for p in law.params]))
    vals = np.array([obj.value(t) for t in cands])
    order = list(np.argsort(vals, kind="stable")[:n_starts])
    if len(cands) > n_grid and 0 not in order:
      order.append(0)  # always try the data-driven guess
    starts = [cands[i] for i in order]
  best = None
  for theta0 in starts:
    theta, f, ok = _minimise(obj, theta0)
    if best is None or f < best[1]:
      best = (theta, f, ok)
  theta, f, ok = best
  theta2, f2, ok2 = _minimise(obj, theta)  # restart L-BFGS memory once
  # Line searches can stop "abnormally" at the kinks of a tiny-delta Huber
  # loss; a restart that gains nothing means the point is stationary.
  ok = ok or ok2 or f - f2 <= 1e-9 * max(1.0, abs(f))
  if f2 <= f:
    theta, f = theta2, f2
  return theta, f, ok


# ----------------------------------------------------------------------------
# Results.

@dataclasses.dataclass
class FitResult:
  """A fitted law. `residuals` are log(predicted) - log(observed)."""
  law: forms.Law
  params: dict[str, float]
  ci95: dict[str, tuple[float, float]] | None
  n_points: int
  residuals: np.ndarray
  r2: float
  objective: float
  converged: bool
  table: tables.Table
  bootstrap_params: np.ndarray | None = None
  holdout: dict | None = None
  heldout_table: tables.Table | None = None

  def predict(self, columns: Mapping[str, Any]) -> np.ndarray:
    return self.law.predict(self.params, columns)

  def to_dict(self) -> dict:
    return {
        "law": self.law.name,
        "formula": self.law.formula,
        "target": self.law.target,
        "params": dict(self.params),
        "ci95": ({k: [float(a), float(b)] for k, (a, b) in self.ci95.items()}
                 if self.ci95 else None),
        "paper": self.law.paper,
        "n_points": self.n_points,
        "residuals": [float(r) for r in self.residuals],
        "r2": float(self.r2),
        "rms_log_residual": float(np.sqrt(np.mean(self.residuals ** 2))),
        "huber_delta": HUBER_DELTA,
        "objective": self.objective,
        "converged": self.converged,
        "bootstrap": (0 if self.bootstrap_params is None
                      else int(len(self.bootstrap_params))),
        "holdout": self.holdout,
        "source": self.table.source,
        "notes": list(self.table.notes),
    }


def _r2_log(log_y: np.ndarray, residuals: np.ndarray) -> float:
  ss_tot = float(np.sum((log_y - log_y.mean()) ** 2))
  ss_res = float(np.sum(residuals ** 2))
  return 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")


def split_largest(law: forms.Law, table: tables.Table, k: int):
  """(train, held-out) where held-out holds the k largest models.

  Models are the distinct values of the law's size column (N; C for C laws, D
  for D, C_min for Cmin, T for position; the lowest loss for B_crit(L)).
  """
  key = table[law.size_key]
  values = np.unique(key)
  if k >= len(values):
    raise LawInputError(
        f"--holdout-largest {k} leaves nothing to fit: the input has only "
        f"{len(values)} distinct {law.size_key} value(s)")
  held_values = values[-k:] if law.largest_first else values[:k]
  held = np.isin(key, held_values)
  return table.subset(~held), table.subset(held)


def prediction_interval(law: forms.Law, boot: np.ndarray, columns,
                        level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
  """(low, high): the central `level` interval of the predictions that the
  bootstrap parameter rows `boot` make at `columns` (resamples whose fit
  predicts nothing finite there are left out)."""
  preds = np.array([law.predict(dict(zip(law.param_names, b)), columns) for b in boot])
  preds = np.where(np.isfinite(preds), preds, np.nan)
  tail = 50.0 * (1.0 - level)
  with np.errstate(all="ignore"):
    lo, hi = np.nanpercentile(preds, [tail, 100.0 - tail], axis=0)
  return lo, hi


def holdout_report(law: forms.Law, params: Mapping[str, float],
                   held: tables.Table, k: int, boot: np.ndarray | None = None) -> dict:
  """Predicted against observed targets of the held-out rows; with bootstrap
  parameter rows `boot`, each prediction's 95% interval (predicted_lo,
  predicted_hi) and whether the observation fell `inside` it."""
  pred = law.predict(params, held.columns)
  obs = held[law.target]
  log_res = np.log(pred) - np.log(obs)
  order = np.argsort(held[law.size_key])
  lo, hi = (None, None) if boot is None or not len(boot) else \
      prediction_interval(law, boot, held.columns)
  rows = []
  for i in order:
    row = {c: float(held[c][i]) for c in law.inputs}
    row.update(observed=float(obs[i]), predicted=float(pred[i]),
               log_residual=float(log_res[i]),
               rel_error=float(pred[i] / obs[i] - 1.0))
    if lo is not None:
      row.update(predicted_lo=float(lo[i]), predicted_hi=float(hi[i]),
                 inside=bool(lo[i] <= obs[i] <= hi[i]))
    rows.append(row)
  return {"k": k, "by": law.size_key,
          "largest_first": law.largest_first,
          "rows": rows,
          "mean_abs_log_residual": float(np.mean(np.abs(log_res))),
          "max_abs_rel_error": float(np.max(np.abs(pred / obs - 1.0)))}


def fit_law(law: forms.Law | str, table, bootstrap: int = 0, seed: int = 0,
            holdout_largest: int = 0, n_starts: int = 6, bcrit_law=None) -> FitResult:
  """Fits `law` to `table` (path, Table, column mapping or row dicts).

  bootstrap: number of row resamples for the 95% intervals (0: none).
  holdout_largest: fit without the K largest models and report their
  predicted vs observed targets in `result.holdout`.
  bcrit_law: (B*, alpha_B) for derived C_min / S_min (default: the paper's).
  """
  with blas.single_threaded():
    return _fit_law(law, table, bootstrap, seed, holdout_largest, n_starts, bcrit_law)


def _fit_law(law, table, bootstrap, seed, holdout_largest, n_starts, bcrit_law):
  if isinstance(law, str):
    try:
      law = forms.get_law(law)
    except KeyError as e:
      raise LawInputError(e.args[0])
  table = tables.as_table(table, law, bcrit_law=bcrit_law)
  tables.check_enough(table, law)
  held = None
  if holdout_largest:
    table, held = split_largest(law, table, int(holdout_largest))
    tables.check_enough(table, law, "input left after the holdout")
  cols = {c: table[c] for c in law.inputs}
  y = table[law.target]
  theta, f, ok = _fit_arrays(law, cols, y, n_starts=n_starts)
  params = from_theta(law, theta)
  residuals = law.log_predict(params, cols) - np.log(y)
  if not np.all(np.isfinite(residuals)):
    raise LawInputError(f"the {law.name} fit failed (non-finite "
                               "predictions); check the input values")

  boot, ci = None, None
  if bootstrap:
    rng = np.random.default_rng(seed)
    n, samples = len(y), []
    for _ in range(int(bootstrap)):
      idx = rng.integers(0, n, n)
      sub = {c: v[idx] for c, v in cols.items()}
      t, _, _ = _fit_arrays(law, sub, y[idx], starts=[theta])
      samples.append(list(from_theta(law, t).values()))
    boot = np.array(samples)
    lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
    ci = {name: (float(a), float(b))
          for name, a, b in zip(law.param_names, lo, hi)}

  result = FitResult(law, params, ci, len(y), residuals,
                     _r2_log(np.log(y), residuals), f, ok, table, boot)
  if held is not None:
    result.holdout = holdout_report(law, params, held, int(holdout_largest), boot)
    result.heldout_table = held
  return result
