"""Synthetic sweep directories for the findings tests: what scaling-sweep
leaves on disk (experiment.json, results.jsonl, each member's summary.json,
eval.jsonl, metrics.jsonl), written through the results layer from numbers a
test chooses, so a check's verdict has a known answer."""

from __future__ import annotations

import dataclasses
import os

from scaling.results import RunDir, SweepDir


@dataclasses.dataclass
class Member:
  name: str
  summary: dict                                  # summary.json fields (status: completed)
  evals: list = dataclasses.field(default_factory=list)    # eval.jsonl rows
  metrics: list = dataclasses.field(default_factory=list)  # metrics.jsonl rows
  overrides: dict = dataclasses.field(default_factory=dict)


def write_sweep(path: str, experiment: str, arg: str | None, members: list[Member]) -> SweepDir:
  """A finished sweep of `members` made by `experiment` (e.g.
  "experiments/model_size.py") at variant `arg`."""
  sweep = SweepDir(path)
  for m in members:
    run = sweep.member(m.name)
    os.makedirs(run.path, exist_ok=True)
    run.write_summary({"name": m.name, "status": "completed", **m.summary})
    if m.evals:
      run.evals_writer().write(list(m.evals))
    if m.metrics:
      run.metrics_writer().write(list(m.metrics))
  sweep.write_experiment(experiment, arg)
  sweep.collect([(m.name, m.overrides) for m in members])
  return sweep
