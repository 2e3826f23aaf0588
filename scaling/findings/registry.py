"""Which findings exist, and which sweep shows each: the findings declared in
the experiment files (their `FINDINGS`), matched with the sweep directories
scaling-sweep made (DIR/experiment.json), and checked into Verdicts.

  declared = collect("experiments")
  sweeps = [read_sweep("runs/findings/model_size")]
  for d, verdict, sweep_path in evaluate(declared, sweeps, "docs/findings/img"): ...

A finding whose experiment and variant no given sweep ran is "not run", with
the scaling-sweep command that would run it; a sweep that cannot show it is
"not run" with the check's one-line reason.
"""

from __future__ import annotations

import dataclasses
import glob
import os

from scaling import pyfile
from scaling.findings import checks
from scaling.findings.spec import DATA_KEYS, NOT_RUN, Finding, Verdict
from scaling.findings.tuned import TunedSweep
from scaling.laws.errors import LawInputError
from scaling.results import ResultsError, SweepDir
from scaling.results.sweep import EXPERIMENT, RESULTS
from scaling.sweep.tuning import point_name
from scaling.errors import UserError


class ReportInputError(UserError):
  """Input the findings report cannot use; the message is one line."""


@dataclasses.dataclass(frozen=True)
class Declared:
  """A finding and the experiment file that declares it; `tuning`: the
  variant's grid protocol (scaling.sweep.tuning.Tuning), if it declares one."""
  finding: Finding
  experiment: str  # path of the experiment file: experiments/model_size.py
  tuning: object = None
  index: int = 0   # its place in the file's FINDINGS: repeats are declared in the order made

  @property
  def stem(self) -> str:
    return os.path.splitext(os.path.basename(self.experiment))[0]

  @property
  def spec(self) -> str:
    return f"{self.experiment}:{self.finding.variant}"

  @property
  def workdir(self) -> str:
    """Where the report's commands put this finding's sweep."""
    return f"runs/findings/{self.stem}-{self.finding.variant}"

  def sweep_command(self) -> str:
    return (f"scaling-sweep --config experiments/{self.stem}.py:{self.finding.variant} "
            f"--workdir {self.workdir}")


@dataclasses.dataclass(frozen=True)
class Sweep:
  """A sweep directory and the experiment (file stem, variant) that made it."""
  path: str
  experiment: str  # as recorded: experiments/model_size.py
  arg: str | None
  commit: str | None = None  # the code that ran it, as scaling-sweep recorded it

  @property
  def stem(self) -> str:
    return os.path.splitext(os.path.basename(self.experiment))[0]

  @property
  def name(self) -> str:
    """experiment-variant: the name of its exported copy."""
    return f"{self.stem}-{self.arg}" if self.arg else self.stem


def reads_metrics(declared: list[Declared], sweep: Sweep) -> bool:
  """Whether any finding `sweep` shows is checked from its metrics.jsonl."""
  return any(d.finding.check in checks.READS_METRICS for d in declared
             if d.stem == sweep.stem and d.finding.variant == sweep.arg)


# The report's order: the paper's argument (as issue #15 lists the findings);
# a repeated attempt (Finding.repeats) follows its first; other keys come last.
ORDER = ("shape", "L_N", "L_N_D", "L_N_S", "transfer", "sample_efficiency",
         "compute_frontier", "lstm", "B_crit")


def _order(d: Declared) -> tuple:
  base = d.finding.repeats or d.finding.key
  return (ORDER.index(base) if base in ORDER else len(ORDER), bool(d.finding.repeats),
          d.experiment, d.index)


def collect(experiments_dir: str = "experiments") -> list[Declared]:
  """Every finding declared in experiments_dir/*.py, in the report's ORDER."""
  paths = sorted(glob.glob(os.path.join(experiments_dir, "*.py")))
  if not paths:
    raise ReportInputError(f"{experiments_dir} has no experiment files (*.py); "
                           "give --experiments the experiments directory")
  declared, seen = [], {}
  for path in paths:
    try:
      module = pyfile.load(path, "experiment")
    except Exception as e:  # pylint: disable=broad-except
      raise ReportInputError(f"cannot load {path}: {type(e).__name__}: {e}") from None
    for index, finding in enumerate(getattr(module, "FINDINGS", ())):
      if finding.key in seen:
        raise ReportInputError(f"finding {finding.key!r} is declared in both "
                               f"{seen[finding.key]} and {path}")
      seen[finding.key] = path
      tuning = getattr(module, "TUNING", {}).get(finding.variant)
      declared.append(Declared(finding, path, tuning, index))
  same_criteria(declared)
  return sorted(declared, key=_order)


def same_criteria(declared: list[Declared]) -> None:
  """Refuses a repeated attempt whose criteria differ from its first attempt's
  in anything but the keys that name data (spec.DATA_KEYS): a repeat may change
  the runs, never a threshold."""
  by_key = {d.finding.key: d.finding for d in declared}
  for d in declared:
    f = d.finding
    if not f.repeats:
      continue
    first = by_key.get(f.repeats)
    if first is None:
      raise ReportInputError(f"finding {f.key} repeats {f.repeats!r}, which no experiment "
                             "file declares")
    keys = (set(f.criteria) | set(first.criteria)) - DATA_KEYS
    changed = sorted(k for k in keys if f.criteria.get(k) != first.criteria.get(k))
    if f.check != first.check or changed:
      what = ", ".join(f"{k}: {first.criteria.get(k)!r} -> {f.criteria.get(k)!r}"
                       for k in changed) or f"check {first.check} -> {f.check}"
      raise ReportInputError(f"finding {f.key} repeats {first.key} with other criteria "
                             f"({what}); a repeat keeps every threshold of its first attempt")


def read_sweep(path: str) -> Sweep:
  """The sweep at `path`; ReportInputError unless scaling-sweep made it."""
  sweep = SweepDir(path)
  if not os.path.isdir(path):
    raise ReportInputError(f"{path} is not a directory; give a scaling-sweep --workdir")
  try:
    record = sweep.experiment()
  except ResultsError as e:
    raise ReportInputError(str(e)) from None
  for name, present in ((EXPERIMENT, record is not None), (RESULTS, sweep.has_results())):
    if not present:
      raise ReportInputError(f"{path} has no {name}; it was not made by scaling-sweep "
                             "(or rerun scaling-sweep there)")
  if not isinstance(record, dict) or not record.get("path"):
    raise ReportInputError(f"{path}/{EXPERIMENT} names no experiment file (\"path\")")
  return Sweep(path, str(record["path"]), record.get("arg"), record.get("commit"))


def match(declared: list[Declared], sweeps: list[Sweep]) -> dict[str, Sweep]:
  """finding key -> the sweep that shows it (its experiment at its variant)."""
  stems = {d.stem for d in declared}
  found: dict[str, Sweep] = {}
  for sweep in sweeps:
    if sweep.stem not in stems and not os.path.isfile(sweep.experiment):
      raise ReportInputError(f"{sweep.path} was made by {sweep.experiment}, which is not "
                             "among the experiment files (--experiments)")
    for d in declared:
      if d.stem == sweep.stem and d.finding.variant == sweep.arg:
        if d.finding.key in found:
          raise ReportInputError(f"finding {d.finding.key} is shown by two sweeps, "
                                 f"{found[d.finding.key].path} and {sweep.path}; give one")
        found[d.finding.key] = sweep
  return found


def not_run(reason: str) -> Verdict:
  return Verdict(NOT_RUN, {}, reason)


def view(sweep_path: str, tuning=None):
  """What a finding reads of a sweep: the SweepDir, or with a tuning protocol
  the chosen members only (scaling.findings.tuned)."""
  sweep = SweepDir(sweep_path)
  if tuning is None:
    return sweep
  return TunedSweep(sweep, tuning)


def _with_tuning(verdict: Verdict, sweep) -> Verdict:
  """Adds what a tuned sweep tried (each model's chosen grid point, and how many
  sit at the grid's edge) and the seeds' run-to-run noise to a verdict."""
  if not hasattr(sweep, "noise"):
    return verdict
  done = [c for c in sweep.choices if c.complete]
  edge = [c.chosen.members[0] for c in done if c.at_edge]
  grid = ", ".join(f"{k} {' / '.join(f'{v:g}' for v in vs)}" for k, vs in sweep.tuning.grid.items())
  verdict.notes.append(
      f"Tuned: each of {len(done)} models at its best of {grid} by the tuning split "
      f"(chosen: {', '.join(point_name(c.chosen.point) for c in done)}); "
      + (f"{len(edge)} optima at the grid's edge ({', '.join(edge)}), so a wider grid "
         "might lower them" if edge else "every optimum inside the grid")
      + (f"; {len(sweep.choices) - len(done)} models' grids not finished, not judged"
         if len(done) < len(sweep.choices) else "") + ".")
  noise = sweep.noise()
  if noise:
    verdict.measured["run_to_run"] = {name: round(100 * v, 3) for name, v in noise.items()}
    verdict.notes.append("Run-to-run noise (seeds at the chosen settings; sample standard "
                         "deviation of the final val_loss, % of its mean): " + ", ".join(
                             f"{name} {100 * v:.2f}% ({len(sweep.replicates()[name])} seeds)"
                             for name, v in noise.items()))
  return verdict


def check(finding: Finding, sweep_path: str, out_dir: str, tuning=None) -> Verdict:
  """The finding's verdict from one sweep; "not run" when the sweep cannot show it."""
  try:
    fn = checks.get(finding.check)
  except (KeyError, ImportError, AttributeError) as e:
    return not_run(f"check {finding.check!r} is not available ({e})")
  try:
    sweep = view(sweep_path, tuning)
    return _with_tuning(fn(finding, sweep, out_dir), sweep)
  except (checks.FindingInputError, LawInputError, ResultsError) as e:
    return not_run(str(e).splitlines()[0] if str(e) else type(e).__name__)


def evaluate(declared: list[Declared], sweeps: list[Sweep], out_dir: str):
  """[(declared, verdict, sweep or None)] for every declared finding."""
  shown = match(declared, sweeps)
  out = []
  for d in declared:
    sweep = shown.get(d.finding.key)
    if sweep is None:
      others = [s.path for s in sweeps if s.stem == d.stem]
      reason = (f"the sweep given ({', '.join(others)}) ran another variant; "
                if others else "no sweep given; ")
      out.append((d, not_run(reason + f"run: {d.sweep_command()}"), None))
    else:
      out.append((d, check(d.finding, sweep.path, out_dir, d.tuning), sweep))
  return out
