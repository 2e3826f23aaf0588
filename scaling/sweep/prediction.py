"""A law fitted to the smaller models of a sweep predicts the largest one.

  result = predict_largest("runs/model_size", "runs/model_size/fit_N_E", law="N+E",
                           why="...", paper_note="...")

Prints, in this order: the form fitted and why; its constants with 95%
bootstrap intervals; the held-out model's predicted loss and interval; then
its measured loss, the relative error and whether the measurement fell inside
the interval; last, what the paper's constants can be compared with. Writes
fit.json and scaling-fit's figures (the fit, its bootstrap band, the held-out
point and its prediction interval) into `out`. Imports no JAX.
"""

from __future__ import annotations

import textwrap

from scaling.laws import forms
from scaling.laws.report import fit_to_dir
from scaling.sweep.report import finished_runs


def _g(v: float) -> str:
  return f"{v:.4g}"


def predict_largest(sweep_dir: str, out: str, *, law: str = "N+E", why: str = "",
                    paper_note: str = "", bootstrap: int = 200, seed: int = 0,
                    units: str = "nats/token") -> dict:
  """Fits `law` to all but the largest model of `sweep_dir` (scaling-fit law
  LAW DIR --holdout-largest 1 --bootstrap B), prints the prediction before the
  measurement and returns fit.json's data with a "prediction" entry: name,
  N, predicted, predicted_lo, predicted_hi, observed, rel_error, inside."""
  form = forms.get_law(law)
  data, lines = fit_to_dir(law, sweep_dir, out, holdout_largest=1, bootstrap=bootstrap,
                           seed=seed)
  (row,) = data["holdout"]["rows"]
  name = _run_name(sweep_dir, row["N"])
  print(f"L(N) fitted to the {data['n_points']} smaller models; the largest ({name}) "
        "is held out and predicted")
  print(f"form: {form.formula}")
  if why:
    print(textwrap.fill(why, 88, initial_indent="  why: ", subsequent_indent="  "))
  for note in data["notes"]:
    print(f"note: {note}")
  ci = data["ci95"] or {}

  def with_ci(k):
    return f"{k} = {_g(data['params'][k])}" + (f" [{_g(ci[k][0])}, {_g(ci[k][1])}]"
                                               if k in ci else "")
  alpha = [k for k in data["params"] if k.startswith("alpha")]
  for a in alpha:
    print(f"{with_ci(a)} (95% bootstrap interval, {bootstrap} resamples) for "
          f"{form.formula}")
  rest = [with_ci(k) for k in data["params"] if k not in alpha]
  if rest:
    print("  with " + ", ".join(rest))
  lo, hi = row.get("predicted_lo"), row.get("predicted_hi")
  print(f"predicted loss of {name} (N = {row['N']:,.0f}): {row['predicted']:.4f} {units}"
        + (f", 95% bootstrap interval [{lo:.4f}, {hi:.4f}]" if lo is not None else ""))
  if lo is not None:
    print("  (the fit's uncertainty, from resampling the smaller models; run-to-run "
          "noise,\n  0.02-0.05 nats in the paper, comes on top)")
  print(f"measured loss of {name}: {row['observed']:.4f} {units}")
  verdict = ""
  if lo is not None:
    verdict = ": inside the interval" if row["inside"] else ": outside the interval"
  print(f"relative error (predicted/measured - 1) = {row['rel_error']:+.2%}{verdict}")
  if paper_note:
    print(paper_note)
  print(lines[-1])  # wrote fit.json and the figures
  data["prediction"] = {"name": name, **row}
  return data


def _run_name(sweep_dir: str, n: float) -> str:
  names = [r["name"] for r in finished_runs(sweep_dir) if r["n_params_nonembedding"] == n]
  return names[0] if names else f"N={n:,.0f}"
