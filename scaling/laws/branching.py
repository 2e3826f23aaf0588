"""Critical batch size by branching (Merrill et al. 2025).

A reference run at batch B has loss L_ref(t) at tokens t. From its checkpoint
at step s (tokens t_s), a branch trains at batch k·B for the same tokens Δ the
reference spends in its window (of W(s) steps; every branch of one point has
the same W), reaching L_k. With the reference's progress
over the window P = L_ref(t_s) − L_ref(t_s + Δ), the branch matches when

  L_k − L_ref(t_s + Δ) <= tolerance · P,

i.e. it makes at least (1 − tolerance) of the reference's progress per token.
B_crit(s) is the largest k·B of the unbroken run of matches from k = 1 (the
reference itself) upwards; if every branch matches it is a lower bound (>=),
if none does an upper bound (<=, the reference's batch).

Under Kaplan's Eq. 5.1 a batch b needs E_min·(1 + b/B_crit) tokens, so over a
short window the branch's fraction of the reference's progress is
f(k) = (1 + B/B_crit)/(1 + k·B/B_crit); `b_crit_model` is the B_crit that fits
the measured fractions best (least squares over k). tolerance 0.5 thus puts
the threshold at k·B = B_crit + 2B.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re

import numpy as np

from scaling.laws import readers
from scaling.laws.errors import LawInputError
from scaling.results import RunDir

_NAME = re.compile(r"^s(\d+)_k(\d+)$")


@dataclasses.dataclass
class Branch:
  start: int  # the reference step it starts from
  k: int  # batch multiple of the reference's batch
  loss: float  # loss after the window's tokens
  name: str = ""


@dataclasses.dataclass
class Point:
  """B_crit at one branch point."""
  start: int
  tokens: float  # the reference's tokens at the branch point
  loss_start: float
  loss_ref_end: float
  ks: list[int]
  losses: list[float]
  fractions: list[float]  # of the reference's progress over the window
  matches: list[bool]
  b_crit: float  # tokens
  bound: str  # "", ">=" (every branch matched) or "<=" (none did)
  b_crit_model: float | None  # tokens, from f(k) = (1 + B/B_crit)/(1 + kB/B_crit)
  b_noise: float | None = None  # the reference's B_noise (tokens) at the branch point
  seed_spread: float | None = None  # |L_ref − L_ref(other seed)| at the window's end,
                                    # as a fraction of the window's progress
  b_crit_scan: float | None = None  # a scan's B_crit(L) at the branch point's loss

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)


def progress_model(k, b) -> np.ndarray:
  """Kaplan Eq. 5.1 over a short window: fraction of progress at k·B, b = B/B_crit."""
  return (1.0 + b) / (1.0 + np.asarray(k, float) * b)


def fit_model(ks, fractions) -> float | None:
  """b = B/B_crit minimising the squared error of progress_model, or None when
  the fractions do not fall with k (no finite B_crit in the scanned range)."""
  ks, f = np.asarray(ks, float), np.asarray(fractions, float)
  grid = np.geomspace(1e-4, 1e3, 2801)
  err = ((progress_model(ks[None, :], grid[:, None]) - f[None, :]) ** 2).sum(axis=1)
  i = int(np.argmin(err))
  if i == 0 or i == len(grid) - 1:
    return None
  lo, hi = math.log(grid[i - 1]), math.log(grid[i + 1])
  for _ in range(60):  # golden-section refinement in ln b
    m1, m2 = lo + 0.382 * (hi - lo), lo + 0.618 * (hi - lo)
    e1 = ((progress_model(ks, math.exp(m1)) - f) ** 2).sum()
    e2 = ((progress_model(ks, math.exp(m2)) - f) ** 2).sum()
    lo, hi = (lo, m2) if e1 < e2 else (m1, hi)
  return math.exp((lo + hi) / 2)


def critical_batches(ref_loss: dict[int, float], batch_tokens: float,
                     window: int | dict[int, int], branches: list[Branch],
                     tolerance: float) -> list[Point]:
  """B_crit at every branch point (see the module docstring).

  ref_loss: the reference's evaluation loss by step; window: the reference's
  steps a branch's tokens equal (one for all points, or by start step);
  batch_tokens: the reference's batch.
  """
  if not 0 < tolerance < 1:
    raise LawInputError(f"--tolerance={tolerance:g} must be in (0, 1)")
  points = []
  for start in sorted({b.start for b in branches}):
    end = start + (window[start] if isinstance(window, dict) else window)
    if start not in ref_loss or end not in ref_loss:
      missing = start if start not in ref_loss else end
      raise LawInputError(f"the reference has no evaluation at step {missing}; evaluate it "
                          f"every {math.gcd(start, end)} steps (eval.every_steps)")
    l0, l1 = ref_loss[start], ref_loss[end]
    progress = l0 - l1
    if progress <= 0:
      raise LawInputError(f"the reference's loss did not fall over steps {start}..{end} "
                          f"({l0:.4f} -> {l1:.4f}); branch earlier or use a longer window")
    own = sorted((b for b in branches if b.start == start), key=lambda b: b.k)
    ks = [1] + [b.k for b in own]
    losses = [l1] + [b.loss for b in own]
    fractions = [(l0 - l) / progress for l in losses]
    matches = [l - l1 <= tolerance * progress for l in losses]
    last = 0
    while last + 1 < len(ks) and matches[last + 1]:
      last += 1
    bound = ">=" if last == len(ks) - 1 else ("<=" if last == 0 else "")
    b = fit_model(ks, fractions)
    points.append(Point(start, start * batch_tokens, l0, l1, ks, losses, fractions, matches,
                        ks[last] * batch_tokens, bound,
                        batch_tokens / b if b else None))
  return points


def noise_curve(ref_dir: str, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
  """The reference's B_noise (tokens) by step, read as scaling-fit bcrit reads it
  (raw per-step estimates averaged over 1/(1 − ema) steps centred on the step,
  so without the logged moving average's lag)."""
  from scaling.laws import bcrit as critical_batch  # pylint: disable=g-import-not-at-top
  run = critical_batch.load_run(ref_dir)
  if not len(run["raw_noise"]) and not len(run["noise_steps"]):
    return np.zeros(0), np.zeros(0)
  top = run["steps"][-1]
  steps = np.unique(np.geomspace(1, top, points).round())
  noise = [critical_batch.b_noise_at(run, s) for s in steps]
  ok = np.array([b is not None and math.isfinite(b) and b > 0 for b in noise])
  return steps[ok], np.array([b for b, o in zip(noise, ok) if o], float)


def read_branch_sweep(path: str) -> dict:
  """The reference (PATH/reference) and its branches (PATH/branches/s<step>_k<k>)."""
  ref_dir, br_dir = os.path.join(path, "reference"), os.path.join(path, "branches")
  if not RunDir(ref_dir).exists():
    raise LawInputError(f"{path} has no finished reference run (reference/summary.json); "
                        "run scaling-sweep --config experiments/branch_bcrit.py:tiny first")
  ref = readers.read_summary(ref_dir)
  evals = RunDir(ref_dir).evals()
  ref_loss = {int(r["step"]): float(r["val_loss"]) for r in evals if "val_loss" in r}
  branches = []
  rows = readers.read_rows(br_dir) if os.path.isdir(br_dir) else []
  for r in rows:
    m = _NAME.match(str(r.get("name", r.get("run", ""))))
    if not m:
      continue
    start, k = int(m.group(1)), int(m.group(2))
    metrics = RunDir(os.path.join(br_dir, m.group(0))).metrics()
    if not metrics or int(metrics[0]["step"]) != start + 1:
      raise LawInputError(f"branch {m.group(0)} did not start from the reference's step "
                          f"{start} (its first step is {metrics[0]['step'] if metrics else '-'}); "
                          "delete it and rerun the sweep, which copies the checkpoint first")
    if int(r["batch_tokens"]) != k * int(ref["batch_tokens"]):
      raise LawInputError(f"branch {m.group(0)} trained at {r['batch_tokens']} tokens per "
                          f"batch, not k·B = {k * int(ref['batch_tokens'])}")
    branches.append(Branch(start, k, float(r["val_loss"]), m.group(0)))
  if not branches:
    raise LawInputError(f"{br_dir} holds no finished branches s<step>_k<k>")
  windows = {}
  for r in rows:
    if m := _NAME.match(str(r.get("name", ""))):
      windows.setdefault(int(m.group(1)), set()).add(
          (int(r["steps"]) - int(m.group(1))) * int(m.group(2)))
  uneven = {s: sorted(w) for s, w in windows.items() if len(w) != 1}
  if uneven:
    raise LawInputError(f"branches from one step cover different windows {uneven} "
                        "(reference steps); give every branch of a point the same tokens")
  other = RunDir(os.path.join(path, "reference_seed1")).evals()
  return {"reference": ref, "ref_loss": ref_loss, "branches": branches,
          "seed1_loss": {int(r["step"]): float(r["val_loss"]) for r in other if "val_loss" in r},
          "window": {s: w.pop() for s, w in windows.items()},
          "batch_tokens": float(ref["batch_tokens"]),
          "noise": noise_curve(ref_dir)}


def _scan_law(scan: str | None) -> dict | None:
  """B*, alpha_B (and levels) of a `scaling-fit bcrit` fit.json, or None."""
  if not scan:
    return None
  import json  # pylint: disable=g-import-not-at-top
  try:
    with open(scan) as f:
      data = json.load(f)
  except (OSError, json.JSONDecodeError) as e:
    raise LawInputError(f"--scan {scan!r} cannot be read ({e}); give the fit.json that "
                        "scaling-fit bcrit wrote for a batch-size scan of this model")
  if not isinstance(data.get("law"), dict) or "b_star_tokens" not in data["law"]:
    raise LawInputError(f"--scan {scan!r} has no B_crit(L) law; give the fit.json of "
                        "scaling-fit bcrit on a batch-size scan")
  return {"path": scan, **data["law"],
          "levels": [{"loss": l["loss"], "b_crit_tokens": l["b_crit_tokens"]}
                     for l in data.get("levels", [])]}


def analyze_sweep(path: str, tolerance: float, scan: str | None = None) -> dict:
  """fit.json of `scaling-fit branches`: B_crit at every branch point."""
  data = read_branch_sweep(path)
  points = critical_batches(data["ref_loss"], data["batch_tokens"], data["window"],
                            data["branches"], tolerance)
  law = _scan_law(scan)
  steps, noise = data["noise"]
  for p in points:
    p.b_noise = float(np.interp(p.start, steps, noise)) if len(steps) else None
    end = p.start + data["window"][p.start]
    if end in data["seed1_loss"]:
      p.seed_spread = abs(data["seed1_loss"][end] - p.loss_ref_end) / (p.loss_start
                                                                      - p.loss_ref_end)
    p.b_crit_scan = (law["b_star_tokens"] / p.loss_start ** (1 / law["alpha_b"])
                     if law else None)
  return {"law": "branches", "input": path, "tolerance": tolerance,
          "batch_tokens": data["batch_tokens"],
          "window_steps": {str(k): v for k, v in data["window"].items()},
          "lr_rule": _lr_rule(data["reference"], data["branches"], path),
          "points": [p.to_dict() for p in points],
          "reference_loss": sorted(data["ref_loss"].items()),
          "noise": {"step": steps.tolist(), "b_noise_tokens": noise.tolist()}, "scan": law}


def _lr_rule(ref: dict, branches: list[Branch], path: str) -> str:
  """The learning rates the branches used, as a multiple of the reference's."""
  rows = {str(r.get("name")): r for r in readers.read_rows(os.path.join(path, "branches"))}
  ratios = sorted({(b.k, round(float(rows[b.name]["lr"]) / float(ref["lr"]), 4))
                   for b in branches if b.name in rows and rows[b.name].get("lr")})
  return ", ".join(f"k={k}: lr×{r:g}" for k, r in ratios) or "-"


def _g(v) -> str:
  return f"{v:9.4g}" if v is not None else f"{'-':>9}"


def report(data: dict) -> list[str]:
  b = data["batch_tokens"]
  lines = [f"critical batch by branching: reference batch B = {b:g} tokens, tolerance "
           f"{data['tolerance']:g} of the window's progress; {data['lr_rule']}",
           f"{'step':>6}{'window':>7}{'tokens':>10}{'loss':>8}{'-> ref':>8}  "
           f"{'loss fraction of progress by k':<34}"
           f"{'B_crit':>9}{'model':>9}{'B_noise':>9}{'scan':>9}  (tokens){'seed Δ':>8}"]
  for p in data["points"]:
    fr = " ".join(f"{k}:{f:.2f}{'' if m else '*'}"
                  for k, f, m in zip(p["ks"][1:], p["fractions"][1:], p["matches"][1:]))
    lines.append(f"{p['start']:>6}{data['window_steps'][str(p['start'])]:>7}"
                 f"{p['tokens']:>10.4g}{p['loss_start']:>8.4f}"
                 f"{p['loss_ref_end']:>8.4f}  {fr:<34}{p['bound']:>2}{p['b_crit']:>7.4g}"
                 f"{_g(p['b_crit_model'])}{_g(p['b_noise'])}{_g(p['b_crit_scan'])}"
                 + (f"{p['seed_spread']:>17.2f}" if p["seed_spread"] is not None else ""))
  lines.append("(* a branch outside the tolerance; B_crit: the largest k·B matching from "
               "k = 1 up; model: Eq. 5.1's fraction (1 + B/B_crit)/(1 + kB/B_crit) fitted;"
               " seed Δ: another seed's reference at the window's end, in units of the"
               " window's progress)")
  if data["scan"]:
    s = data["scan"]
    lines.append(f"scan: B_crit(L) = {s['b_star_tokens']:.4g}/L^(1/{s['alpha_b']:.3f}) from "
                 f"{s['path']}, at the reference's loss at each branch point")
  return lines
