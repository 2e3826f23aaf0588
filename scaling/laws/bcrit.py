"""Critical batch size from batch-size scans (Kaplan et al. §5.1; McCandlish et al. eq. 2.11).

For each target loss L, every run (one batch size B each) needs S(L) steps and
E(L) = B·S(L) training tokens to reach L on its smoothed learning curve. The
runs trace the hyperbola (S/S_min − 1)(E/E_min − 1) = 1 (Eq. 5.1), which with
E = B·S is S = S_min + E_min/B (Eq. 5.4): S_min, E_min come from a fit of S
against 1/B, and B_crit(L) = E_min/S_min (Eq. 5.2). Over the levels,
B_crit(L) = B*/L^(1/α_B) (Eq. 5.3) is a straight line in log-log.

The gradient noise scale B_noise of each run is read at the step where it
reached L (from its raw per-step estimates, centred there), for the
side-by-side comparison.
"""

from __future__ import annotations

import math
import os

import numpy as np
from scipy import optimize

from scaling.laws import crossing
from scaling.laws.constants import BCRIT_ALPHA_B, BCRIT_B_STAR
from scaling.results import ResultsError, RunDir
from scaling.results import run as run_files
from scaling.laws.errors import LawInputError

MIN_BATCH_SIZES = 3
SMOOTH_WIDTH = 0.5  # half-width of the local fit, in ln(step)
PAPER = {"b_star_tokens": BCRIT_B_STAR, "alpha_b": BCRIT_ALPHA_B,
         "note": "Kaplan et al. Eq. 5.3, BPE loss"}


class BcritError(LawInputError):
  """Scans that cannot give a critical batch size; the message says why."""


# ---------------------------------------------------------------- runs and curves

def find_runs(paths) -> list[str]:
  """Run directories: each path that has metrics.jsonl, else its subdirectories that do."""
  paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
  runs = []
  for path in map(str, paths):
    if RunDir(path).exists(run_files.METRICS):
      runs.append(path)
    elif os.path.isdir(path):
      runs += sorted(os.path.join(path, d) for d in os.listdir(path)
                     if RunDir(os.path.join(path, d)).exists(run_files.METRICS))
    else:
      raise BcritError(f"{path} does not exist; give a sweep directory or run directories")
  if not runs:
    raise BcritError(f"no runs in {', '.join(map(str, paths))}: expected metrics.jsonl "
                     "in each run directory (e.g. DIR/<member>/metrics.jsonl)")
  return runs


def load_run(run_dir: str, smooth_width: float = SMOOTH_WIDTH) -> dict:
  """A run's batch size, smoothed training-loss curve (on a ln-step grid) and noise scale."""
  run = RunDir(run_dir)
  if not run.exists(run_files.CONFIG):
    raise BcritError(f"{run_dir} has no config.json; is it a scaling-train run directory?")
  try:
    config = run.config()
  except ResultsError as e:
    raise BcritError(str(e)) from None
  rows = [r for r in run.metrics()
          if isinstance(r.get("loss"), (int, float)) and math.isfinite(r["loss"])]
  if len(rows) < 3:
    raise BcritError(f"{run_dir}/metrics.jsonl has {len(rows)} finite loss rows; "
                     "train the run longer")
  seq_len = config.data.seq_len or config.model.n_ctx
  rows = sorted({r["step"]: r for r in rows if r["step"] >= 1}.values(), key=lambda r: r["step"])
  steps = np.array([r["step"] for r in rows], np.float64)
  grid, curve = crossing.smoothed_curve(steps, [r["loss"] for r in rows], smooth_width)
  raw = [(r["step"], r["gns_trace_sigma_raw"], r["gns_g2_raw"]) for r in rows
         if all(isinstance(r.get(k), (int, float)) and math.isfinite(r[k])
                for k in ("gns_trace_sigma_raw", "gns_g2_raw"))]
  ema = config.gns.ema or 0.95
  noise = [(r["step"], r["gns_b_simple_tokens"]) for r in rows
           if isinstance(r.get("gns_b_simple_tokens"), (int, float))]
  return {
      "dir": run_dir, "name": os.path.basename(os.path.normpath(run_dir)),
      "batch_size": int(config.train.batch_size), "seq_len": int(seq_len),
      "warmup_steps": int(config.train.warmup_steps),
      "batch_tokens": int(config.train.batch_size) * int(seq_len),
      "steps": steps, "log_step_grid": grid, "loss": curve,
      "raw_noise": np.array(raw, np.float64).reshape(-1, 3),
      "noise_window": 1 / (1 - ema),
      "noise_steps": np.array([s for s, _ in noise], np.float64),
      "b_noise_tokens": np.array([b for _, b in noise], np.float64),
  }


def steps_to_reach(run: dict, target: float) -> tuple[str, float | None]:
  """("crossed", step), ("at_start", None) or ("not_reached", None): see crossing.crossing."""
  return crossing.crossing(run["log_step_grid"], run["loss"], target)


def b_noise_at(run: dict, step: float) -> float | None:
  """The run's B_noise (tokens) at `step`; None if not logged.

  The logged `gns_b_simple_tokens` is a ratio of moving averages that lags ~ema/(1−ema)
  steps behind (19 at ema 0.95), so a fast-moving run's value at `step` describes
  a higher loss. Where the raw per-step estimates are logged, B_noise is instead the
  ratio of their means over a window of 1/(1−ema) steps centred on `step`.
  """
  raw = run["raw_noise"]
  near = raw[np.abs(raw[:, 0] - step) <= run["noise_window"] / 2]
  if len(near) >= 2:
    g2 = near[:, 2].mean()
    return float(run["seq_len"] * near[:, 1].mean() / g2) if g2 > 0 else None
  if not len(run["noise_steps"]):
    return None
  return float(np.interp(step, run["noise_steps"], run["b_noise_tokens"]))


# ---------------------------------------------------------------- fits

def fit_hyperbola(batch_tokens, steps) -> tuple[float, float]:
  """(S_min, E_min) of S = S_min + E_min/B (Eq. 5.1 with E = B·S), fit in log S."""
  b = np.asarray(batch_tokens, np.float64)
  s = np.asarray(steps, np.float64)
  design = np.stack([np.ones_like(b), 1.0 / b], axis=1)
  guess = np.linalg.lstsq(design, s, rcond=None)[0]
  s0 = max(guess[0], 0.05 * s.min())
  e0 = max(guess[1], 0.05 * s.min() * b.min())

  def residual(theta):
    return np.log(np.exp(theta[0]) + np.exp(theta[1]) / b) - np.log(s)

  result = optimize.least_squares(residual, np.log([s0, e0]), method="lm")
  s_min, e_min = np.exp(result.x)
  return float(s_min), float(e_min)


def fit_bcrit_law(losses, b_crit) -> dict:
  """B_crit(L) = B*/L^(1/α_B) (Eq. 5.3) by least squares in log-log."""
  slope, intercept = np.polyfit(np.log(losses), np.log(b_crit), 1)
  alpha_b = -1.0 / slope if slope else float("inf")
  pred = intercept + slope * np.log(losses)
  rms = float(np.sqrt(np.mean((pred - np.log(b_crit)) ** 2)))
  return {"form": "B_crit(L) = B*/L^(1/alpha_B)", "b_star_tokens": float(np.exp(intercept)),
          "alpha_b": float(alpha_b), "rms_log_residual": rms, "n_levels": len(losses)}


# ---------------------------------------------------------------- the analysis

def default_targets(runs: list[dict], n: int) -> list[float]:
  """n losses between the lowest loss every run reached and halfway up to the start.

  The start is each run's smoothed loss where its learning-rate warmup ends: during
  warmup the schedule, not the batch size, sets the progress per step, so every run
  needs the same steps and B_crit there would measure the warmup (fits to ~0).
  """
  floor = max(float(r["loss"][-1]) for r in runs)
  start = min(float(np.interp(math.log(max(r["warmup_steps"], 1)), r["log_step_grid"],
                              r["loss"])) for r in runs)
  if not start > floor:
    raise BcritError("the runs' smoothed losses never fall below their values at the end "
                     "of warmup; train longer or give --target-losses")
  return [floor + f * (start - floor) for f in np.linspace(0.5, 0.02, n)]


def _batch_list(runs) -> str:
  return ", ".join(f"B={b}" for b in sorted({r["batch_size"] for r in runs}))


def _names(pairs) -> str:
  return ", ".join(f"{r['name']} (B={r['batch_size']})" for r, _ in pairs) or "none"


def analyze_level(runs: list[dict], target: float) -> dict:
  reached = [(r, *steps_to_reach(r, target)) for r in runs]
  used = [(r, s) for r, how, s in reached if how == "crossed"]
  early = [(r, s) for r, how, s in reached if how == "at_start"]
  missed = [(r, s) for r, how, s in reached if how == "not_reached"]
  if len({r["batch_size"] for r, _ in used}) < MIN_BATCH_SIZES:
    if early:
      raise BcritError(
          f"target loss {target:.4f} was already reached at the first logged step by "
          f"{_names(early)}, so their steps to it are unknown; choose a lower target loss")
    lowest = ", ".join(f"{r['name']} (B={r['batch_size']}, lowest smoothed loss "
                       f"{r['loss'][-1]:.4f})" for r, _ in missed)
    raise BcritError(
        f"target loss {target:.4f} was reached by {len(used)} run(s) at "
        f"{len({r['batch_size'] for r, _ in used})} batch size(s), fewer than "
        f"{MIN_BATCH_SIZES}; not reached by {lowest or 'none'}; choose a higher "
        "target loss or train those runs longer")
  b_tok = np.array([r["batch_tokens"] for r, _ in used], np.float64)
  s = np.array([s for _, s in used])
  s_min, e_min = fit_hyperbola(b_tok, s)
  if not s_min > 1e-3 * s.min():
    raise BcritError(
        f"at target loss {target:.4f} the steps fall as 1/B over the whole scan (S_min fits "
        f"to {s_min:.3g}), so B_crit lies above the largest batch (B={b_tok.max():.0f} "
        "tokens); scan larger batch sizes or drop that target loss")
  if not e_min > 1e-3 * s.min() * b_tok.min():
    raise BcritError(
        f"at target loss {target:.4f} every batch size needs the same steps (E_min fits to "
        f"{e_min:.3g} tokens), so B_crit lies below the smallest batch (B={b_tok.min():.0f} "
        "tokens); scan smaller batch sizes or drop that target loss")
  b_crit = e_min / s_min
  seq_len = used[0][0]["seq_len"]
  noise = [b_noise_at(r, st) for r, st in used]
  noise = [x for x in noise if x is not None and math.isfinite(x)]
  b_noise = float(np.median(noise)) if noise else None
  return {
      "loss": float(target), "s_min": s_min, "e_min_tokens": e_min,
      "b_crit_tokens": b_crit, "b_crit_sequences": b_crit / seq_len,
      "b_noise_tokens": b_noise,
      "b_noise_sequences": b_noise / seq_len if b_noise is not None else None,
      "b_crit_in_scanned_range": bool(b_tok.min() <= b_crit <= b_tok.max()),
      "runs": [{"name": r["name"], "batch_size": r["batch_size"],
                "batch_tokens": r["batch_tokens"], "steps": st,
                "tokens": st * r["batch_tokens"], "b_noise_tokens": b_noise_at(r, st)}
               for r, st in used],
      "not_reached": [r["name"] for r, _ in missed],
      "reached_at_first_step": [r["name"] for r, _ in early],
  }


def fit_bcrit_from_runs(runs, target_losses=None, *, n_levels: int = 5,
                        smooth_width: float = SMOOTH_WIDTH) -> dict:
  """The critical batch size at several losses from a batch-size scan.

  runs: a sweep directory (its subdirectories are the runs), a run directory,
  or a list of either. target_losses: losses to analyse (default: n_levels
  between the lowest loss every run reached and halfway up to the start).
  """
  run_dirs = find_runs(runs)
  loaded = sorted((load_run(d, smooth_width) for d in run_dirs),
                  key=lambda r: (r["batch_size"], r["name"]))
  sizes = sorted({r["batch_size"] for r in loaded})
  if len(sizes) < MIN_BATCH_SIZES:
    raise BcritError(f"too few batch sizes: the scan needs runs at >= {MIN_BATCH_SIZES} "
                     f"different train.batch_size, found {len(sizes)} ({_batch_list(loaded)}) "
                     f"in {len(loaded)} run(s)")
  if len({r["seq_len"] for r in loaded}) > 1:
    raise BcritError("the runs have different data.seq_len "
                     f"({sorted({r['seq_len'] for r in loaded})}); scan the batch size only")
  targets = sorted(target_losses if target_losses else default_targets(loaded, n_levels),
                   reverse=True)
  levels = [analyze_level(loaded, t) for t in targets]
  law = None
  if len(levels) >= 2:
    law = fit_bcrit_law([l["loss"] for l in levels], [l["b_crit_tokens"] for l in levels])
  return {
      "kind": "bcrit", "estimator": "local quadratic in ln(step), isotonic",
      "smooth_width": smooth_width,
      "runs": [{"name": r["name"], "dir": r["dir"], "batch_size": r["batch_size"],
                "batch_tokens": r["batch_tokens"], "steps": int(r["steps"][-1]),
                "final_smoothed_loss": float(r["loss"][-1])} for r in loaded],
      "levels": levels, "law": law, "paper": PAPER,
      "noise_curves": [noise_curve(r) for r in loaded if len(r["noise_steps"])],
  }


def noise_curve(run: dict, points: int = 300) -> dict:
  """B_noise along a run (as b_noise_at reads it) against its smoothed loss, for plots."""
  steps = run["noise_steps"][np.unique(np.linspace(0, len(run["noise_steps"]) - 1,
                                                   points).astype(int))]
  noise = [b_noise_at(run, s) for s in steps]
  return {"name": run["name"], "batch_size": run["batch_size"],
          "loss": np.interp(np.log(steps), run["log_step_grid"], run["loss"]).tolist(),
          "b_noise_tokens": noise}


def format_table(fit: dict) -> str:
  """B_crit next to the measured B_noise at each loss level."""
  lines = [f"{'loss':>8} {'S_min':>9} {'E_min (tok)':>12} {'B_crit (tok)':>13} "
           f"{'B_noise (tok)':>14} {'B_crit/B_noise':>15} {'runs':>5}"]
  for l in fit["levels"]:
    noise = l["b_noise_tokens"]
    ratio = f"{l['b_crit_tokens'] / noise:.2f}" if noise else "-"
    noise_text = f"{noise:.4g}" if noise is not None else "-"
    lines.append(f"{l['loss']:8.4f} {l['s_min']:9.1f} {l['e_min_tokens']:12.4g} "
                 f"{l['b_crit_tokens']:13.4g} {noise_text:>14} "
                 f"{ratio:>15} {len(l['runs']):5d}"
                 + ("" if l["b_crit_in_scanned_range"] else "  (B_crit outside the scan)"))
  if fit["law"]:
    law = fit["law"]
    lines.append(f"B_crit(L) = {law['b_star_tokens']:.4g} tokens / L^(1/{law['alpha_b']:.3f})"
                 f"  (paper: B* = {BCRIT_B_STAR:g} tokens, alpha_B = {BCRIT_ALPHA_B}, on BPE tokens)")
  return "\n".join(lines)
