"""The compute frontier: lower envelope of all learning curves (Section 6).

Every curve point of a run of size N that has processed `tokens` tokens costs
C = 6*N*tokens. On a log grid of C, the frontier is the lowest loss any run
reaches at C; the compute-efficient N is the size of that run, refined by a
parabola in log N through it and its neighbours in size. Power laws are fitted
to the frontier: N_opt = N_coef*C^N_exp, D = C/(6*N_opt), S (steps) and
L(C) = (C_c/C)^alpha_C, with C in PF-days.

With batch sizes, the same is done against C_min = C/(1 + B/B_crit(L))
(eq. 5.5, B_crit(L) = B*/L^(1/alpha_B)), where B is B_crit at the frontier
loss, S_min = C_min/(6*N*B_crit) and D = 2*B_crit*S_min (the tokens of training
at B = B_crit), which is how Table 6 reports them.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from scaling.laws import fit as fitting
from scaling.laws import forms, planner
from scaling.laws.errors import LawInputError
from scaling.laws.curves import Curve


@dataclasses.dataclass
class Envelope:
  """The frontier on a grid of compute x (FLOP; C or C_min)."""
  x: np.ndarray
  loss: np.ndarray
  N: np.ndarray  # compute-efficient N (parabolic refinement)
  N_run: np.ndarray  # N of the best run
  run: list[str]
  n_covering: np.ndarray  # distinct sizes N whose curves span x
  interior: np.ndarray  # the best N is neither the smallest nor the largest
  extras: dict[str, np.ndarray]  # D, S, B, ... at the frontier

  def mask(self, min_runs: int = 2) -> np.ndarray:
    """Grid points to fit: the optimum is bracketed by smaller and larger runs
    (else, if fewer than 3 such points, where min_runs sizes compete)."""
    mask = self.interior & (self.n_covering >= max(3, min_runs))
    if mask.sum() < 3:
      mask = self.n_covering >= min_runs
    return mask if mask.sum() >= 3 else np.ones_like(mask)


def _refine(log_n: np.ndarray, loss: np.ndarray, i: int) -> float:
  """Vertex in log N of the parabola through the best run and its neighbours.

  log_n is sorted and distinct; the vertex is clipped to the neighbours.
  """
  if 0 < i < len(log_n) - 1:
    (x0, x1, x2), (y0, y1, y2) = log_n[i - 1:i + 2], loss[i - 1:i + 2]
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
    b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / denom
    if a > 0:
      return float(np.clip(-b / (2 * a), x0, x2))
  return float(log_n[i])


def envelope(xs: Sequence[np.ndarray], losses: Sequence[np.ndarray],
             ns: Sequence[float], names: Sequence[str], n_grid: int = 48,
             aux: dict[str, Sequence[np.ndarray | None]] | None = None
             ) -> Envelope:
  """Lower envelope of curves (x increasing) on a log grid of x."""
  lo = min(float(x[0]) for x in xs)
  hi = max(float(x[-1]) for x in xs)
  grid = np.geomspace(lo, hi, n_grid)
  lg = np.log(grid)
  m = len(xs)
  curves = np.full((m, n_grid), np.nan)
  for j, (x, l) in enumerate(zip(xs, losses)):
    lx = np.log(x)
    inside = (lg >= lx[0] - 1e-12) & (lg <= lx[-1] + 1e-12)
    curves[j, inside] = np.exp(np.interp(lg[inside], lx, np.log(l)))
  aux_grid = {}
  for key, arrays in (aux or {}).items():
    vals = np.full((m, n_grid), np.nan)
    for j, (x, a) in enumerate(zip(xs, arrays)):
      if a is not None:
        vals[j] = np.exp(np.interp(lg, np.log(x), np.log(a)))
    aux_grid[key] = vals
  covered = np.isfinite(curves).any(axis=0)  # gaps between runs' compute ranges
  grid, curves = grid[covered], curves[:, covered]
  aux_grid = {k: v[:, covered] for k, v in aux_grid.items()}
  n_grid = len(grid)
  order = np.argsort(np.asarray(ns, float), kind="stable")
  log_n = np.log(np.asarray(ns, float))[order]
  curves = curves[order]
  best_loss, best_n, run_n, run_name, cover, interior = [], [], [], [], [], []
  extras = {k: [] for k in aux_grid}
  for g in range(n_grid):
    col = curves[:, g]
    ok = np.flatnonzero(np.isfinite(col))
    j = ok[int(np.argmin(col[ok]))]
    # Runs of equal N (resampled duplicates, other shapes): keep the lowest.
    sizes, inv = np.unique(log_n[ok], return_inverse=True)
    lowest = np.full(len(sizes), np.inf)
    np.minimum.at(lowest, inv, col[ok])
    i = int(np.argmin(lowest))
    best_loss.append(col[j])
    best_n.append(np.exp(_refine(sizes, lowest, i)))
    run_n.append(np.exp(log_n[j]))
    run_name.append(names[order[j]])
    cover.append(len(sizes))
    interior.append(0 < i < len(sizes) - 1)
    for k, vals in aux_grid.items():
      extras[k].append(vals[order[j], g])
  return Envelope(grid, np.array(best_loss), np.array(best_n),
                  np.array(run_n), run_name, np.array(cover),
                  np.array(interior, dtype=bool),
                  {k: np.array(v) for k, v in extras.items()})


def power_fit(x_pf: np.ndarray, y: np.ndarray) -> dict[str, float]:
  """Least squares in log-log: y = coef * x^exponent (x in PF-days). A constant y
  (one run on the envelope throughout) has exponent 0 exactly, not the +-1e-16 of
  round-off whose sign would decide whether an interval's low end is above 0."""
  log_y = np.log(y)
  if len(log_y) and np.ptp(log_y) == 0:
    return {"coef": float(y[0]), "exponent": 0.0}
  exponent, log_coef = np.polyfit(np.log(x_pf), log_y, 1)
  return {"coef": float(np.exp(log_coef)), "exponent": float(exponent)}


@dataclasses.dataclass
class FrontierResult:
  envelopes: dict[str, Envelope]  # "C" and, with batch sizes, "C_min"
  allocation: dict[str, dict[str, dict[str, float]]]
  loss_fits: dict[str, fitting.FitResult]
  masks: dict[str, np.ndarray]  # grid points used in the fits
  params: dict[str, float]
  ci95: dict[str, tuple[float, float]] | None
  n_runs: int
  curves: list[Curve]
  bcrit: tuple[float | None, float | None] = (None, None)  # B*, alpha_B
  holdout: dict | None = None

  @property
  def paper(self) -> dict[str, float | None]:
    return {k: paper_value(k) for k in self.params}

  def to_dict(self) -> dict:
    main = self.loss_fits["C_min" if "C_min" in self.loss_fits else "C"]
    return {
        "law": "frontier",
        "compute_unit": "PF-days",
        "n_runs": self.n_runs,
        "params": dict(self.params),
        "ci95": ({k: [a, b] for k, (a, b) in self.ci95.items()}
                 if self.ci95 else None),
        "paper": self.paper,
        "n_points": int(self.masks["C"].sum()),
        "residuals": [float(r) for r in self.loss_fits["C"].residuals],
        "r2": float(self.loss_fits["C"].r2),
        "r2_main": float(main.r2),
        "allocation": self.allocation,
        "holdout": self.holdout,
        "loss_fit": {k: {"law": f.law.name, "params": f.params}
                     for k, f in self.loss_fits.items()},
        "frontier": {
            k: {"x_flops": e.x.tolist(), "loss": e.loss.tolist(),
                "N_opt": e.N.tolist(), "N_run": e.N_run.tolist(),
                "run": e.run, "n_covering": e.n_covering.tolist(),
                "used_in_fit": self.masks[k].tolist(),
                **{n: v.tolist() for n, v in e.extras.items()}}
            for k, e in self.envelopes.items()},
    }


def paper_value(key: str) -> float | None:
  section, name = key.split(".", 1)
  if section == "C":
    return forms.LAWS["C"].paper.get(name)
  if name in forms.LAWS["Cmin"].paper:
    return forms.LAWS["Cmin"].paper[name]
  qty, kind = name.rsplit("_", 1)
  if qty in planner.TABLE6:
    return planner.TABLE6[qty][0 if kind == "coef" else 1]
  return None


def _analyse(curves: list[Curve], n_grid: int, min_runs: int, b_star, alpha_b):
  ns = [c.N for c in curves]
  names = [c.name for c in curves]
  steps = [c.steps for c in curves]
  env_c = envelope([c.C for c in curves], [c.loss for c in curves], ns, names,
                   n_grid, aux={"S": steps})
  envs, allocation, loss_fits, masks, params = {"C": env_c}, {}, {}, {}, {}
  env_c.extras["D"] = env_c.x / (6.0 * env_c.N)
  mask = env_c.mask(min_runs)
  x_pf = env_c.x[mask] / forms.PF_DAY
  alloc = {"N": power_fit(x_pf, env_c.N[mask]),
           "D": power_fit(x_pf, env_c.extras["D"][mask])}
  if np.all(np.isfinite(env_c.extras["S"][mask])):
    alloc["S"] = power_fit(x_pf, env_c.extras["S"][mask])
  allocation["C"], masks["C"] = alloc, mask
  loss_fits["C"] = fitting.fit_law(
      "C", {"C": env_c.x[mask], "loss": env_c.loss[mask]})
  with_b = [c for c in curves if c.B]
  if len(with_b) >= 2:
    xs = []
    for c in with_b:  # eq. 5.5, kept increasing along each curve
      xs.append(np.maximum.accumulate(forms.c_min_of(
          c.C, c.B, c.loss, forms.bcrit_of_loss(c.loss, b_star, alpha_b))))
    env = envelope(xs, [c.loss for c in with_b], [c.N for c in with_b],
                   [c.name for c in with_b], n_grid)
    bc = forms.bcrit_of_loss(env.loss, b_star, alpha_b)
    env.extras.update(B=bc, S_min=env.x / (6.0 * env.N * bc),
                      D=2.0 * env.x / (6.0 * env.N))
    mask = env.mask(min_runs)
    x_pf = env.x[mask] / forms.PF_DAY
    allocation["C_min"] = {k: power_fit(x_pf, env.extras[k][mask] if k != "N"
                                        else env.N[mask])
                           for k in ("N", "B", "S_min", "D")}
    envs["C_min"], masks["C_min"] = env, mask
    loss_fits["C_min"] = fitting.fit_law(
        "Cmin", {"C_min": env.x[mask], "loss": env.loss[mask]})
  for sec, fit in loss_fits.items():
    for k, v in fit.params.items():
      params[f"{sec}.{k}"] = v
    for qty, pw in allocation[sec].items():
      params[f"{sec}.{qty}_coef"] = pw["coef"]
      params[f"{sec}.{qty}_exp"] = pw["exponent"]
  return envs, allocation, loss_fits, masks, params


def compute_frontier(curves: Sequence[Curve], n_grid: int = 48,
                     min_runs: int = 2, bootstrap: int = 0, seed: int = 0,
                     b_star: float | None = None,
                     alpha_b: float | None = None) -> FrontierResult:
  """Frontier analysis of learning curves (see the module docstring).

  min_runs: fit only grid points where at least this many curves compete.
  bootstrap: resample runs with replacement R times for 95% intervals.
  b_star, alpha_b: B_crit(L) constants for C_min (default: the paper's).
  """
  curves = list(curves)
  if len(curves) < 2:
    raise LawInputError(f"the frontier needs at least 2 runs, got "
                               f"{len(curves)}")
  envs, allocation, loss_fits, masks, params = _analyse(
      curves, n_grid, min_runs, b_star, alpha_b)
  ci = None
  if bootstrap:
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(int(bootstrap)):
      idx = rng.integers(0, len(curves), len(curves))
      if len(set(idx.tolist())) < 2:
        continue
      sub = [curves[i] for i in idx]
      try:
        p = _analyse(sub, n_grid, min_runs, b_star, alpha_b)[-1]
      except (LawInputError, np.linalg.LinAlgError, ValueError):
        continue
      samples.append([p.get(k, np.nan) for k in params])
    if samples:
      arr = np.array(samples)
      lo, hi = np.nanpercentile(arr, [2.5, 97.5], axis=0)
      ci = {k: (float(a), float(b)) for k, a, b in zip(params, lo, hi)}
  return FrontierResult(envs, allocation, loss_fits, masks, params, ci,
                        len(curves), curves, (b_star, alpha_b))


def frontier_holdout(curves: Sequence[Curve], k: int, n_grid: int = 48,
                     **kwargs) -> FrontierResult:
  """Frontier fitted without the runs of the k largest N.

  `result.holdout` compares, wherever a held-out run is on the frontier of all
  runs, the frontier loss with the L(C) law fitted on the other runs.
  """
  sizes = np.unique([c.N for c in curves])
  if k >= len(sizes) - 1:
    raise LawInputError(
        f"--holdout-largest {k} leaves fewer than 2 model sizes to fit "
        f"(the input has {len(sizes)})")
  held_n = set(sizes[-k:].tolist())
  train = [c for c in curves if c.N not in held_n]
  held = [c for c in curves if c.N in held_n]
  result = compute_frontier(train, n_grid=n_grid, **kwargs)
  full = envelope([c.C for c in curves], [c.loss for c in curves],
                  [c.N for c in curves], [c.name for c in curves], n_grid)
  held_names = {c.name for c in held}
  on = np.array([r in held_names for r in full.run])
  pred = result.loss_fits["C"].predict({"C": full.x[on]})
  obs = full.loss[on]
  log_res = np.log(pred) - np.log(obs)
  rows = [{"C": float(x), "N": float(n), "run": r, "observed": float(o),
           "predicted": float(p), "log_residual": float(lr),
           "rel_error": float(p / o - 1.0)}
          for x, n, r, o, p, lr in zip(full.x[on], full.N_run[on],
                                       np.array(full.run)[on], obs, pred,
                                       log_res)]
  result.holdout = {
      "k": k, "by": "N", "largest_first": True,
      "runs": sorted(held_names), "rows": rows,
      "mean_abs_log_residual": (float(np.mean(np.abs(log_res))) if rows
                                else None),
      "max_abs_rel_error": (float(np.max(np.abs(pred / obs - 1.0))) if rows
                            else None),
  }
  return result
