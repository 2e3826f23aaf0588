"""The checks of one model-size ladder (experiments/model_size.py:cpu).

One sweep of models of increasing N, each trained on the same tokens and
evaluated along the way, carries five findings, as the paper's runs do:

  holdout_power_law          L(N): the smaller models' final losses predict the largest's
  learning_curve_prediction  L(N, S): the first part of every curve predicts its end
  transfer_slope             loss on other text against the training text's
  tokens_to_loss             larger models reach a loss in fewer tokens
  frontier                   the L(C) envelope: N_opt(C) grows, runs leave it unconverged

Each reads its thresholds from `finding.criteria`, measures with the laws
layer (scaling.laws), draws its figure (ladder_plots) and returns a Verdict.
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
from scipy import stats

from scaling.findings.checks import FindingInputError, ladder_plots
from scaling.findings.spec import NOT_REPRODUCED, REPRODUCED, Verdict
from scaling.laws import crossing, forms, frontier as frontier_lib
from scaling.laws import curves as curves_lib
from scaling.laws import fit as fitting
from scaling.laws.errors import LawInputError
from scaling.results import ResultsError

TRANSFER_BOOTSTRAP = 1000  # resamples of the models for the slope's interval (reported only)
FRONTIER_BOOTSTRAP = 200   # resamples of the runs for a's interval, unless criteria say
FRONTIER_GRID = 400        # points of the fine compute grid where models leave the envelope


@dataclasses.dataclass
class Model:
  """One finished ladder member: its size and its evaluations, by step."""
  name: str
  N: float
  steps: int
  evals: list[dict]

  @property
  def final(self) -> dict:
    return self.evals[-1]

  @property
  def final_loss(self) -> float:
    return float(self.final["val_loss"])

  def column(self, key: str) -> np.ndarray:
    return np.array([float(r[key]) for r in self.evals])


def _number(value) -> bool:
  return isinstance(value, (int, float)) and math.isfinite(value)


def ladder(sweep, min_models: int) -> list[Model]:
  """The sweep's finished models, smallest N first, each with its evaluations up
  to its final step; FindingInputError if fewer than `min_models`."""
  try:
    rows = [r for r in sweep.results() if r.get("status", "completed") == "completed"]
  except ResultsError as e:
    raise FindingInputError(str(e)) from None
  models = []
  for row in rows:
    name, n = row.get("name"), row.get("n_params_nonembedding")
    if not _number(n):
      raise FindingInputError(f"{sweep.path}: member {name} has no n_params_nonembedding")
    evals = sorted((r for r in sweep.member(name).evals()
                    if _number(r.get("val_loss")) and _number(r.get("step"))),
                   key=lambda r: r["step"])
    if not evals:
      raise FindingInputError(f"{sweep.path}/{name} has no evaluations (eval.jsonl val_loss)")
    steps = int(row.get("steps") or evals[-1]["step"])
    if evals[-1]["step"] != steps:
      raise FindingInputError(f"{sweep.path}/{name}: the last evaluation is at step "
                              f"{evals[-1]['step']}, not the run's final step {steps}")
    models.append(Model(name, float(n), steps, evals))
  if len(models) < min_models:
    raise FindingInputError(f"{sweep.path} has {len(models)} finished model(s); this "
                            f"finding needs at least {min_models}")
  return sorted(models, key=lambda m: m.N)


def _figure(out_dir: str, finding) -> str:
  os.makedirs(out_dir, exist_ok=True)
  return os.path.join(out_dir, f"{finding.key}.png")


def _status(ok: bool) -> str:
  return REPRODUCED if ok else NOT_REPRODUCED


def _fit(law, columns, **kwargs) -> fitting.FitResult:
  try:
    return fitting.fit_law(law, columns, **kwargs)
  except LawInputError as e:
    raise FindingInputError(str(e)) from None


# ----------------------------------------------------------------------------
# L(N): the held-out largest model.

def holdout_power_law(finding, sweep, out_dir: str) -> Verdict:
  c = finding.criteria
  law = forms.get_law(c["form"])
  models = ladder(sweep, c["holdout"] + len(law.params))
  n_m = np.array([m.N for m in models])
  loss_m = np.array([m.final_loss for m in models])
  result = _fit(law, {"N": n_m, "loss": loss_m}, bootstrap=c["bootstrap"],
                holdout_largest=c["holdout"])
  largest = result.holdout["rows"][-1]  # fit_law's held-out prediction, as scaling-fit prints it
  predicted, observed = largest["predicted"], largest["observed"]
  interval = [largest["predicted_lo"], largest["predicted_hi"]]
  rel_error = largest["rel_error"]
  decades = float(np.log10(n_m[-1] / n_m[0]))
  ok = abs(rel_error) <= c["max_abs_rel_error"] and decades >= c["min_decades"]
  figure = _figure(out_dir, finding)
  ladder_plots.holdout(figure, law, result.params, n_m, loss_m, c["holdout"], interval)
  measured = {**{k: float(v) for k, v in result.params.items()},
              "predicted": predicted, "interval": interval, "observed": observed,
              "rel_error": float(rel_error), "decades": decades}
  summary = (f"largest model (N={n_m[-1]:.3g}) predicted {predicted:.4f} "
             f"[{interval[0]:.4f}, {interval[1]:.4f}] vs observed {observed:.4f}: "
             f"{rel_error:+.2%} (limit ±{c['max_abs_rel_error']:.0%}); N spans "
             f"{decades:.2f} decades (≥ {c['min_decades']:g}); "
             f"alpha_N={result.params['alpha_N']:.3f}")
  notes = [f"{c['form']} fitted to {len(models) - c['holdout']} models; 95% interval of "
           f"the prediction from {c['bootstrap']} bootstrap resamples of them"]
  return Verdict(_status(ok), measured, summary, figure, notes)


# ----------------------------------------------------------------------------
# L(N, S): predicting each curve's end from its first part.

def learning_curve_prediction(finding, sweep, out_dir: str) -> Verdict:
  c = finding.criteria
  law = forms.get_law(c["form"])
  models = ladder(sweep, 3)
  fit_rows = [(m.N, r["step"], r["val_loss"]) for m in models for r in m.evals
              if c["min_step"] <= r["step"] <= c["fit_fraction"] * m.steps]
  n_r, s_r, loss_r = (np.array(v, float) for v in zip(*fit_rows)) if fit_rows else ([],) * 3
  result = _fit(law, {"N": n_r, "S": s_r, "loss": loss_r})
  final = {"N": np.array([m.N for m in models]),
           "S": np.array([float(m.final["step"]) for m in models])}
  predicted_m = law.predict(result.params, final)
  observed_m = np.array([m.final_loss for m in models])
  rel_m = predicted_m / observed_m - 1.0
  worst = int(np.argmax(np.abs(rel_m)))
  ok = float(np.abs(rel_m).max()) <= c["max_abs_rel_error"]
  figure = _figure(out_dir, finding)
  ladder_plots.learning_curves(figure, law, result.params, models, c, predicted_m)
  measured = {**{k: float(v) for k, v in result.params.items()},
              "n_points": len(fit_rows),
              "rel_error": {m.name: float(r) for m, r in zip(models, rel_m)},
              "max_abs_rel_error": float(np.abs(rel_m).max())}
  summary = (f"{c['form']} fitted on steps {c['min_step']}-{c['fit_fraction']:g}·S "
             f"({len(fit_rows)} evaluations of {len(models)} models) predicts the final "
             f"losses within {np.abs(rel_m).max():.2%} (worst {models[worst].name}: "
             f"{rel_m[worst]:+.2%}; limit {c['max_abs_rel_error']:.0%})")
  return Verdict(_status(ok), measured, summary, figure)


# ----------------------------------------------------------------------------
# Transfer: the other distribution's loss against the training one's.

def transfer_slope(finding, sweep, out_dir: str) -> Verdict:
  c = finding.criteria
  key = f"val_loss/{c['other']}"
  models = ladder(sweep, 3)
  missing = [m.name for m in models if not _number(m.final.get(key))]
  if missing:
    raise FindingInputError(f"{sweep.path}: the last evaluation of {', '.join(missing)} "
                            f"has no {key} (eval.datasets must include {c['other']})")
  train_m = np.array([m.final_loss for m in models])
  other_m = np.array([float(m.final[key]) for m in models])
  slope, intercept = (float(v) for v in np.polyfit(train_m, other_m, 1))
  rng = np.random.default_rng(0)
  boot = []
  for _ in range(TRANSFER_BOOTSTRAP):
    idx = rng.integers(0, len(models), len(models))
    if np.ptp(train_m[idx]) > 0:
      boot.append(np.polyfit(train_m[idx], other_m[idx], 1)[0])
  interval = [float(v) for v in np.percentile(boot, [2.5, 97.5])]
  ok = c["slope_min"] <= slope <= c["slope_max"]
  figure = _figure(out_dir, finding)
  ladder_plots.transfer(figure, train_m, other_m, slope, intercept, c["other"])
  measured = {"slope": slope, "intercept": intercept, "slope_interval": interval,
              "mean_offset": float(np.mean(other_m - train_m)), "models": len(models)}
  summary = (f"{c['other']} loss = {slope:.3f}·training loss {intercept:+.3f} over "
             f"{len(models)} models (slope 95% interval [{interval[0]:.3f}, "
             f"{interval[1]:.3f}]); criterion {c['slope_min']:g} ≤ slope ≤ "
             f"{c['slope_max']:g}")
  notes = [f"slope interval: {TRANSFER_BOOTSTRAP} bootstrap resamples of the models "
           "(reported, not judged)"]
  return Verdict(_status(ok), measured, summary, figure, notes)


# ----------------------------------------------------------------------------
# Sample efficiency: tokens to reach a loss against N.

def tokens_to_reach(model: Model, level: float) -> tuple[float | None, str]:
  """Tokens at the first crossing of `level`, linear in log(tokens) between the
  evaluations that bracket it: (tokens, "crossed"), (first evaluation's tokens,
  "at_start") or (None, "not_reached")."""
  rows = [r for r in model.evals if _number(r.get("tokens")) and r["tokens"] > 0]
  tokens = np.array([float(r["tokens"]) for r in rows])
  loss = np.array([float(r["val_loss"]) for r in rows])
  if not len(rows):
    return None, "not_reached"
  how, at = crossing.crossing(np.log(tokens), loss, level)
  if how == "at_start":
    return float(tokens[0]), how
  return at, how


def tokens_to_loss(finding, sweep, out_dir: str) -> Verdict:
  c = finding.criteria
  idx = list(c["level_models"])
  models = ladder(sweep, max(idx) + c["min_models"])
  levels, notes, ok = [], [], True
  for i in idx:
    level = models[i].final_loss
    reached = []
    for m in models:
      tokens, how = tokens_to_reach(m, level)
      if tokens is not None:
        reached.append((m.N, tokens))
        if how == "at_start":
          notes.append(f"{m.name} is below {level:.4f} at its first evaluation: "
                       f"tokens {tokens:.3g} are an upper bound")
    rho = None
    if len(reached) >= c["min_models"]:
      rho = float(stats.spearmanr(*zip(*reached)).statistic)
    else:
      notes.append(f"level {level:.4f}: only {len(reached)} models reach it "
                   f"(need {c['min_models']})")
    ok = ok and rho is not None and rho <= c["max_spearman"]
    levels.append({"model": models[i].name, "level": level, "spearman": rho,
                   "N": [n for n, _ in reached], "tokens": [t for _, t in reached]})
  figure = _figure(out_dir, finding)
  ladder_plots.sample_efficiency(figure, levels)
  measured = {"levels": levels}
  rhos = ", ".join(f"{l['level']:.3f}: ρ={'-' if l['spearman'] is None else format(l['spearman'], '.2f')}"
                   f" ({len(l['N'])} models)" for l in levels)
  summary = (f"Spearman ρ(tokens to reach the loss, N) at losses {rhos}; "
             f"criterion ρ ≤ {c['max_spearman']:g} at every level")
  return Verdict(_status(ok), measured, summary, figure, notes)


# ----------------------------------------------------------------------------
# The compute frontier.

def _on_curve(curve, x: float) -> float:
  """The curve's loss at compute x (log-log interpolation, held at its end)."""
  lx = np.log(curve.C)
  return float(np.exp(np.interp(np.log(x), lx, np.log(curve.loss))))


def leaving_points(curves, n_grid: int = FRONTIER_GRID) -> list[dict]:
  """For each run on the envelope but the largest of them: the compute and loss
  where a larger run first takes the envelope from it (its final loss when its
  curve ends first), and that loss's excess over its final loss."""
  env = frontier_lib.envelope([c.C for c in curves], [c.loss for c in curves],
                              [c.N for c in curves], [c.name for c in curves], n_grid)
  by_name = {c.name: c for c in curves}
  on = sorted({r for r in env.run}, key=lambda r: by_name[r].N)
  points = []
  for name in on[:-1]:
    curve = by_name[name]
    first = env.run.index(name)
    after = [g for g in range(first + 1, len(env.x)) if by_name[env.run[g]].N > curve.N]
    if not after:
      continue
    x = min(float(env.x[after[0]]), float(curve.C[-1]))
    loss = _on_curve(curve, x)
    points.append({"run": name, "N": curve.N, "C": x, "loss": loss,
                   "final_loss": float(curve.loss[-1]),
                   "excess": loss / float(curve.loss[-1]) - 1.0,
                   "by": env.run[after[0]]})
  return points


def frontier(finding, sweep, out_dir: str) -> Verdict:
  c = finding.criteria
  models = ladder(sweep, 3)
  try:
    curves = curves_lib.load_curves(sweep.path, "eval")  # count kaplan: C = 6·N·tokens
    bootstrap = int(c.get("bootstrap", FRONTIER_BOOTSTRAP))
    result = frontier_lib.compute_frontier(curves, bootstrap=bootstrap, seed=0)
  except LawInputError as e:
    raise FindingInputError(str(e)) from None
  if not result.ci95 or "C.N_exp" not in result.ci95:
    raise FindingInputError(f"{sweep.path}: the bootstrap gave no interval for N_opt's exponent")
  a = float(result.params["C.N_exp"])
  a_lo, a_hi = (float(v) for v in result.ci95["C.N_exp"])
  points = leaving_points(curves)
  if not points:
    raise FindingInputError(f"{sweep.path}: no model leaves the envelope to a larger one")
  gap = float(np.median([p["excess"] for p in points]))
  ok = a_lo > c["exponent_ci_low"] and gap >= c["min_gap"]
  figure = _figure(out_dir, finding)
  ladder_plots.frontier(figure, curves, result.envelopes["C"], points)
  measured = {"a": a, "a_interval": [a_lo, a_hi], "median_gap": gap,
              "gaps": {p["run"]: float(p["excess"]) for p in points},
              "alpha_C": float(result.params["C.alpha_C"]), "models": len(models)}
  summary = (f"N_opt ∝ C^{a:.2f} (95% interval [{a_lo:.2f}, {a_hi:.2f}]; criterion: "
             f"low end > {c['exponent_ci_low']:g}); where a larger model overtakes "
             f"them, {len(points)} frontier models are a median {gap:.1%} above their "
             f"final loss (criterion ≥ {c['min_gap']:.0%})")
  notes = [f"a's interval: {bootstrap} bootstrap resamples of the runs (whole curves), "
           "scaling.laws.frontier; C = 6·N·tokens with N non-embedding (count kaplan)",
           f"overtaking points on a {FRONTIER_GRID}-point log grid of C; a model whose curve "
           "ends before a larger one overtakes it counts as 0% above"]
  return Verdict(_status(ok), measured, summary, figure, notes)
