"""The checks that turn a finished sweep into a finding's verdict.

Each check is a function `check(finding, sweep, out_dir) -> Verdict`: it reads
`finding.criteria` (never changes them), measures from the SweepDir, draws
the finding's figure into out_dir/<finding.key>.png, and returns a Verdict.
A sweep that cannot show the finding (too few finished runs, a missing
column) raises FindingInputError with one line saying what is missing.
"""

from __future__ import annotations

import importlib
from scaling.errors import UserError

# check name -> the module of this package that defines it
CHECK_MODULES = {
    "holdout_power_law": "ladder",
    "learning_curve_prediction": "ladder",
    "transfer_slope": "ladder",
    "tokens_to_loss": "ladder",
    "frontier": "ladder",
    "shape_spread": "shape",
    "overfitting_collapse": "overfitting",
    "bcrit": "bcrit",
    "per_position_gap": "position",
}

# the checks that read metrics.jsonl (the others read summaries and eval.jsonl)
READS_METRICS = frozenset({"bcrit"})


class FindingInputError(UserError):
  """A sweep directory that cannot show a finding; the message is one line."""


def get(name: str):
  """The check function called `name`."""
  if name not in CHECK_MODULES:
    raise KeyError(f"unknown check {name!r}; known: {', '.join(sorted(CHECK_MODULES))}")
  module = importlib.import_module(f"scaling.findings.checks.{CHECK_MODULES[name]}")
  return getattr(module, name)
