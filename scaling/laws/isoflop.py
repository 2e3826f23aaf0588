"""IsoFLOP profiles (Hoffmann et al. 2022, approach 2).

Runs are grouped by compute budget; at each budget the final loss is fitted
with a parabola in x = ln N, L = a·x² + b·x + c, whose vertex is N_opt(C).
D_opt and the budget's C at the vertex come from straight lines of ln D and
ln C against ln N through the budget's runs (exact for C = 6·N·D, where ln C
is flat and ln D = ln C − ln 6 − ln N). Across budgets, least squares in
log-log give N_opt = N_coef·C^N_exp and D_opt = D_coef·C^D_exp (C in
PF-days). Intervals: a residual bootstrap (the residuals of all budgets,
pooled and scaled by sqrt(n/(n − 3·budgets)), resampled onto each fitted
parabola, every budget refitted).

A budget whose profile is not convex, or whose minimum lies outside its
sizes (an extrapolation, not a measurement), is left out with a note; at
least 2 must remain.

The budget of a run is its `budget` column, else the C<mantissa>e<exponent>_
prefix of its name (experiments/isoflop.py), else runs are grouped by C
(consecutive runs within a factor 1.5 of the group's first).
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np

from scaling import figures as figlib
from scaling.laws import counting, forms, readers
from scaling.laws.errors import LawInputError

_BUDGET = re.compile(r"^C(\d+(?:\.\d+)?)e(\d+)_")
GROUP_FACTOR = 1.5


def budget_of(row) -> float | None:
  """The nominal budget (FLOP) of a run: `budget` column or C<m>e<x>_ name prefix."""
  b = readers.pick(row, ("budget", "C_budget"))
  if b is not None:
    return float(b)
  m = _BUDGET.match(str(row.get("name", row.get("run", ""))))
  return float(f"{m.group(1)}e{m.group(2)}") if m else None


@dataclasses.dataclass
class Profile:
  """One budget's runs and the parabola through them."""
  budget: float
  names: list[str]
  N: np.ndarray
  D: np.ndarray
  C: np.ndarray
  loss: np.ndarray
  coef: np.ndarray  # a, b, c of L = a·x² + b·x + c, x = ln N
  n_opt: float
  d_opt: float
  c_opt: float
  loss_opt: float
  n_opt_ci: tuple[float, float] | None = None

  @property
  def interior(self) -> bool:
    return bool(self.N.min() <= self.n_opt <= self.N.max())

  def to_dict(self) -> dict:
    return {"budget": self.budget, "runs": self.names, "N": self.N.tolist(),
            "D": self.D.tolist(), "C": self.C.tolist(), "loss": self.loss.tolist(),
            "parabola": self.coef.tolist(), "N_opt": self.n_opt, "D_opt": self.d_opt,
            "C_opt": self.c_opt, "loss_opt": self.loss_opt,
            "N_opt_ci95": list(self.n_opt_ci) if self.n_opt_ci else None,
            "interior": self.interior}


@dataclasses.dataclass
class IsoflopResult:
  profiles: list[Profile]
  allocation: dict[str, dict[str, float]]  # N, D: coef, exponent (C in PF-days)
  ci95: dict[str, tuple[float, float]] | None
  count: str
  n_runs: int
  bootstrap: int = 0
  left_out: list[str] = dataclasses.field(default_factory=list)  # budgets not fitted, why

  @property
  def params(self) -> dict[str, float]:
    return {f"{q}_{k[:3] if k == 'exponent' else k}": v[k]
            for q, v in self.allocation.items() for k in ("exponent", "coef")}

  def to_dict(self) -> dict:
    return {"law": "isoflop", "compute_unit": "PF-days", "count": self.count,
            "n_runs": self.n_runs, "params": self.params,
            "ci95": {k: list(v) for k, v in self.ci95.items()} if self.ci95 else None,
            "paper": {"N_exp": 0.49, "D_exp": 0.51}, "bootstrap": self.bootstrap,
            "allocation": {"C": self.allocation}, "left_out": self.left_out,
            "profiles": [p.to_dict() for p in self.profiles]}


def _points(rows, base, count):
  conv = counting.get(count)
  out = []
  for r in counting.count_rows(rows, conv, base):
    n = readers.pick(r, ("N", "n_params_nonembedding"))
    d = readers.pick(r, ("D", "tokens_seen", "tokens"))
    loss = readers.pick(r, ("loss", "val_loss"))
    if n is None or d is None or loss is None:
      raise LawInputError(f"run {r.get('name', r.get('run', '?'))!r} lacks N, D (tokens_seen) "
                          "or loss (val_loss); IsoFLOP profiles need all three")
    c = readers.pick(r, ("C", "compute_flops"))
    c = float(c) if c is not None else 6.0 * float(n) * float(d)
    out.append({"name": str(r.get("name", r.get("run", len(out)))), "N": float(n),
                "D": float(d), "C": c, "loss": float(loss), "budget": budget_of(r)})
  return out


def group(points) -> list[list[dict]]:
  """Points grouped by budget (see the module docstring), smallest first."""
  if all(p["budget"] is not None for p in points):
    keys = sorted({p["budget"] for p in points})
    return [[p for p in points if p["budget"] == k] for k in keys]
  groups = []
  for p in sorted(points, key=lambda p: p["C"]):
    if groups and p["C"] <= groups[-1][0]["C"] * GROUP_FACTOR:
      groups[-1].append(p)
    else:
      groups.append([p])
  for g in groups:
    for p in g:
      p["budget"] = float(np.exp(np.mean([math.log(q["C"]) for q in g])))
  return groups


def _line_at(x, y, x0) -> float:
  slope, icept = np.polyfit(x, y, 1)
  return float(slope * x0 + icept)


def fit_profile(pts: list[dict], loss=None) -> Profile:
  pts = sorted(pts, key=lambda p: p["N"])
  n = np.array([p["N"] for p in pts])
  x = np.log(n)
  y = np.array([p["loss"] for p in pts]) if loss is None else loss
  budget = pts[0]["budget"]
  if len(np.unique(x)) < 3:
    raise LawInputError(f"budget {budget:.3g} has {len(np.unique(x))} distinct model "
                        "size(s); a parabola needs at least 3 (add sizes to the sweep)")
  coef = np.polyfit(x, y, 2)
  if not coef[0] > 0:
    raise LawInputError(f"at budget {budget:.3g} the loss against ln N is not convex "
                        f"(parabola a = {coef[0]:.3g}); the sizes miss the minimum: "
                        "add sizes on both sides of the best one")
  x_opt = -coef[1] / (2 * coef[0])
  d = np.array([p["D"] for p in pts])
  c = np.array([p["C"] for p in pts])
  return Profile(budget, [p["name"] for p in pts], n, d, c, np.asarray(y, float), coef,
                 float(math.exp(x_opt)), float(math.exp(_line_at(x, np.log(d), x_opt))),
                 float(math.exp(_line_at(x, np.log(c), x_opt))),
                 float(np.polyval(coef, x_opt)))


def power_law(profiles) -> dict[str, dict[str, float]]:
  if len(profiles) < 2:
    raise LawInputError(f"N_opt(C) needs at least 2 budgets, got {len(profiles)}")
  c = np.log(np.array([p.c_opt for p in profiles]) / forms.PF_DAY)
  out = {}
  for q in ("N", "D"):
    v = np.log([p.n_opt if q == "N" else p.d_opt for p in profiles])
    exponent, log_coef = np.polyfit(c, v, 1)
    out[q] = {"coef": float(math.exp(log_coef)), "exponent": float(exponent)}
  return out


def fit_isoflop(rows, base: str | None = None, count: str | None = None,
                bootstrap: int = 0, seed: int = 0) -> IsoflopResult:
  """IsoFLOP analysis of rows (see read_rows) under a counting convention."""
  points = _points(rows, base, count)
  groups, profiles, left_out = [], [], []
  for g in group(points):
    try:
      p = fit_profile(g)
    except LawInputError as e:
      if "at least 3" in str(e):
        raise
      left_out.append(str(e).split(";")[0])
      continue
    if not p.interior:
      left_out.append(f"at budget {p.budget:.3g} the parabola's minimum N = {p.n_opt:.3g} lies "
                      f"outside the sizes {p.N.min():.3g}..{p.N.max():.3g}")
      continue
    groups.append(g)
    profiles.append(p)
  if len(profiles) < 2:
    raise LawInputError(
        f"only {len(profiles)} budget(s) have a minimum inside their sizes (N_opt(C) needs "
        f"2): {'; '.join(left_out)}; add sizes on both sides of each budget's best one")
  allocation = power_law(profiles)
  ci = None
  if bootstrap:
    rng = np.random.default_rng(seed)
    fitted = [np.polyval(p.coef, np.log(p.N)) for p in profiles]
    # pooled over budgets: each budget alone has only n - 3 residual degrees of
    # freedom, too few to know its noise (an unpooled bootstrap undercovered)
    dof = sum(len(p.N) - 3 for p in profiles)
    pooled = np.concatenate([p.loss - f for p, f in zip(profiles, fitted)])
    pooled = pooled * math.sqrt(len(pooled) / dof) if dof > 0 else pooled
    samples, vertices = [], []
    for _ in range(int(bootstrap)):
      try:
        sub = [fit_profile(g, f + rng.choice(pooled, len(f)))
               for g, f in zip(groups, fitted)]
      except LawInputError:  # a resample without a minimum: skip it
        continue
      a = power_law(sub)
      samples.append([a["N"]["exponent"], a["N"]["coef"], a["D"]["exponent"], a["D"]["coef"]])
      vertices.append([p.n_opt for p in sub])
    if samples:
      lo, hi = np.percentile(np.array(samples), [2.5, 97.5], axis=0)
      keys = ("N_exp", "N_coef", "D_exp", "D_coef")
      ci = {k: (float(a), float(b)) for k, a, b in zip(keys, lo, hi)}
      vlo, vhi = np.percentile(np.array(vertices), [2.5, 97.5], axis=0)
      for p, a, b in zip(profiles, vlo, vhi):
        p.n_opt_ci = (float(a), float(b))
  return IsoflopResult(profiles, allocation, ci, counting.get(count).name, len(points),
                       int(bootstrap), left_out)


def report(result: IsoflopResult) -> list[str]:
  """The printed table: one line per budget, then the two power laws."""
  conv = counting.get(result.count)
  lines = [f"IsoFLOP profiles of {result.n_runs} runs in {len(result.profiles)} budgets "
           f"(N: {conv.n_text}; C = {conv.c_text}); parabola of loss in ln N",
           f"{'budget':>10}{'runs':>6}{'C at opt':>11}{'N_opt':>11}{'95% CI':>24}"
           f"{'D_opt':>11}{'loss':>8}"]
  for p in result.profiles:
    ci = f"[{p.n_opt_ci[0]:.3g}, {p.n_opt_ci[1]:.3g}]" if p.n_opt_ci else "-"
    flag = ""
    lines.append(f"{p.budget:>10.3g}{len(p.N):>6}{p.c_opt:>11.3g}{p.n_opt:>11.3g}{ci:>24}"
                 f"{p.d_opt:>11.3g}{p.loss_opt:>8.4f}{flag}")
  lines += [f"left out: {why}" for why in result.left_out]
  for q, paper in (("N", 0.49), ("D", 0.51)):
    a = result.allocation[q]
    ci = result.ci95 or {}
    interval = (f" [{ci[q + '_exp'][0]:.3f}, {ci[q + '_exp'][1]:.3f}]"
                if q + "_exp" in ci else "")
    lines.append(f"{q}_opt = {a['coef']:.3g}·C^{a['exponent']:.3f}{interval} "
                 f"(C in PF-days; Hoffmann et al. approach 2: {paper})")
  return lines


def figures(result: IsoflopResult) -> dict[str, bytes]:
  """isoflop.png: loss against N per budget with the parabolas and minima;
  N_opt and D_opt against C with the fitted power laws."""
  fig, (ax, ax2) = figlib.subplots(1, 2, figsize=(11, 4.0), dpi=110)
  colors = [f"C{i}" for i in range(10)]
  conv = counting.get(result.count)
  for i, p in enumerate(result.profiles):
    col = colors[i % 10]
    ax.plot(p.N, p.loss, "o", color=col, label=f"C = {p.c_opt:.2g} FLOP")
    x = np.linspace(np.log(min(p.N.min(), p.n_opt)) - 0.2,
                    np.log(max(p.N.max(), p.n_opt)) + 0.2, 100)
    ax.plot(np.exp(x), np.polyval(p.coef, x), "-", color=col, lw=1)
    ax.plot([p.n_opt], [p.loss_opt], "*", color=col, ms=12, mec="k")
    if p.n_opt_ci:
      ax.plot(p.n_opt_ci, [p.loss_opt] * 2, "-", color=col, lw=3, alpha=0.5)
  ax.set_xscale("log")
  ax.set_xlabel(f"N ({conv.n_text})")
  ax.set_ylabel("final loss (nats/token)")
  ax.set_title("IsoFLOP profiles (star: parabola minimum, bar: 95% CI)")
  ax.legend(fontsize=8)
  c = np.array([p.c_opt for p in result.profiles])
  grid = np.geomspace(c.min() / 1.5, c.max() * 1.5, 50)
  for q, marker, col in (("N", "o", "C0"), ("D", "s", "C1")):
    v = [p.n_opt if q == "N" else p.d_opt for p in result.profiles]
    a = result.allocation[q]
    ax2.plot(c, v, marker, color=col, label=f"{q}_opt")
    ax2.plot(grid, a["coef"] * (grid / forms.PF_DAY) ** a["exponent"], "-", color=col,
             label=f"{q}_opt ∝ C^{a['exponent']:.2f}")
  ax2.set_xscale("log")
  ax2.set_yscale("log")
  ax2.set_xlabel(f"C (FLOP, {conv.c_text})")
  ax2.set_ylabel("N_opt (parameters), D_opt (tokens)")
  ax2.set_title(f"compute-optimal allocation (count: {conv.name})")
  ax2.legend(fontsize=8)
  return {"isoflop.png": figlib.png(fig)}
