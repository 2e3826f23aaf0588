"""A sweep trimmed to what its findings read, small enough to commit beside
the report: experiment.json, results.jsonl, and for each member summary.json,
config.json, eval.jsonl, per_position_loss.json (if any) and, where a check
reads it (checks.READS_METRICS), metrics.jsonl with every row but only the
columns the checks read (step, tokens, loss and
the raw gradient-noise estimates that B_crit's check compares, as
scaling.laws.bcrit reads them). scaling-report reads it as it reads the sweep
itself, and gives the same verdicts.
"""

from __future__ import annotations

import json
import os
import shutil

from scaling.results import ResultsError, SweepDir
from scaling.results import io
from scaling.results.run import CONFIG, EVALS, METRICS, PER_POSITION, SUMMARY
from scaling.results.sweep import EXPERIMENT, RESULTS

METRIC_COLUMNS = ("step", "tokens", "loss", "gns_trace_sigma_raw", "gns_g2_raw",
                  "gns_b_simple_tokens")
_COPIED = (SUMMARY, CONFIG, EVALS, PER_POSITION)


def _float32(v):
  """A logged float32 at the 9 significant digits that keep it exact."""
  return float(f"{v:.9g}") if isinstance(v, float) else v


def thin_metrics(rows: list[dict]) -> list[dict]:
  """Every row, with only the columns a check reads, each float at float32's
  precision (what the trainer logged)."""
  return [{k: _float32(r[k]) for k in METRIC_COLUMNS if k in r} for r in rows]


def _read(path: str) -> bytes:
  with open(path, "rb") as f:
    return f.read()


def export_sweep(src: str, dest: str, *, metrics: bool = True) -> list[str]:
  """Writes the trimmed copy of sweep `src` into `dest` (replacing an earlier
  export there); returns the files written. metrics=False leaves out
  metrics.jsonl (for sweeps whose checks read only summaries and eval.jsonl)."""
  if os.path.realpath(src) == os.path.realpath(dest):
    raise ResultsError(f"--export would overwrite the sweep {src} itself; give another directory")
  sweep = SweepDir(src)
  rows = sweep.results()
  if os.path.isdir(dest):
    if not os.path.isfile(os.path.join(dest, EXPERIMENT)):
      raise ResultsError(f"{dest} exists and is not an exported sweep; remove it or "
                         "give another --export directory")
    shutil.rmtree(dest)
  written = io.write_files(dest, {EXPERIMENT: _read(os.path.join(src, EXPERIMENT)),
                                  RESULTS: _read(sweep.results_path)})
  for row in rows:
    run = sweep.member(row["name"])
    files = {name: _read(run.file(name)) for name in _COPIED if run.exists(name)}
    rows_m = thin_metrics(run.metrics()) if metrics else []
    if rows_m:
      files[METRICS] = "".join(json.dumps(r) + "\n" for r in rows_m).encode()
    written += io.write_files(os.path.join(dest, row["name"]), files)
  return written
