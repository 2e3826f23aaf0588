"""scaling-plan: compute-efficient allocation of a compute budget C_min.

  scaling-plan --compute C [--pf-days] [--fit fit.json ...] [--count NAME] [--json]

Prints the compute-efficient N, batch B (tokens), S_min, D and expected loss
(paper Table 6 unless a fit.json supplies constants), the overfitting bound
D >= 5e3*N^0.74 (eq. 4.4) and the early-stopping step (eq. 5.7).
"""

from __future__ import annotations

import argparse
import json
import sys

from scaling.cli import Parser, examples, lines_or_error, script
from scaling.laws import planner
from scaling.laws.errors import LawInputError


def build_parser() -> argparse.ArgumentParser:
  p = Parser(prog="scaling-plan", error=LawInputError, description=__doc__.split("\n\n")[0],
             formatter_class=examples.FORMATTER,
             epilog=examples.epilog("scaling-plan --compute 1 --pf-days"))
  p.add_argument("--compute", required=True, type=float, metavar="C",
                 help="compute budget C_min in FLOP (PF-days with --pf-days)")
  p.add_argument("--pf-days", action="store_true",
                 help="--compute is in PF-days (1 PF-day = 8.64e19 FLOP)")
  p.add_argument("--fit", action="append", default=[], metavar="FIT_JSON",
                 help="fit.json from scaling-fit (frontier, Cmin, ND or NS); "
                 "its constants replace the paper's; repeatable")
  p.add_argument("--data-tokens", type=float, metavar="D",
                 help="dataset size for eqs 4.4 and 5.7 (default: planned D)")
  p.add_argument("--n-ctx", type=int, default=1024,
                 help="context length, to express B in sequences")
  p.add_argument("--count", help="counting convention the fits must have been made "
                 "with (kaplan, total, output, full; scaling/laws/counting.py)")
  p.add_argument("--json", action="store_true", help="print JSON only")
  return p


def format_plan(p: planner.Plan) -> list[str]:
  a = p.constants["allocation"]
  lc = p.constants["loss"]
  o = p.constants["overfit"]

  def law(k):
    return f"{k} = {a[k]['coef']:.3g}*C^{a[k]['exponent']:.3g}"
  rows = [
      ("N (non-embedding params)", f"{p.N:.3g}", law("N")),
      ("B (batch, tokens)", f"{p.B:.3g}",
       f"{law('B')}  ({p.B_seqs:.0f} seqs of {p.n_ctx})"),
      ("S_min (steps)", f"{p.S_min:.3g}", law("S_min")),
      ("S (steps at B = B_crit)", f"{p.S:.3g}", "2*S_min"),
      ("D (tokens)", f"{p.D:.3g}", law("D")),
      ("loss L(C_min) (nats)", f"{p.loss:.4g}",
       f"({lc['C_c_min']:.3g}/C)^{lc['alpha_Cmin']:.3g}"),
      ("C = 6*N*D (FLOP)", f"{p.C_flops:.3g}",
       f"{p.C_flops / p.c_min_flops:.2f} x C_min"),
  ]
  out = [f"compute-efficient plan for C_min = {p.c_min_pf_days:.4g} PF-day(s) "
         f"= {p.c_min_flops:.4g} FLOP (C in PF-days in the formulas)"]
  out += [f"  {name:<27}{val:>11}   {how}" for name, val, how in rows]
  penalty = p.loss_data_limited / p.loss_converged - 1.0
  out.append(f"  overfitting bound (eq. 4.4): dataset >= {o['coef']:.3g}*"
             f"N^{o['exponent']:.3g} = {p.overfit_min_data:.3g} tokens; a "
             f"{p.data_tokens:.3g}-token dataset is "
             + ("enough" if p.overfit_ok else "below it")
             + f" (L(N,D)/L(N,inf) - 1 = {penalty:.1%})")
  out.append(f"  early stopping (eq. 5.7): L(N,D) - L(N,inf) = "
             f"{p.loss_data_limited:.4g} - {p.loss_converged:.4g}; "
             f"S_stop >= {p.S_stop:.3g} steps")
  out.append("  constants: " + "; ".join(f"{k}: {v}"
                                         for k, v in p.sources.items()))
  return out


@script
def main(argv=None) -> int:
  return lines_or_error(lambda: _plan(build_parser().parse_args(argv)))


def _plan(args) -> list[str]:
  result = planner.plan(args.compute, pf_days=args.pf_days, fits=args.fit,
                        data_tokens=args.data_tokens, n_ctx=args.n_ctx, count=args.count)
  return [json.dumps(result.to_dict(), indent=1)] if args.json else format_plan(result)


if __name__ == "__main__":
  sys.exit(main())
