"""The findings report: every declared finding's verdict, as Markdown.

  rows = write_report(["runs/findings/model_size"], "docs/findings.md",
                      command="scaling-report runs/findings/model_size")

writes docs/findings.md (how it was made; one table with a row per finding;
then a section per finding: claim, rationale, measured values, figure, the
commands that rerun it, and for a finding not reproduced what would show it)
and the figures into docs/findings/img. Verdicts come from the checks only
(scaling.findings.checks); with `export`, each sweep is also copied, trimmed,
into export/<experiment stem>-<variant>/ (scaling.findings.export). Bad input raises
ReportInputError before anything is written.
"""

from __future__ import annotations

import datetime
import json
import os
import platform

from scaling import provenance
from scaling.findings import export as export_lib
from scaling.findings import registry
from scaling.findings.registry import ReportInputError
from scaling.findings.spec import NOT_REPRODUCED, REPRODUCED
from scaling.results import ResultsError
from scaling.results import io
from scaling.sweep import tuning as tuning_lib

_BADGE = {REPRODUCED: "**reproduced**", NOT_REPRODUCED: "**not reproduced**"}


def img_dir_of(out: str) -> str:
  """Where the figures of report `out` go: docs/findings.md -> docs/findings/img."""
  return os.path.join(os.path.splitext(out)[0], "img")


def _git_commit() -> str:
  return provenance.code_commit() or "unknown (not a git checkout)"


def _machine() -> str:
  return f"{platform.platform(terse=True)}, {platform.machine()}, {os.cpu_count()} CPUs"


def _cell(text) -> str:
  return str(text).replace("|", "\\|").replace("\n", " ")


def _num(v) -> str:
  if isinstance(v, bool) or v is None:
    return str(v)
  if isinstance(v, float):
    return f"{v:.4g}"
  if isinstance(v, (list, tuple)) and all(isinstance(x, (int, float)) for x in v):
    return "[" + ", ".join(_num(x) for x in v) + "]"
  if isinstance(v, (list, tuple, dict)):
    return json.dumps(v, default=str)
  return str(v)


def _flat(measured: dict, prefix: str = ""):
  for k, v in measured.items():
    if isinstance(v, dict):
      yield from _flat(v, f"{prefix}{k}.")
    else:
      yield f"{prefix}{k}", v


def criterion_text(finding) -> str:
  items = ", ".join(f"{k} {_num(v)}" for k, v in finding.criteria.items())
  return f"{items} (registered {finding.registered})"


def _rel(path: str, base: str) -> str:
  return os.path.relpath(path, base).replace(os.sep, "/")


def _rerun(d, command: str) -> str:
  return (f"{d.sweep_command()}\n"
          f"scaling-report {d.workdir}   # or add it to: {command}")


def _table(results, base: str) -> list[str]:
  lines = ["| Finding | Paper's claim | Experiment | Measured | Criterion | Verdict | Figure |",
           "|---|---|---|---|---|---|---|"]
  for d, verdict, _ in results:
    f = d.finding
    figure = f"[{f.key}.png]({_rel(verdict.figure, base)})" if verdict.figure else "—"
    lines.append("| " + " | ".join(_cell(c) for c in (
        f"[{f.title}](#{f.key.lower()})", f"{f.claim} ({f.paper})",
        f"[`{d.stem}.py:{f.variant}`]({_rel(d.experiment, base)})",
        verdict.summary, criterion_text(f),
        _BADGE.get(verdict.status, verdict.status), figure)) + " |")
  return lines


def _section(d, verdict, sweep, base: str, command: str) -> list[str]:
  f = d.finding
  lines = [f"<a id=\"{f.key.lower()}\"></a>", f"## {f.title}", "",
           f"**{verdict.status}** — {verdict.summary}", "",
           f"- Finding: `{f.key}`; the paper: {f.claim} ({f.paper})",
           f"- Experiment: [`{d.spec}`]({_rel(d.experiment, base)})"
           + (f", sweep `{sweep.path}`" if sweep else "")
           + (f", runs made by the code at commit {sweep.commit}" if sweep and sweep.commit
              else ""),
           f"- Check: `{f.check}`; criterion: {criterion_text(f)}"]
  if f.rationale:
    lines += ["", f"Rationale (registered before the runs): {f.rationale}"]
  if verdict.measured:
    lines += ["", "| measured | value |", "|---|---|"]
    lines += [f"| {_cell(k)} | {_cell(_num(v))} |" for k, v in _flat(verdict.measured)]
  if verdict.notes:
    lines += [""] + [f"- {n}" for n in verdict.notes]
  if verdict.figure:
    lines += ["", f"![{f.key}]({_rel(verdict.figure, base)})"]
  if verdict.status == NOT_REPRODUCED and f.if_not:
    lines += ["", f"**What was tried, and what scale would show it:** {f.if_not}"]
  lines += ["", "Rerun from scratch:", "", "```sh", _rerun(d, command), "```", ""]
  return lines


def newest_attempts(results) -> dict:
  """{first attempt's key: (declared, verdict)} of each finding's newest attempt:
  the last declared of the first attempt and its repeats (results in ORDER)."""
  newest = {}
  for d, verdict, _ in results:
    newest[d.finding.repeats or d.finding.key] = (d, verdict)
  return newest


def _newest_line(results) -> str:
  newest = newest_attempts(results).values()
  by_status = {s: [d.finding.key for d, v in newest if v.status == s]
               for s in (REPRODUCED, NOT_REPRODUCED, "not run")}
  return (f"Newest attempt of each of the {len(newest)} findings: "
          + "; ".join(f"{len(keys)} {status}" + (f" ({', '.join(keys)})" if keys else "")
                      for status, keys in by_status.items()) + ".")


def render(results, out: str, command: str, exported: list[str] | None = None) -> str:
  """The report's Markdown for [(declared, verdict, sweep)], written at `out`;
  `exported`: the trimmed copies of the sweeps, if any."""
  base = os.path.dirname(os.path.abspath(out))
  counts = {s: sum(v.status == s for _, v, _ in results)
            for s in (REPRODUCED, NOT_REPRODUCED, "not run")}
  now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
  lines = ["# Findings: Kaplan et al. (2020), reproduced at small scale", "",
           "Generated by the code, not by hand: regenerate with", "",
           "```sh", command, "```", "",
           f"on {now}, code at commit {_git_commit()}, on {_machine()}. Each finding's "
           "criteria were written in its experiment file before its runs "
           "(the date is in the Criterion column); the verdicts are computed from the "
           "runs by scaling.findings.checks.",
           "", f"{counts[REPRODUCED]} reproduced, {counts[NOT_REPRODUCED]} not reproduced, "
           f"{counts['not run']} not run.", "", _newest_line(results), ""]
  if exported:
    lines += ["The runs behind it, trimmed to what the checks read, are in "
              f"{', '.join(f'`{e}`' for e in exported)}; "
              f"`scaling-report {' '.join(exported)}` gives the same verdicts.", ""]
  lines += _table(results, base) + [""]
  for d, verdict, sweep in results:
    lines += _section(d, verdict, sweep, base, command)
  lines += _grids(results)
  return "\n".join(lines)


def _grids(results) -> list[str]:
  """One table per tuned sweep: every model's whole grid of final tuning losses,
  the chosen point in bold, and where the optimum sits at the grid's edge."""
  lines, seen = [], set()
  for d, _, sweep in results:
    if d.tuning is None or sweep is None or sweep.path in seen:
      continue
    seen.add(sweep.path)
    try:
      view = registry.view(sweep.path, d.tuning)
    except ResultsError as e:
      lines += [f"## Tuning grid of `{sweep.path}`", "", f"not scored: {e}", ""]
      continue
    points = d.tuning.points()
    head = [tuning_lib.point_name(p) for p in points]
    lines += [f"## Tuning grid of `{sweep.path}`", "",
              f"{'Final' if d.tuning.score == 'final' else 'Lowest (early-stopped)'} "
              f"{d.tuning.loss_key} (the tuning split, which no finding reads) of each "
              "model at each grid point, the mean over its seeds; the chosen point in bold. "
              "The findings above read the chosen members only.", "",
              "| model | " + " | ".join(head) + " | chosen | at the grid's edge |",
              "|---|" + "---|" * (len(head) + 2)]
    for choice in view.choices:
      by_point = {repr(p.point): p for p in choice.points}
      cells = []
      for p in points:
        gp = by_point.get(repr(p))
        cell = "–" if gp is None else f"{gp.score:.4f}"
        cells.append(f"**{cell}**" if gp is choice.chosen else cell)
      model = ", ".join(f"{k.rpartition('.')[2]}={v}" for k, v in choice.model.items())
      lines.append(f"| {_cell(model)} | " + " | ".join(cells)
                   + f" | {choice.chosen.members[0] if choice.complete else 'grid not finished'}"
                   + f" | {', '.join(choice.at_edge) or 'no'} |")
    lines.append("")
  return lines


def write_report(sweep_dirs, out: str = "docs/findings.md",
                 experiments_dir: str = "experiments", export: str | None = None,
                 command: str | None = None):
  """Checks every declared finding against `sweep_dirs`, writes the report at
  `out` (figures in img_dir_of(out)); returns [(declared, verdict, sweep)]."""
  sweeps = [registry.read_sweep(p) for p in sweep_dirs]
  declared = registry.collect(experiments_dir)
  registry.match(declared, sweeps)  # raises before anything is written
  command = command or "scaling-report " + " ".join(sweep_dirs) + f" --out {out}"
  exported = []
  if export:
    names = [s.name for s in sweeps]
    if len(set(names)) < len(names):
      raise ReportInputError("--export names each copy after its experiment and variant, "
                             "and two sweeps share them; export them one at a time")
    try:
      for s in sweeps:
        exported.append(os.path.join(export, s.name))
        export_lib.export_sweep(s.path, exported[-1], metrics=registry.reads_metrics(declared, s))
    except (OSError, ResultsError) as e:
      raise ReportInputError(f"cannot export to {export}: {e}") from None
  img_dir = img_dir_of(out)
  os.makedirs(img_dir, exist_ok=True)
  results = registry.evaluate(declared, sweeps, img_dir)
  try:
    io.write_text(out, render(results, out, command, exported))
  except OSError as e:
    raise ReportInputError(f"cannot write {out}: {e.strerror or e}") from None
  return results


def summary_lines(results) -> list[str]:
  """One line per finding: key, verdict, the measured summary."""
  width = max(len(d.finding.key) for d, _, _ in results)
  return [f"{d.finding.key:<{width}}  {v.status:<15} {v.summary}" for d, v, _ in results]
