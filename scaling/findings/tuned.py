"""A tuned sweep as its findings see it: each model's chosen member only, and
nothing of the tuning split.

    view = TunedSweep(SweepDir("runs/findings/model_size-nltk"), tuning)
    view.results()          # one row per model whose grid has finished: its
                            # chosen member, seed 0
    view.member(name)       # that member's run, its evaluations without val_*/tune
    view.replicates()       # {chosen member: [final val_loss of each seed]}
    view.choices            # every model's whole grid (scaling.sweep.tuning.select)

A check given the view reads what it reads from a SweepDir; asking for a
member that was not chosen, or a column of the tuning split, cannot happen:
the view has no such member, and strips every `*/<metric>` key before a
check sees a row.
"""

from __future__ import annotations

import statistics

from scaling.results import ResultsError, SweepDir
from scaling.sweep import tuning as tuning_lib


def _clean(row: dict, suffix: str) -> dict:
  return {k: v for k, v in row.items() if not k.endswith(suffix)}


class TunedRun:
  """A chosen member's run directory, without the tuning split's columns."""

  def __init__(self, run, suffix: str):
    self._run, self._suffix = run, suffix
    self.path = run.path

  def evals(self) -> list[dict]:
    return [_clean(r, self._suffix) for r in self._run.evals()]

  def metrics(self) -> list[dict]:
    return self._run.metrics()

  def summary_or_none(self) -> dict | None:
    summary = self._run.summary_or_none()
    return _clean(summary, self._suffix) if summary else None

  def per_position(self) -> dict | None:
    return self._run.per_position()

  def config(self):
    return self._run.config()


class TunedSweep:
  """`sweep` (a SweepDir) through `tuning` (scaling.sweep.tuning.Tuning)."""

  def __init__(self, sweep: SweepDir, tuning: tuning_lib.Tuning):
    self._sweep, self.tuning, self.path = sweep, tuning, sweep.path
    self._suffix = "/" + tuning.metric
    rows = sweep.results()
    grid = [{"name": r["name"], "overrides": r.get("overrides"),
             "evals": sweep.member(r["name"]).evals()} for r in rows]
    try:
      self.choices = tuning_lib.select(grid, tuning)
    except tuning_lib.TuningError as e:
      raise ResultsError(f"{sweep.path}: {e}") from None
    self._by_name = {r["name"]: r for r in rows}
    # a model whose grid is still running has no choice yet: no finding sees it
    self._chosen = [c.chosen.members[0] for c in self.choices if c.complete]

  def results(self, *, strict: bool = True) -> list[dict]:
    del strict
    return [_clean(self._by_name[name], self._suffix) for name in self._chosen]

  def member(self, name: str) -> TunedRun:
    if name not in self._chosen:
      raise ResultsError(f"{self.path}: member {name} was not chosen by the tuning "
                         "split; a finding reads chosen members only")
    return TunedRun(self._sweep.member(name), self._suffix)

  def replicates(self) -> dict[str, list[float]]:
    """{chosen member: the final val_loss of every seed at its grid point}, for
    the models trained with more than one seed."""
    out = {}
    for choice in self.choices:
      if choice.complete and len(choice.chosen.members) > 1:
        out[choice.chosen.members[0]] = [
            float(self._by_name[m]["val_loss"]) for m in choice.chosen.members]
    return out

  def noise(self) -> dict[str, float]:
    """{chosen member: the seeds' sample standard deviation of the final
    val_loss, relative to their mean}: the run-to-run noise beside an error."""
    return {name: statistics.stdev(v) / statistics.fmean(v)
            for name, v in self.replicates().items() if len(v) > 1}
