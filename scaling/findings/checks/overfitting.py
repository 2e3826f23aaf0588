"""The `L_N_D` finding (Kaplan et al. Eq. 4.1, Figs. 4, 9): the overfitting penalty collapses.

The sweep (experiments/data_size.py) trains each model N on several data sizes D
and on the whole split (its D = ∞ reference: data.max_train_tokens 0, or else
the model's largest D). The penalty of each other member is
δ = best_val_loss(N, D)/best_val_loss(N, ∞) − 1, and all of them are fitted by
one curve, δ = (1 + k·N^r/D)^alpha_D − 1 (the form of Eq. 4.3, r = α_N/α_D),
by least squares on log(1 + δ). Collapse: residuals with RMS ≤ max_rms and none
above max_abs_residual, and r's bootstrap 95% interval (members resampled)
above ratio_ci_low. The fitted r stands beside the paper's 0.74, not judged.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
from scipy import optimize

from scaling.findings import spec
from scaling import figures
from scaling.findings.checks import FindingInputError
from scaling.laws import forms

COLUMNS = ("best_val_loss", "n_params_nonembedding", "train_tokens_available")
R_STARTS = (0.0, 0.5, 1.0, 1.5)
ALPHA_STARTS = (0.05, 0.2, 1.0)
# bounds of θ = (log k, r, log alpha_D): wide, but away from the degenerate limits
# (alpha_D → 0 with k → ∞) where the fit can wander without changing its residuals
LOWER, UPPER = np.array([-100.0, -5.0, np.log(1e-3)]), np.array([100.0, 5.0, np.log(10.0)])
SEED = 0


def paper_ratio() -> float:
  """α_N/α_D of the paper's L(N, D) fit (Eq. 4.1): 0.076/0.103 ≈ 0.74."""
  params = {p.name: p.paper for p in forms.LAWS["ND"].params}
  return params["alpha_N"] / params["alpha_D"]



# ---------------------------------------------------------------- penalties

def penalties(rows: list[dict], path: str) -> tuple[list[dict], dict]:
  """The penalty points [{"name", "N", "D", "delta"}] and each N's reference member."""
  for row in rows:
    missing = [k for k in COLUMNS if row.get(k) is None]
    if missing:
      raise FindingInputError(f"{path}: member {row['name']} has no {', '.join(missing)} "
                              "in its summary")
  by_n = {}
  for row in rows:
    by_n.setdefault(int(row["n_params_nonembedding"]), []).append(row)
  points, references = [], {}
  for n, group in sorted(by_n.items()):
    whole = [r for r in group if (r.get("overrides") or {}).get("data.max_train_tokens") == 0]
    ref = whole[0] if whole else max(group, key=lambda r: r["train_tokens_available"])
    references[n] = {"name": ref["name"], "best_val_loss": float(ref["best_val_loss"]),
                     "D": int(ref["train_tokens_available"])}
    points += [{"name": r["name"], "N": n, "D": int(r["train_tokens_available"]),
                "delta": float(r["best_val_loss"]) / float(ref["best_val_loss"]) - 1}
               for r in group if r is not ref]
  models = {p["N"] for p in points}
  if len(models) < 2 or len(points) < 4:
    raise FindingInputError(
        f"{path}: {len(points)} finished finite-D member(s) of {len(models)} model(s) with a "
        "reference; the collapse needs >= 2 models and >= 4 penalties")
  return points, references


# ---------------------------------------------------------------- the fit

def log_penalty(theta, log_n, log_d) -> np.ndarray:
  """log(1 + δ) = alpha_D·log(1 + k·N^r/D), θ = (log k, r, log alpha_D)."""
  log_k, r, log_alpha = theta
  return np.exp(log_alpha) * np.logaddexp(0.0, log_k + r * log_n - log_d)


def _grid_starts(y, log_n, log_d) -> list[np.ndarray]:
  starts = []
  for r, alpha in itertools.product(R_STARTS, ALPHA_STARTS):
    x = np.maximum(np.expm1(np.maximum(y, 0.0) / alpha), 1e-6)
    log_k = float(np.median(np.log(x) - r * log_n + log_d))
    starts.append(np.array([log_k, r, np.log(alpha)]))
  return starts


def _cost(theta, y, log_n, log_d) -> float:
  return float(np.sum((log_penalty(theta, log_n, log_d) - y) ** 2))


def fit_penalty(y, log_n, log_d, starts=None) -> np.ndarray:
  """θ = (log k, r, log alpha_D) minimising the squared residuals in log(1 + δ)."""
  starts = _grid_starts(y, log_n, log_d) if starts is None else starts
  best = None
  for start in starts:
    with np.errstate(over="ignore", invalid="ignore"):
      result = optimize.least_squares(lambda t: log_penalty(t, log_n, log_d) - y,
                                      np.clip(start, LOWER + 1e-9, UPPER - 1e-9),
                                      bounds=(LOWER, UPPER), max_nfev=2000)
    if np.all(np.isfinite(result.x)) and (best is None or result.cost < best.cost):
      best = result
  return best.x


def bootstrap_ratio(y, log_n, log_d, theta, n: int, seed: int = SEED):
  """r refitted on `n` resamples of the penalties (resamples of < 2 models skipped)."""
  rng = np.random.default_rng(seed)
  ratios = []
  for _ in range(n):
    idx = rng.integers(0, len(y), len(y))
    if len(np.unique(log_n[idx])) < 2:
      continue
    grid = sorted(_grid_starts(y[idx], log_n[idx], log_d[idx]),
                  key=lambda t: _cost(t, y[idx], log_n[idx], log_d[idx]))
    ratios.append(fit_penalty(y[idx], log_n[idx], log_d[idx], [theta, *grid[:2]])[1])
  return np.array(ratios)


def overfitting_collapse(finding: spec.Finding, sweep, out_dir: str) -> spec.Verdict:
  c = finding.criteria
  points, references = penalties(sweep.results(), sweep.path)
  log_n = np.log([p["N"] for p in points])
  log_d = np.log([p["D"] for p in points])
  y = np.log1p([p["delta"] for p in points])
  theta = fit_penalty(y, log_n, log_d)
  residual = log_penalty(theta, log_n, log_d) - y
  k, r, alpha_d = float(np.exp(theta[0])), float(theta[1]), float(np.exp(theta[2]))
  ratios = bootstrap_ratio(y, log_n, log_d, theta, int(c["bootstrap"]))
  if not len(ratios):
    raise FindingInputError(f"{sweep.path}: no bootstrap resample held two models")
  lo, hi = (float(v) for v in np.percentile(ratios, [2.5, 97.5]))
  rms, worst = float(np.sqrt(np.mean(residual ** 2))), float(np.max(np.abs(residual)))
  ok = rms <= c["max_rms"] and worst <= c["max_abs_residual"] and lo > c["ratio_ci_low"]
  for p, res in zip(points, residual):
    p["residual"] = float(res)
  measured = {"k": k, "r": r, "r_ci95": [lo, hi], "alpha_D": alpha_d, "rms": rms,
              "max_abs_residual": worst, "paper_r": paper_ratio(),
              "bootstrap_resamples": len(ratios), "n_points": len(points),
              "points": points, "references": {str(n): v for n, v in references.items()}}
  figure = _plot(points, k, r, alpha_d, os.path.join(out_dir, finding.key + ".png"))
  summary = (f"delta = (1 + {k:.3g}·N^{r:.3f}/D)^{alpha_d:.3f} - 1 over {len(points)} "
             f"penalties: RMS {rms:.4f} (<= {c['max_rms']:g}), max |residual| {worst:.4f} "
             f"(<= {c['max_abs_residual']:g}), r 95% CI [{lo:.3f}, {hi:.3f}] (low end > "
             f"{c['ratio_ci_low']:g}); paper r = {paper_ratio():.2f} (not judged)")
  return spec.Verdict(status=spec.REPRODUCED if ok else spec.NOT_REPRODUCED,
                      measured=measured, summary=summary, figure=figure,
                      notes=[f"reference (D = inf) of N={n:,}: {v['name']}"
                             for n, v in references.items()])


def _plot(points, k, r, alpha_d, path) -> str:
  fig, ax = figures.subplots()
  x_all = np.array([p["N"] ** r / p["D"] for p in points])
  for i, n in enumerate(sorted({p["N"] for p in points})):
    mine = sorted((p for p in points if p["N"] == n), key=lambda p: p["D"])
    ax.plot([p["N"] ** r / p["D"] for p in mine], [p["delta"] for p in mine], "o",
            color=f"C{i}", label=f"N = {n:,}")
  x = np.geomspace(x_all.min() / 2, x_all.max() * 2, 200)
  ax.plot(x, (1 + k * x) ** alpha_d - 1, "k-", lw=1.2,
          label=f"(1 + {k:.3g}x)^{alpha_d:.3f} - 1")
  ax.axhline(0, color="0.6", lw=0.8)
  ax.set_xscale("log")
  ax.set_xlabel(f"x = N^{r:.3f} / D")
  ax.set_ylabel("penalty L(N, D)/L(N, inf) - 1")
  ax.set_title("Overfitting penalty against N^r/D")
  ax.legend(fontsize=7)
  return figures.save(fig, path)
