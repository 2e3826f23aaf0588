"""scaling-fit: fit a scaling law (or the compute frontier) to finished runs.

  scaling-fit law LAW INPUT      one law of scaling.laws.forms (N, ND, Cmin, NS, bcrit, ...)
  scaling-fit frontier INPUT     compute frontier of the runs' learning curves
  scaling-fit isoflop INPUT      IsoFLOP profiles (Hoffmann et al. approach 2)
  scaling-fit counts INPUT       frontier and IsoFLOP exponents under every
                                 counting convention, side by side
  scaling-fit branches DIR       B_crit over training by branching
                                 (experiments/branch_bcrit.py)
  scaling-fit bcrit DIR [DIR..]  B_crit from a batch-size scan's run directories
                                 (scaling/cli/bcrit.py)

`scaling-fit SUBCOMMAND --help` lists each one's options (only those it uses)
and an example. INPUT is a sweep directory (results.jsonl or run directories
with summary.json) or a CSV/JSONL/JSON table. Prints the fitted constants
beside the paper's and writes fit.json and PNG figures into --out (default:
<INPUT dir>/fit_<LAW or SUBCOMMAND>). Bad input: one `error: ...` line, exit
code 2, nothing written. Pure numpy/scipy/matplotlib: no JAX is imported.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from scaling.cli import Parser, bcrit, examples, lines_or_error, script
from scaling.laws import counting, forms
from scaling.laws.errors import LawInputError
from scaling.laws.report import FitOptions, run

# Each subcommand: (one line for the list, its example).
COMMANDS = {
    "law": ("fit one law (N, ND, Cmin, NS, bcrit, ...) to runs or a table",
            "scaling-fit law N runs/model_size --bootstrap 200"),
    "frontier": ("compute frontier of all learning curves (loss vs C = 6*N*tokens)",
                 "scaling-fit frontier runs/compute_frontier"),
    "isoflop": ("IsoFLOP profiles: parabola of loss in ln N per budget, N_opt, D_opt ~ C^a",
                "scaling-fit isoflop runs/isoflop --bootstrap 200"),
    "counts": ("frontier and IsoFLOP exponents under every counting convention",
               "scaling-fit counts runs/isoflop"),
    "branches": ("critical batch over training by branching",
                 "scaling-fit branches runs/branch --scan runs/bss/fit_bcrit/fit.json"),
    "bcrit": ("critical batch from a batch-size scan (run directories), beside B_noise",
              bcrit.EXAMPLES[-1]),
}

# What report.run reads, with FitOptions' defaults: every subcommand that goes
# through it sets the attributes it does not offer to these.
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(FitOptions)
             if f.default is not dataclasses.MISSING}


def _parent(*adders) -> Parser:
  p = Parser(add_help=False)
  for add in adders:
    add(p)
  return p


def _output(p):
  p.add_argument("--out", help="output directory (default: <INPUT dir>/fit_<LAW or "
                 "SUBCOMMAND>)")
  p.add_argument("--no-plots", action="store_true", help="skip the PNGs")


def _bootstrap(p):
  p.add_argument("--bootstrap", type=int, default=_DEFAULTS["bootstrap"], metavar="R",
                 help="bootstrap resamples for 95%% intervals (0: none; default %(default)s)")
  p.add_argument("--seed", type=int, default=_DEFAULTS["seed"], help="bootstrap RNG seed")


def _count(p):
  p.add_argument("--count", default=counting.DEFAULT, type=str.lower,
                 choices=list(counting.CONVENTIONS),
                 help="how N and C are counted (default kaplan: non-embedding N, "
                 "C = 6*N*D); see scaling/laws/counting.py")


def _holdout(p):
  p.add_argument("--holdout-largest", type=int, default=0, metavar="K",
                 help="fit without the K largest models (largest N; C for "
                 "C/Cmin laws) and report their predicted vs observed loss")


def _bcrit_law(p):
  p.add_argument("--b-star", type=float, metavar="TOKENS",
                 help="B* of a measured B_crit(L) = B*/L^(1/alpha_B) (e.g. from "
                 "scaling-fit bcrit SCAN) for derived C_min, S_min and the C_min "
                 "frontier; default: the paper's 2e8, for BPE losses only")
  p.add_argument("--alpha-b", type=float, help="alpha_B of that B_crit(L) "
                 "(default: the paper's 0.21)")


def _curve(p):
  p.add_argument("--curve", choices=("auto", "eval", "train"), default=_DEFAULTS["curve"],
                 help="eval.jsonl val_loss or metrics.jsonl loss (default auto)")


def _law(text: str) -> str:
  """LAW of `scaling-fit law`: a law's name (any alias), not a subcommand's."""
  if text.lower() in COMMANDS and text.lower() not in forms.LAWS:
    raise argparse.ArgumentTypeError(
        f"{text!r} is a subcommand, not a law: scaling-fit {text.lower()} INPUT")
  try:
    return forms.get_law(text).name
  except KeyError:
    raise argparse.ArgumentTypeError(
        f"unknown law {text!r}; choose one of {', '.join(forms.LAWS)}") from None


def _subparser(subs, name, parents, positional):
  help_text, example = COMMANDS[name]
  sp = subs.add_parser(name, parents=parents, help=help_text, description=help_text,
                       error=LawInputError, formatter_class=examples.FORMATTER,
                       epilog=examples.epilog(example))
  positional(sp)
  return sp


def build_parser() -> argparse.ArgumentParser:
  p = Parser(prog="scaling-fit", error=LawInputError, description=__doc__.split("\n\n")[0],
             formatter_class=examples.FORMATTER, epilog=examples.epilog(
                 "scaling-sweep --config experiments/model_size.py:tiny --workdir "
                 "runs/model_size", *(example for _, example in COMMANDS.values()),
                 before="laws (scaling-fit law LAW INPUT):\n" + "\n".join(
                     f"  {l.name:<11} {l.formula}" for l in forms.LAWS.values())))
  subs = p.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True,
                          title="subcommands")
  output, boot, count = _parent(_output), _parent(_bootstrap), _parent(_count)
  holdout_law = _parent(_holdout, _bcrit_law)
  table_input = lambda sp: sp.add_argument(  # pylint: disable=unnecessary-lambda-assignment
      "input", metavar="INPUT", help="sweep directory, run directory or .csv/.jsonl/.json table")

  def law_positionals(sp):
    sp.add_argument("law", metavar="LAW", type=_law,
                    help="law name: " + ", ".join(forms.LAWS) + " (case-insensitive)")
    table_input(sp)

  _subparser(subs, "law", [holdout_law, boot, count, output], law_positionals)

  sp = _subparser(subs, "frontier", [holdout_law, boot, count, _parent(_curve), output],
                  table_input)
  sp.add_argument("--smooth", type=int, default=_DEFAULTS["smooth"], metavar="K",
                  help="moving average over K curve points (default %(default)s)")
  sp.add_argument("--grid", type=int, default=_DEFAULTS["grid"], metavar="G",
                  help="points of the log-spaced compute grid (default %(default)s)")
  _subparser(subs, "isoflop", [boot, count, output], table_input)
  _subparser(subs, "counts", [boot, _parent(_curve), output], table_input)
  sp = _subparser(subs, "branches", [output], lambda sp: sp.add_argument(
      "input", metavar="DIR", help="the sweep directory of experiments/branch_bcrit.py"))
  sp.add_argument("--tolerance", type=float, default=_DEFAULTS["tolerance"],
                  help="a branch matches when its loss is within this fraction of the "
                  "reference's progress over the window (default %(default)s)")
  sp.add_argument("--scan", metavar="FIT_JSON", help="fit.json of scaling-fit bcrit on a "
                  "batch-size scan of the same model, drawn beside")
  for name, sp in subs.choices.items():  # what report.run reads and `name` does not offer
    given = {a.dest for a in sp._actions}  # pylint: disable=protected-access
    sp.set_defaults(**{k: v for k, v in {**_DEFAULTS, "law": name}.items() if k not in given})

  help_text, _ = COMMANDS["bcrit"]
  sp = subs.add_parser("bcrit", help=help_text, description=bcrit.DESCRIPTION,
                       error=LawInputError, formatter_class=examples.FORMATTER,
                       epilog=examples.epilog(*bcrit.EXAMPLES))
  bcrit.add_arguments(sp)
  return p


def _old_spelling(argv: list[str]) -> None:
  """`scaling-fit N INPUT` (before the subcommands): says the new spelling."""
  first = argv[0] if argv else ""
  if first.lower() in COMMANDS or first.startswith("-"):
    return
  try:
    name = forms.get_law(first).name
  except KeyError:
    return
  raise LawInputError(f"{first!r} is a law: scaling-fit law {name} INPUT ... "
                      "(see scaling-fit --help)")


@script
def main(argv=None) -> int:
  """argv: the arguments after scaling-fit (default sys.argv[1:]). Returns the exit code."""
  argv = list(sys.argv[1:] if argv is None else argv)
  return lines_or_error(lambda: _run(argv))


def _run(argv) -> list[str]:
  _old_spelling(argv)
  args, extra = build_parser().parse_known_args(argv)
  if extra:  # an option of another subcommand: name this one's --help
    raise LawInputError(f"unrecognized arguments: {' '.join(extra)} "
                        f"(see scaling-fit {args.command} --help)")
  if args.command == "bcrit":
    return bcrit.run(args)
  return run(FitOptions(**{f.name: getattr(args, f.name)
                           for f in dataclasses.fields(FitOptions)}))[1]


if __name__ == "__main__":
  sys.exit(main())
