"""Figures of the LSTM-vs-Transformer comparison (Kaplan et al. Fig. 7): final
loss against N for both architectures, and the per-position loss of matched-N
pairs on log-x axes (runs as scaling.laws.readers.position_runs gives them)."""

from __future__ import annotations

import math

import numpy as np

from scaling import figures
from scaling.laws import perposition as pp


def plot_loss_vs_n(runs: list[dict], path: str) -> str:
  """Final validation loss against N: the Transformers, and the LSTMs by depth."""
  fig, ax = figures.subplots(figsize=(5.5, 4))
  tf = sorted((r for r in runs if r["kind"] == "transformer"), key=lambda r: r["N"])
  ax.plot([r["N"] for r in tf], [r["val_loss"] for r in tf], "o-", color="C0",
          label="Transformers")
  for n_layer, marker in ((1, "s"), (2, "^"), (4, "D")):
    ls = sorted((r for r in runs if r["kind"] == "lstm" and r["n_layer"] == n_layer),
                key=lambda r: r["N"])
    if ls:
      ax.plot([r["N"] for r in ls], [r["val_loss"] for r in ls], marker + "--", color="C3",
              label=f"LSTM, {n_layer} layer{'s' if n_layer > 1 else ''}")
  ax.set_xscale("log")
  ax.set_xlabel("non-embedding parameters N")
  ax.set_ylabel("validation loss (nats/token)")
  ax.set_title("Final loss vs N")
  ax.legend()
  return figures.save(fig, path)


def plot_pairs(pairs: list[tuple[dict, dict]], path: str, behind_tol: float = 0.02) -> str:
  """Per-position loss of each (LSTM, Transformer) pair, raw (faint) and smoothed,
  with where the LSTM falls behind (falls_behind_position with `behind_tol`)."""
  cols = max(1, min(3, len(pairs)))
  rows = max(1, math.ceil(len(pairs) / cols))
  fig, axes = figures.subplots(rows, cols, figsize=(max(4.5 * cols, 6.5), 3.6 * rows + 0.4),
                               squeeze=False)
  for ax, (lstm, trans) in zip(axes.ravel(), pairs):
    for run, color in ((trans, "C0"), (lstm, "C3")):
      y = np.asarray(run["per_position_loss"])
      t = np.arange(1, y.size + 1)
      ax.plot(t, y, color=color, alpha=0.25, lw=0.8)
      ax.plot(t, pp.smooth(y), color=color, lw=1.8,
              label=f"{run['kind']} L{run['n_layer']} d{run['d_model']} (N={run['N']:,})")
    behind = pp.falls_behind_position(lstm["per_position_loss"], trans["per_position_loss"],
                                      behind_tol)
    if behind:
      ax.axvline(behind, color="k", ls=":", lw=1, label=f"LSTM behind from T={behind}")
    ax.set_xscale("log")
    ax.set_xlabel("token position T")
    ax.set_ylabel("loss at T (nats/token)")
    ax.legend(fontsize=7)
  for ax in axes.ravel()[len(pairs):]:
    ax.axis("off")
  fig.suptitle("Per-position loss of matched-N pairs (smoothed over T ± T/4; raw faint)",
               fontsize=10)
  return figures.save(fig, path)
