"""scaling-report: the findings report, docs/findings.md, from finished sweeps.

  scaling-report DIR... [--out docs/findings.md] [--experiments experiments]
                        [--export docs/findings]

Every finding declared in the experiment files (their FINDINGS) gets a row:
checked against the sweep DIR whose experiment.json names its experiment and
variant, or "not run" with the command that would run it. Writes the Markdown
and its figures (beside it, in <out without .md>/img), prints one line per
finding (key, verdict, measured numbers); with --export, also copies each
sweep, trimmed to kilobytes, into EXPORT/<experiment>/, which scaling-report
reads as it reads the sweep. Bad input: one `error: ...` line, exit code 2,
nothing written.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from scaling.cli import EXIT_BAD_INPUT, Parser, examples, script
from scaling.findings.registry import ReportInputError


def build_parser() -> argparse.ArgumentParser:
  p = Parser(prog="scaling-report", error=ReportInputError,
             description=__doc__.split("\n\n")[0], formatter_class=examples.FORMATTER,
             epilog=examples.epilog(
                 "scaling-sweep --config experiments/model_size.py:cpu "
                 "--workdir runs/findings/model_size",
                 "scaling-report runs/findings/*/ --out docs/findings.md "
                 "--export docs/findings"))
  p.add_argument("dirs", nargs="+", metavar="DIR", help="sweep directories (scaling-sweep "
                 "--workdir, or an --export copy)")
  p.add_argument("--out", default="docs/findings.md", help="the Markdown report "
                 "(default docs/findings.md; figures in docs/findings/img)")
  p.add_argument("--experiments", default="experiments", help="the directory of "
                 "experiment files whose FINDINGS are reported (default experiments)")
  p.add_argument("--export", metavar="DIR", help="also copy each sweep, trimmed, into "
                 "DIR/<experiment file stem>/")
  return p


@script
def main(argv=None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  try:
    args = build_parser().parse_args(argv)
    from scaling.findings import report  # pylint: disable=g-import-not-at-top
    results = report.write_report(args.dirs, args.out, args.experiments, args.export,
                                  command=shlex.join(["scaling-report", *argv]))
  except ReportInputError as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_BAD_INPUT
  except SystemExit as e:  # --help
    return int(e.code or 0)
  used = {s.path for _, _, s in results if s is not None}
  for d in args.dirs:
    if d not in used:
      print(f"note: {d} shows none of the declared findings (its experiment.json names "
            "an experiment and variant without FINDINGS)", file=sys.stderr)
  print("\n".join(report.summary_lines(results)))
  print(f"wrote {args.out}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
