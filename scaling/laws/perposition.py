"""Per-position loss: the law L(T) = a + b·T^(−c) and comparisons of curves.

A per-position curve is the mean evaluation loss (nats/token) at context
positions T = 1..n_ctx, as in `summary.json`'s `per_position_loss` and
`per_position_loss.json`. The fit is scaling.laws' `position` law (robust
log-space fit, bootstrap 95% intervals); this module only adapts a curve to
it. The comparisons are what the Transformer-vs-LSTM experiment (Fig. 7)
reports (compare_lstm_transformer) and the `lstm` finding's check pairs by
(matched_pairs, octave_means). Pure numpy; importing it does not import JAX.
"""

from __future__ import annotations

import math

import numpy as np

from scaling.laws.errors import LawInputError


class PositionFitError(LawInputError):
  """A curve that cannot be fitted; the message says why."""


def _curve(per_position_loss) -> np.ndarray:
  y = np.asarray(per_position_loss, dtype=float).ravel()
  if y.size < 4 or not np.all(np.isfinite(y)) or np.any(y <= 0):
    raise PositionFitError(
        f"per_position_loss needs at least 4 finite positive values (got {y.size}); "
        "evaluate a run with data.seq_len >= 4")
  return y


def fit(per_position_loss, *, bootstrap: int = 200, seed: int = 0,
        t_min: int = 1) -> dict:
  """Fits L(T) = a + b·T^(−c) to positions t_min..n_ctx of a curve.

  Returns {"a", "b", "c", "ci95": {name: (lo, hi)} or None, "r2", "n_points",
  "t_min"}; `bootstrap` resamples positions for the intervals (0: none).
  """
  from scaling.laws.fit import fit_law  # pylint: disable=g-import-not-at-top
  y = _curve(per_position_loss)
  t = np.arange(1, y.size + 1, dtype=float)
  keep = t >= t_min
  result = fit_law("position", {"T": t[keep], "loss": y[keep]},
                   bootstrap=bootstrap, seed=seed)
  return {**{k: float(v) for k, v in result.params.items()},
          "ci95": ({k: (float(lo), float(hi)) for k, (lo, hi) in result.ci95.items()}
                   if result.ci95 else None),
          "r2": float(result.r2), "n_points": int(result.n_points), "t_min": int(t_min)}


def smooth(per_position_loss) -> np.ndarray:
  """A running mean whose window grows with T (T ± T/4, about half an octave).

  Single positions late in the context are noisy (each averages only the
  evaluation sequences); a window that widens with T keeps the steep start
  sharp and averages many positions where the curve is flat.
  """
  y = np.asarray(per_position_loss, dtype=float)
  csum = np.concatenate([[0.0], np.cumsum(y)])
  out = np.empty_like(y)
  for i in range(y.size):
    half = (i + 1) // 4
    lo, hi = max(0, i - half), min(y.size, i + half + 1)
    out[i] = (csum[hi] - csum[lo]) / (hi - lo)
  return out


def plateau(per_position_loss) -> float:
  """The mean loss over the last quarter of the context."""
  y = np.asarray(per_position_loss, dtype=float)
  return float(np.mean(y[-max(1, y.size // 4):]))


def flattening_position(per_position_loss, tol: float = 0.02) -> int:
  """The first position T where the smoothed curve is within `tol` of its plateau.

  The plateau is the mean over the last quarter of the context: from T on,
  the rest of the context is worth less than about `tol` nats per token.
  """
  s = smooth(per_position_loss)
  return int(np.flatnonzero(s <= plateau(per_position_loss) + tol)[0]) + 1


def late_gain(per_position_loss, start: int) -> float:
  """How much the smoothed loss still falls from position `start` to the end."""
  s = smooth(per_position_loss)
  return float(s[start - 1] - s[-1])


def falls_behind_position(lstm_loss, transformer_loss, tol: float = 0.02) -> int | None:
  """The first position T after which the LSTM's smoothed loss stays more than
  `tol` nats above the Transformer's; None if it never does."""
  gap = smooth(lstm_loss) - smooth(transformer_loss)
  behind = gap > tol
  if not behind[-1]:
    return None
  ahead = np.flatnonzero(~behind)
  return int(ahead[-1]) + 2 if ahead.size else 1


# --- LSTMs against Transformers (Fig. 7) --------------------------------------
# A run is a dict with at least "name", "kind" ("lstm" or "transformer"), "N"
# (non-embedding parameters) and "per_position_loss" (scaling.laws.readers.
# position_runs reads them from a sweep; the `lstm` finding's check, from its
# results.jsonl).

def matched_pairs(runs: list[dict]) -> list[tuple[dict, dict]]:
  """Each LSTM with the Transformer of the nearest log N (none without a Transformer)."""
  transformers = [r for r in runs if r["kind"] == "transformer"]
  if not transformers:
    return []
  return [(r, min(transformers, key=lambda t: abs(math.log(t["N"] / r["N"]))))
          for r in runs if r["kind"] == "lstm"]


def octave_means(curve) -> dict:
  """The mean of a curve over positions 1, 2-3, 4-7, ... (the last octave cut at n_ctx)."""
  y = np.asarray(curve, dtype=float)
  n = y.size
  edges = [2 ** k for k in range(int(math.log2(n)) + 1)] + [n + 1]
  return {f"{a}-{b - 1}": float(y[a - 1:b - 1].mean()) for a, b in zip(edges, edges[1:]) if b > a}


def fit_or_error(per_position_loss, **kwargs) -> dict:
  """fit(), or {"error": why} for a curve the law cannot be fitted to."""
  try:
    return fit(per_position_loss, **kwargs)
  except PositionFitError as e:
    return {"error": str(e)}


def curve_stats(per_position_loss, flat_tol: float = 0.02) -> dict:
  """Where a curve flattens (flattening_position with `flat_tol`), its plateau,
  what it still gains over its last 7/8, its octave means and its L(T) fit
  (100 bootstrap resamples, seed 0)."""
  y = per_position_loss
  n = len(y)
  return {"flattens_at": flattening_position(y, flat_tol),
          "plateau": plateau(y),
          "late_gain": late_gain(y, max(1, n // 8)),
          "late_gain_from": max(1, n // 8),
          "octave_means": octave_means(y),
          "fit": fit_or_error(y, bootstrap=100, seed=0)}


def compare_lstm_transformer(runs: list[dict], *, flat_tol: float = 0.02, behind_tol: float = 0.02,
                             source: str = "the runs") -> tuple[dict, list[tuple[dict, dict]]]:
  """Each run's curve_stats and each matched pair's comparison: where the LSTM
  falls behind (falls_behind_position with `behind_tol`), where each curve
  flattens, what each still gains late. Returns ({"settings", "runs" (without
  their curves), "pairs", "lstm_flattens_earlier"}, the matched pairs).
  LawInputError (naming `source`) without both architectures."""
  kinds = {r["kind"] for r in runs}
  if not {"lstm", "transformer"} <= kinds:
    raise LawInputError(f"{source} needs finished LSTM and Transformer runs with "
                        f"per_position_loss; found {sorted(kinds) or 'none'}")
  stats = {r["name"]: curve_stats(r["per_position_loss"], flat_tol) for r in runs}
  pairs = matched_pairs(runs)
  rows = []
  for lstm, trans in pairs:
    a, b = stats[lstm["name"]], stats[trans["name"]]
    rows.append({
        "lstm": lstm["name"], "transformer": trans["name"],
        "N_lstm": lstm["N"], "N_transformer": trans["N"],
        "val_loss_lstm": lstm["val_loss"], "val_loss_transformer": trans["val_loss"],
        "falls_behind_at": falls_behind_position(
            lstm["per_position_loss"], trans["per_position_loss"], behind_tol),
        "flattens_at_lstm": a["flattens_at"], "flattens_at_transformer": b["flattens_at"],
        "late_gain_lstm": a["late_gain"], "late_gain_transformer": b["late_gain"],
        "lstm_flattens_earlier": a["flattens_at"] < b["flattens_at"],
    })
  result = {
      "settings": {"flat_tol": flat_tol, "behind_tol": behind_tol},
      "runs": [{k: v for k, v in r.items() if k != "per_position_loss"} | stats[r["name"]]
               for r in runs],
      "pairs": rows,
      "lstm_flattens_earlier": f"{sum(r['lstm_flattens_earlier'] for r in rows)}/"
                               f"{len(rows)} pairs",
  }
  return result, pairs


def pair_lines(result: dict) -> list[str]:
  """compare_lstm_transformer's result in words: one line a pair, then the count."""
  lines = []
  for row in result["pairs"]:
    behind = row["falls_behind_at"]
    lines.append(
        f"{row['lstm']} (N={row['N_lstm']:,}, loss {row['val_loss_lstm']:.4f}) vs "
        f"{row['transformer']} (N={row['N_transformer']:,}, loss "
        f"{row['val_loss_transformer']:.4f}): curves flatten at positions "
        f"{row['flattens_at_lstm']} and {row['flattens_at_transformer']}; the LSTM "
        + (f"falls behind at position {behind}" if behind else "never falls behind"))
  lines.append(f"the LSTM's curve flattens earlier in {result['lstm_flattens_earlier']}")
  return lines
