"""scaling-fit bcrit: critical batch size from a batch-size scan, beside B_noise.

  python -m scaling.cli.bcrit DIR [DIR ...] [--target-losses 2.9,2.8,2.7] [--out OUT]

DIR is a sweep directory (its subdirectories are runs) or run directories, one
batch size each (e.g. the members of experiments/batch_size_scan.py). Prints
B_crit = E_min/S_min next to the measured gradient noise scale B_noise at each
target loss, and writes fit.json, bcrit_frontier.png (the S–E frontier per
target loss) and bcrit_vs_loss.png (B_crit against loss with B_noise overlaid)
into --out (default: DIR/fit_bcrit). Bad input: one `error: ...` line, exit
code 2, nothing written. Imports no JAX.
"""

from __future__ import annotations

import argparse
import sys

from scaling.cli import EXIT_BAD_INPUT, Parser, examples
from scaling.laws import bcrit as critical_batch
from scaling.laws.bcrit import BcritError
from scaling.laws.report import bcrit_to_dir


def _losses(text: str) -> list[float]:
  try:
    values = [float(x) for x in text.split(",") if x.strip()]
  except ValueError:
    raise argparse.ArgumentTypeError(
        f"--target-losses={text!r} must be comma-separated numbers, e.g. 2.9,2.8") from None
  if not values or any(v <= 0 for v in values):
    raise argparse.ArgumentTypeError(f"--target-losses={text!r} must be positive losses")
  return values


def build_parser() -> argparse.ArgumentParser:
  p = Parser(prog="scaling-fit bcrit", error=BcritError, description=__doc__.split("\n\n")[0],
             formatter_class=examples.FORMATTER, epilog=examples.epilog(
                 "scaling-sweep --config experiments/batch_size_scan.py:tiny --workdir runs/bscan",
                 "scaling-fit bcrit runs/bscan --out runs/bscan/fit_bcrit"))
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
  return p


def main(argv=None) -> int:
  """argv: the arguments after `bcrit` (default sys.argv[1:]). Returns the exit code."""
  try:
    args = build_parser().parse_args(argv)
    if args.levels < 2:
      raise BcritError(f"--levels={args.levels} must be >= 2 to fit B_crit(L)")
    if not 0 < args.smooth <= 2:
      raise BcritError(f"--smooth={args.smooth} must be a half-width in ln(step) in (0, 2], "
                       "e.g. 0.2")
    _, lines = bcrit_to_dir(args.dirs, args.out, target_losses=args.target_losses,
                            n_levels=args.levels, smooth_width=args.smooth,
                            plots=not args.no_plots)
  except BcritError as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_BAD_INPUT
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  sys.exit(main())
