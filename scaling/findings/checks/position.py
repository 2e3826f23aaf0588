"""The `lstm` finding (Kaplan et al. Fig. 7): LSTMs match Transformers early, then fall behind.

The sweep (experiments/lstm_vs_transformer.py) trains LSTMs and Transformers;
each LSTM is matched with the Transformer of the nearest log N
(scaling.laws.perposition.matched_pairs, as that file's analysis pairs them).
From the summaries' per_position_loss (positions T = 1..n_ctx), Δ(T) = LSTM −
Transformer. Early: |mean Δ over T ≤ early_last| ≤ max_early_gap; late: mean Δ
over the last late_fraction of the context ≥ min_late_gap; reproduced when both
hold for every pair.
"""

from __future__ import annotations

import os

import numpy as np

from scaling.findings import spec
from scaling import figures
from scaling.findings.checks import FindingInputError
from scaling.laws import perposition


def _kind(sweep, row) -> str:
  kind = row.get("model_kind") or (row.get("overrides") or {}).get("model.kind")
  return kind or sweep.member(row["name"]).config().model.kind  # older summaries


def _runs(sweep) -> list[dict]:
  runs = []
  for row in sweep.results():
    if not row.get("per_position_loss") or not row.get("n_params_nonembedding"):
      continue
    runs.append({"name": row["name"], "kind": _kind(sweep, row),
                 "N": int(row["n_params_nonembedding"]),
                 "per_position_loss": np.asarray(row["per_position_loss"], dtype=float)})
  kinds = {r["kind"] for r in runs}
  if not {"lstm", "transformer"} <= kinds:
    raise FindingInputError(f"{sweep.path}: needs finished LSTM and Transformer members with "
                            f"per_position_loss; found {sorted(kinds) or 'none'}")
  return runs


def windows(n_ctx: int, criteria: dict) -> tuple[int, int]:
  """(last early position, first late position), 1-based."""
  n_late = max(1, int(round(criteria["late_fraction"] * n_ctx)))
  return min(int(criteria["early_last"]), n_ctx), n_ctx - n_late + 1


def measure_pair(lstm: dict, trans: dict, criteria: dict, path: str) -> dict:
  n_ctx = lstm["per_position_loss"].size
  if trans["per_position_loss"].size != n_ctx:
    raise FindingInputError(
        f"{path}: {lstm['name']} and {trans['name']} have per_position_loss of "
        f"{n_ctx} and {trans['per_position_loss'].size} positions; evaluate both at one n_ctx")
  early_last, late_first = windows(n_ctx, criteria)
  if late_first <= early_last:
    raise FindingInputError(f"{path}: a context of {n_ctx} positions leaves no late window "
                            f"after T = {early_last}")
  delta_t = lstm["per_position_loss"] - trans["per_position_loss"]
  early, late = float(delta_t[:early_last].mean()), float(delta_t[late_first - 1:].mean())
  return {"lstm": lstm["name"], "transformer": trans["name"], "N_lstm": lstm["N"],
          "N_transformer": trans["N"], "n_ctx": n_ctx, "early_window": [1, early_last],
          "late_window": [late_first, n_ctx], "early_gap": early, "late_gap": late,
          "early_ok": abs(early) <= criteria["max_early_gap"],
          "late_ok": late >= criteria["min_late_gap"],
          "octave_means": perposition.octave_means(delta_t)}


def per_position_gap(finding: spec.Finding, sweep, out_dir: str) -> spec.Verdict:
  c = finding.criteria
  pairs = perposition.matched_pairs(_runs(sweep))
  rows = [measure_pair(lstm, trans, c, sweep.path) for lstm, trans in pairs]
  ok = all(r["early_ok"] and r["late_ok"] for r in rows)
  figure = _plot(pairs, rows, c, os.path.join(out_dir, finding.key + ".png"))
  summary = "; ".join(
      f"{r['lstm']} - {r['transformer']} (n_ctx {r['n_ctx']}): early gap "
      f"{r['early_gap']:+.3f} nats over T 1-{r['early_window'][1]} (|.| <= "
      f"{c['max_early_gap']:g}), late gap {r['late_gap']:+.3f} over T "
      f"{r['late_window'][0]}-{r['late_window'][1]} (>= {c['min_late_gap']:g})" for r in rows)
  return spec.Verdict(status=spec.REPRODUCED if ok else spec.NOT_REPRODUCED,
                      measured={"pairs": rows, "n_ctx": rows[0]["n_ctx"]},
                      summary=summary, figure=figure)


def _plot(pairs, rows, criteria, path) -> str:
  fig, axes = figures.subplots(2, len(pairs), figsize=(5.5 * len(pairs), 6.4), squeeze=False,
                           sharex="col")
  for col, ((lstm, trans), row) in enumerate(zip(pairs, rows)):
    top, bottom = axes[0][col], axes[1][col]
    t = np.arange(1, row["n_ctx"] + 1)
    for run, color in ((trans, "C0"), (lstm, "C3")):
      y = run["per_position_loss"]
      top.plot(t, y, color=color, alpha=0.25, lw=0.8)
      top.plot(t, perposition.smooth(y), color=color, lw=1.8,
               label=f"{run['name']} (N={run['N']:,})")
    delta_t = lstm["per_position_loss"] - trans["per_position_loss"]
    bottom.plot(t, delta_t, color="k", alpha=0.25, lw=0.8)
    bottom.plot(t, perposition.smooth(delta_t), color="k", lw=1.6, label="Δ(T), smoothed")
    bottom.axhline(0, color="0.6", lw=0.8)
    bottom.hlines([-criteria["max_early_gap"], criteria["max_early_gap"]], 1,
                  row["early_window"][1], colors="C2", linestyles="--", lw=1)
    bottom.hlines(criteria["min_late_gap"], *row["late_window"], colors="C1",
                  linestyles="--", lw=1)
    for ax in (top, bottom):
      ax.axvspan(1, row["early_window"][1], color="C2", alpha=0.12)
      ax.axvspan(*row["late_window"], color="C1", alpha=0.12)
      ax.set_xscale("log")
    bottom.set_title(f"early {row['early_gap']:+.3f}, late {row['late_gap']:+.3f} nats",
                     fontsize=9)
    top.set_ylabel("loss at T (nats/token)")
    bottom.set_ylabel("LSTM - Transformer (nats)")
    bottom.set_xlabel("token position T")
    top.legend(fontsize=7)
    bottom.legend(fontsize=7)
  fig.suptitle("Per-position loss of matched pairs (early window green, late orange)",
               fontsize=10)
  return figures.save(fig, path)
