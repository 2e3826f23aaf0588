"""scaling-fit bcrit: critical batch size from a batch-size scan, beside B_noise.

  scaling-fit bcrit DIR [DIR ...] [--target-losses 2.9,2.8,2.7] [--levels N]
                    [--smooth W] [--out OUT] [--no-plots]

DIR is a sweep directory (its subdirectories are runs) or run directories, one
batch size each (e.g. the members of experiments/batch_size_scan.py). Prints
B_crit = E_min/S_min next to the measured gradient noise scale B_noise at each
target loss, and writes fit.json, bcrit_frontier.png (the S–E frontier per
target loss) and bcrit_vs_loss.png (B_crit against loss with B_noise overlaid)
into --out (default: DIR/fit_bcrit). The B_crit(L) law fit to a table with
`loss` and `B_crit` columns is `scaling-fit law bcrit TABLE`. Bad input: one
`error: ...` line, exit code 2, nothing written. Imports no JAX.

The options are defined once, in add_arguments: scaling-fit's `bcrit`
subcommand (scaling/cli/fit.py) and `python -m scaling.cli.bcrit DIR ...` (the
same command) both use them and run().
"""

from __future__ import annotations

import argparse
import os
import sys

from scaling.cli import Parser, examples, lines_or_error, script
from scaling.laws import bcrit as critical_batch
from scaling.laws.bcrit import BcritError
from scaling.laws.report import bcrit_to_dir

DESCRIPTION = __doc__.split("\n\n")[0].split(": ", 1)[1]
EXAMPLES = ("scaling-sweep --config experiments/batch_size_scan.py:tiny --workdir runs/bscan",
            "scaling-fit bcrit runs/bscan --out runs/bscan/fit_bcrit")


def _losses(text: str) -> list[float]:
  try:
    values = [float(x) for x in text.split(",") if x.strip()]
  except ValueError:
    raise argparse.ArgumentTypeError(
        f"--target-losses={text!r} must be comma-separated numbers, e.g. 2.9,2.8") from None
  if not values or any(v <= 0 for v in values):
    raise argparse.ArgumentTypeError(f"--target-losses={text!r} must be positive losses")
  return values


def add_arguments(p: argparse.ArgumentParser) -> None:
  """The options of `scaling-fit bcrit`, on `p` (its own parser or scaling-fit's subparser)."""
  p.add_argument("dirs", nargs="+", metavar="DIR", help="sweep directory or run directories")
  p.add_argument("--target-losses", type=_losses, default=None,
                 help="comma-separated training losses (nats/token); default: --levels "
                      "losses that every run reached")
  p.add_argument("--levels", type=int, default=5, help="default target losses (default 5)")
  p.add_argument("--smooth", type=float, default=critical_batch.SMOOTH_WIDTH,
                 help="half-width in ln(step) of the local quadratic fit that smooths each "
                      f"learning curve (default {critical_batch.SMOOTH_WIDTH})")
  p.add_argument("--out", help="output directory (default: DIR/fit_bcrit)")
  p.add_argument("--no-plots", action="store_true", help="skip the PNGs")


def build_parser() -> argparse.ArgumentParser:
  p = Parser(prog="scaling-fit bcrit", error=BcritError, description=DESCRIPTION,
             formatter_class=examples.FORMATTER, epilog=examples.epilog(*EXAMPLES))
  add_arguments(p)
  return p


def run(args) -> list[str]:
  """B_crit of the scan that `args` (add_arguments' options) names; returns the
  report lines. Raises BcritError (one line) before writing anything."""
  if args.levels < 2:
    raise BcritError(f"--levels={args.levels} must be >= 2 to fit B_crit(L)")
  if not 0 < args.smooth <= 2:
    raise BcritError(f"--smooth={args.smooth} must be a half-width in ln(step) in (0, 2], "
                     "e.g. 0.2")
  for d in args.dirs:
    if os.path.isfile(d):
      raise BcritError(f"{d!r} is a file; scaling-fit bcrit reads the run directories of a "
                       f"batch-size scan (for the B_crit(L) law on a table: scaling-fit law "
                       f"bcrit {d})")
  _, lines = bcrit_to_dir(args.dirs, args.out, target_losses=args.target_losses,
                          n_levels=args.levels, smooth_width=args.smooth,
                          plots=not args.no_plots)
  return lines


@script
def main(argv=None) -> int:
  """argv: the arguments after `bcrit` (default sys.argv[1:]). Returns the exit code."""
  return lines_or_error(lambda: run(build_parser().parse_args(argv)))


if __name__ == "__main__":
  sys.exit(main())
