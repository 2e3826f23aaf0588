"""What a finding is, and what checking it gives.

A Finding is declared in an experiment file, next to the variant whose runs
can show it; its `criteria` are the thresholds of the verdict, written (and
committed, on the date in `registered`) before the runs were made. A check
never changes them: it reads them, measures, and returns a Verdict.
"""

from __future__ import annotations

import dataclasses

# criteria keys that name data (which evaluation set), not a threshold: the only
# keys a repeated attempt (Finding.repeats) may set otherwise than its first
DATA_KEYS = frozenset({"other"})

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
NOT_RUN = "not run"
STATUSES = (REPRODUCED, NOT_REPRODUCED, NOT_RUN)


@dataclasses.dataclass(frozen=True)
class Finding:
  key: str          # a stable id: "L_N", "shape", ...
  title: str        # "L(N): a power law in model size"
  claim: str        # the paper's claim, in one or two sentences
  paper: str        # where the paper shows it: "Figs. 1, 6"
  variant: str      # the experiment variant whose runs show it: "cpu"
  check: str        # the check that computes the verdict (scaling.findings.checks)
  criteria: dict    # the verdict's thresholds, fixed before the runs
  registered: str   # the date the criteria were written (YYYY-MM-DD)
  rationale: str = ""  # why this regime, form or threshold
  if_not: str = ""  # what would show it, should the runs here not
  repeats: str = ""  # the key of the finding this one attempts again, if any

  def repeat(self, variant: str, *, suffix: str, title: str, why: str,
             data: dict | None = None) -> "Finding":
    """This finding attempted again on `variant`: key `<key>_<suffix>`, the same
    check and criteria (but the data keys in `data`, spec.DATA_KEYS), `title`
    and `why` appended to the title and the rationale."""
    unknown = set(data or {}) - DATA_KEYS
    if unknown:
      raise ValueError(f"a repeat may change only the data keys {sorted(DATA_KEYS)}, "
                       f"not {sorted(unknown)}")
    return dataclasses.replace(
        self, key=f"{self.key}_{suffix}", variant=variant, repeats=self.key,
        title=f"{self.title} ({title})", criteria={**self.criteria, **(data or {})},
        rationale=f"{self.rationale} {why.strip()}")


@dataclasses.dataclass
class Verdict:
  status: str                 # one of STATUSES
  measured: dict              # the numbers the verdict rests on
  summary: str                # one line: the numbers against the criteria
  figure: str | None = None   # path of the finding's figure, if drawn
  notes: list[str] = dataclasses.field(default_factory=list)

  def __post_init__(self):
    if self.status not in STATUSES:
      raise ValueError(f"verdict status {self.status!r} is not one of {STATUSES}")
