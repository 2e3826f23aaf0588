"""scaling-fit: fit a scaling law (or the compute frontier) to finished runs.

  scaling-fit LAW INPUT [--out DIR] [--holdout-largest K] [--bootstrap R]
  scaling-fit frontier INPUT [--curve eval|train] [--smooth K]
  scaling-fit isoflop INPUT          IsoFLOP profiles (Hoffmann et al. approach 2)
  scaling-fit counts INPUT           frontier and IsoFLOP exponents under every
                                     counting convention, side by side
  scaling-fit branches DIR [--tolerance T] [--scan FIT_JSON]
                                     B_crit over training by branching
                                     (experiments/branch_bcrit.py)
  any of them with --count kaplan|total|output|full (how N and C are counted)

LAW is one of N, N+E, D, C, Cmin, ND, chinchilla, NS, bcrit, position, lr.
INPUT is a sweep directory (results.jsonl or run directories with
summary.json) or a CSV/JSONL/JSON table. Prints the fitted constants beside the
paper's and writes fit.json and PNG figures into --out (default:
<INPUT dir>/fit_<LAW>). Bad input: one `error: ...` line, exit code 2, nothing
written. Pure numpy/scipy/matplotlib: no JAX is imported.
"""

from __future__ import annotations

import argparse
import os
import sys

from scaling.cli import EXIT_BAD_INPUT, Parser, script
from scaling.laws import counting, forms
from scaling.errors import UserError
from scaling.laws.errors import LawInputError
from scaling.laws.report import run


def build_parser() -> argparse.ArgumentParser:
  p = Parser(prog="scaling-fit", error=LawInputError, description=__doc__.split("\n\n")[0],
              formatter_class=argparse.RawDescriptionHelpFormatter,
              epilog="laws:\n" + "\n".join(
                  f"  {l.name:<11} {l.formula}" for l in forms.LAWS.values())
              + "\n  frontier    compute frontier of all learning curves "
              "(loss vs C = 6*N*tokens)"
              + "\n  isoflop     IsoFLOP profiles: parabola of loss in ln N per "
              "budget, N_opt, D_opt ~ C^a"
              + "\n  counts      frontier and isoflop exponents under every "
              "counting convention"
              + "\n  branches    critical batch over training by branching"
              "\n\nexample:\n"
              "  scaling-sweep --config experiments/model_size.py:tiny --workdir runs/model_size\n"
              "  scaling-fit N runs/model_size")
  p.add_argument("law", help="law name (" + ", ".join(forms.LAWS)
                 + "), 'frontier', 'isoflop', 'counts' or 'branches'")
  p.add_argument("input", help="sweep directory, run directory or "
                 ".csv/.jsonl/.json table")
  p.add_argument("--out", help="output directory (default: "
                 "<INPUT dir>/fit_<LAW>)")
  p.add_argument("--holdout-largest", type=int, default=0, metavar="K",
                 help="fit without the K largest models (largest N; C for "
                 "C/Cmin laws) and report their predicted vs observed loss")
  p.add_argument("--bootstrap", type=int, default=100, metavar="R",
                 help="bootstrap resamples for 95%% intervals (0: none; "
                 "default 100)")
  p.add_argument("--seed", type=int, default=0, help="bootstrap RNG seed")
  p.add_argument("--no-plots", action="store_true", help="skip the PNGs")
  p.add_argument("--curve", choices=("auto", "eval", "train"), default="auto",
                 help="frontier: eval.jsonl val_loss or metrics.jsonl loss")
  p.add_argument("--smooth", type=int, default=1, metavar="K",
                 help="frontier: moving average over K curve points")
  p.add_argument("--b-star", type=float, metavar="TOKENS",
                 help="B* of a measured B_crit(L) = B*/L^(1/alpha_B) (e.g. from "
                 "scaling-fit bcrit SCAN) for derived C_min, S_min and the C_min "
                 "frontier; default: the paper's 2e8, for BPE losses only")
  p.add_argument("--alpha-b", type=float, help="alpha_B of that B_crit(L) "
                 "(default: the paper's 0.21)")
  p.add_argument("--count", default=counting.DEFAULT, type=str.lower,
                 choices=list(counting.CONVENTIONS),
                 help="how N and C are counted (default kaplan: non-embedding N, "
                 "C = 6*N*D); see scaling/laws/counting.py")
  p.add_argument("--tolerance", type=float, default=0.5,
                 help="branches: a branch matches when its loss is within this "
                 "fraction of the reference's progress over the window")
  p.add_argument("--scan", metavar="FIT_JSON", help="branches: fit.json of scaling-fit "
                 "bcrit on a batch-size scan of the same model, drawn beside")
  p.add_argument("--grid", type=int, default=48,
                 help="frontier: points of the log-spaced compute grid")
  return p


def _is_scan(argv) -> bool:
  """`bcrit` on run directories (a batch-size scan), not on a table."""
  args = list(sys.argv[1:] if argv is None else argv)
  if not args or args[0].lower() != "bcrit":
    return False
  paths = [a for a in args[1:] if not a.startswith("-")]
  return bool(paths) and os.path.isdir(paths[0])


@script
def main(argv=None) -> int:
  if _is_scan(argv):  # scaling-fit bcrit DIR: B_crit from the scan's learning curves
    from scaling.cli import bcrit  # pylint: disable=g-import-not-at-top
    return bcrit.main(list(sys.argv[2:] if argv is None else argv[1:]))
  try:
    args = build_parser().parse_args(argv)
    lines = run(args)
  except UserError as e:  # LawInputError, and a results file it cannot read
    print(f"error: {e}", file=sys.stderr)
    return EXIT_BAD_INPUT
  except SystemExit as e:  # --help
    return int(e.code or 0)
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  sys.exit(main())
