"""A plain table of a sweep's finished runs: N, D, C and the losses."""

from __future__ import annotations

from scaling.results import SweepDir


def finished_runs(sweep_dir: str) -> list[dict]:
  """results.jsonl's rows; ResultsError (a ValueError) if the sweep has none."""
  return SweepDir(sweep_dir).results()


def print_runs(sweep_dir: str, extra: tuple[str, ...] = (), hide_largest: int = 0) -> list[dict]:
  """Prints the finished runs by N (all but the `hide_largest` largest, whose
  losses a prediction comes before) and returns them all."""
  rows = sorted(finished_runs(sweep_dir), key=lambda r: r["n_params_nonembedding"])
  shown = rows[:len(rows) - hide_largest] if hide_largest else rows
  head = f"{'run':<16}{'N':>11}{'D (tokens)':>13}{'C (FLOP)':>11}{'val loss':>10}{'bits/byte':>11}"
  print(head + "".join(f" {k:>22}" for k in extra))
  for r in shown:
    print(f"{r['name']:<16}{r['n_params_nonembedding']:>11,}{r['tokens_seen']:>13,}"
          f"{r['compute_flops']:>11.2e}{r['val_loss']:>10.4f}{r['val_bpb']:>11.4f}"
          + "".join(f" {r.get(k, float('nan')):>22.6g}" for k in extra))
  for r in rows[len(shown):]:
    print(f"{r['name']:<16}{r['n_params_nonembedding']:>11,}{r['tokens_seen']:>13,}"
          f"{r['compute_flops']:>11.2e}  (held out: its loss comes after the prediction)")
  return rows
