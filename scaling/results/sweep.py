"""A sweep directory: its members' run directories and results.jsonl.

DIR/<member>/      a member's run directory (scaling.results.run)
DIR/results.jsonl  one row per finished member: its summary, `name` and
                   `overrides`; rewritten whole and atomically, so a kill
                   never leaves a half line and each member appears once.
DIR/experiment.json  which experiment file and variant made the sweep
                   ({"path": "experiments/model_size.py", "arg": "cpu",
                   "commit": the code's git commit when known}):
                   what `scaling-report` reads to find its findings.
"""

from __future__ import annotations

import os

from scaling.data.store import locked
from scaling.results import io
from scaling.results.run import RunDir, completed, run_dirs

RESULTS = "results.jsonl"
EXPERIMENT = "experiment.json"


class SweepDir:

  def __init__(self, path: str):
    self.path = path

  @property
  def results_path(self) -> str:
    return os.path.join(self.path, RESULTS)

  def has_results(self) -> bool:
    return os.path.isfile(self.results_path)

  def results(self, *, strict: bool = True) -> list[dict]:
    """The rows of results.jsonl; ResultsError if there is none."""
    if not self.has_results():
      raise io.ResultsError(f"{self.path} has no {RESULTS}; run scaling-sweep there first")
    return io.read_jsonl(self.results_path, strict=strict)

  def write_experiment(self, path: str, arg: str | None, commit: str | None = None) -> None:
    """Records the experiment file and variant that run this sweep, and the
    code commit that ran it (if known)."""
    record = {"path": path, "arg": arg}
    if commit:
      record["commit"] = commit
    io.write_json(os.path.join(self.path, EXPERIMENT), record)

  def experiment(self) -> dict | None:
    """{"path", "arg"} of the experiment that made the sweep, None if unrecorded."""
    path = os.path.join(self.path, EXPERIMENT)
    return io.read_json(path) if os.path.isfile(path) else None

  def member(self, name: str) -> RunDir:
    return RunDir(os.path.join(self.path, name))

  def member_names(self) -> list[str]:
    """The names of DIR's subdirectories, sorted: every member started, finished
    or not (RunDir.summary() tells them apart), read from the directory itself
    rather than results.jsonl."""
    return sorted(name for name in os.listdir(self.path)
                  if os.path.isdir(os.path.join(self.path, name)))

  def run_dirs(self) -> list[str]:
    return run_dirs(self.path)

  def collect(self, members) -> list[dict]:
    """Rewrites results.jsonl from every finished member (name, overrides)."""
    rows = []
    for name, overrides in members:
      summary = self.member(name).summary_or_none()
      if summary and completed(summary):
        rows.append({**summary, "name": name, "overrides": overrides})
    with locked(os.path.join(self.path, ".results.lock")):
      io.write_jsonl(self.results_path, rows, clean=False)
    return rows
