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
import json
import math
import os
import sys
import tempfile

from scaling.laws import curves as curves_lib
from scaling.laws import fit as fitting
from scaling.laws import counting, forms, frontier, readers
from scaling.laws.errors import LawInputError

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
  """argparse that reports a usage problem as one `error: ...` line."""

  def error(self, message):
    raise LawInputError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
  p = _Parser(prog="scaling-fit", description=__doc__.split("\n\n")[0],
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


def default_out(input_path: str, law_name: str) -> str:
  base = input_path if os.path.isdir(input_path) else (
      os.path.dirname(input_path) or ".")
  from scaling.laws.plots import slug
  return os.path.join(base, f"fit_{slug(law_name)}")


def write_atomic(out_dir: str, files: dict[str, bytes]) -> list[str]:
  """Writes all files to temp files in out_dir, then renames each into place
  (os.replace), so no file is ever seen half-written."""
  created = not os.path.isdir(out_dir)
  staged = []
  try:
    os.makedirs(out_dir, exist_ok=True)
    for name, data in files.items():
      fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.",
                                 suffix=".tmp")
      staged.append((tmp, os.path.join(out_dir, name)))
      with os.fdopen(fd, "wb") as f:
        f.write(data)
  except OSError as e:
    for tmp, _ in staged:
      if os.path.exists(tmp):
        os.unlink(tmp)
    if created and os.path.isdir(out_dir) and not os.listdir(out_dir):
      os.rmdir(out_dir)
    raise LawInputError(f"cannot write to --out {out_dir!r}: "
                        f"{e.strerror or e}")
  for tmp, final in staged:
    os.replace(tmp, final)
  return [final for _, final in staged]


def to_json(data) -> str:
  """Strict JSON: NaN and infinities become null, numpy scalars plain."""
  def clean(v):
    if isinstance(v, dict):
      return {str(k): clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
      return [clean(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
      v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
      return None
    return v
  return json.dumps(clean(data), indent=1, allow_nan=False) + "\n"


def _g(v) -> str:
  return "-" if v is None or (isinstance(v, float) and math.isnan(v)) \
      else f"{v:.4g}"


def param_table(params, ci, paper) -> list[str]:
  width = max(8, *(len(k) for k in params)) + 2
  lines = [f"{'param':<{width}}{'fit':>12}   {'95% CI':<25}{'paper':>10}"]
  for k, v in params.items():
    interval = f"[{_g(ci[k][0])}, {_g(ci[k][1])}]" if ci and k in ci else "-"
    lines.append(f"{k:<{width}}{_g(v):>12}   {interval:<25}"
                 f"{_g(paper.get(k)):>10}")
  return lines


def holdout_lines(h: dict, cols) -> list[str]:
  if not h["rows"]:
    return [f"holdout ({h['k']} largest {h['by']}): no held-out point to "
            "compare"]
  head = "".join(f"{c:>11}" for c in cols)
  lines = [f"holdout: {h['k']} largest {h['by']} (not used in the fit)",
           f"{head}{'observed':>11}{'predicted':>11}{'rel.err':>9}"]
  for r in h["rows"]:
    lines.append("".join(f"{_g(r[c]):>11}" for c in cols)
                 + f"{_g(r['observed']):>11}{_g(r['predicted']):>11}"
                 f"{r['rel_error']:>+9.2%}")
  lines.append(f"mean |log(pred/obs)| = {h['mean_abs_log_residual']:.4f}, "
               f"max |rel.err| = {h['max_abs_rel_error']:.2%}")
  return lines


def _law_run(args, law):
  table = args.input
  if args.count != counting.DEFAULT:  # the same runs, N and C re-counted
    base = args.input if os.path.isdir(args.input) else None
    table = counting.count_rows(readers.read_rows(args.input), args.count, base)
  result = fitting.fit_law(law, table, bootstrap=args.bootstrap,
                           seed=args.seed,
                           holdout_largest=args.holdout_largest,
                           bcrit_law=_bcrit_law(args))
  lines = [f"law {law.name}: {law.formula}"
           + _count_note(args.count),
           f"input: {args.input} ({result.n_points} points"
           + (f", {len(result.heldout_table)} held out"
              if result.heldout_table is not None else "")
           + f"); Huber(delta={fitting.HUBER_DELTA:g}) on log residuals, "
           f"{args.bootstrap} bootstrap resamples"]
  lines += [f"note: {n}" for n in result.table.notes]
  lines += param_table(result.params, result.ci95, law.paper)
  rms = math.sqrt(float((result.residuals ** 2).mean()))
  lines.append(f"R^2 (log space) = {result.r2:.4f}, rms log residual = "
               f"{rms:.4f}")
  if result.holdout:
    lines += holdout_lines(result.holdout, list(law.inputs))
  figures = {}
  if not args.no_plots:
    from scaling.laws import plots
    figures = plots.law_figures(result)
  return {**result.to_dict(), "count": args.count}, figures, lines


def _count_note(count: str) -> str:
  conv = counting.get(count)
  return f" (count {conv.name}: N {conv.n_text}, C = {conv.c_text})"


def _bcrit_law(args):
  """(B*, alpha_B) from --b-star/--alpha-b, or None for the paper's."""
  if (args.b_star is None) != (args.alpha_b is None):
    raise LawInputError("give --b-star and --alpha-b together (e.g. the B* and alpha_B "
                        "that scaling-fit bcrit printed for a scan of this model)")
  if args.b_star is None:
    return None
  if not (args.b_star > 0 and args.alpha_b > 0):
    raise LawInputError(f"--b-star={args.b_star:g} and --alpha-b={args.alpha_b:g} must be > 0")
  return args.b_star, args.alpha_b


def _frontier_run(args):
  curves = curves_lib.load_curves(args.input, args.curve, args.smooth)
  curves = counting.counted_curves(curves, args.input, args.count)
  b_star, alpha_b = _bcrit_law(args) or (None, None)
  if args.holdout_largest:
    result = frontier.frontier_holdout(curves, args.holdout_largest,
                                       n_grid=args.grid,
                                       bootstrap=args.bootstrap,
                                       seed=args.seed, b_star=b_star,
                                       alpha_b=alpha_b)
  else:
    result = frontier.compute_frontier(curves, n_grid=args.grid,
                                       bootstrap=args.bootstrap,
                                       seed=args.seed, b_star=b_star,
                                       alpha_b=alpha_b)
  d = {**result.to_dict(), "count": args.count}
  lines = [f"compute frontier of {len(curves)} runs from {args.input} "
           f"(coefficients for C in PF-days)" + _count_note(args.count),
           "fitted grid points: " + ", ".join(
               f"{k}: {int(m.sum())}/{len(m)}" for k, m in result.masks.items())]
  if "C_min" not in result.envelopes:
    lines.append("note: no batch sizes (batch_tokens), so no C_min frontier")
  lines += param_table(result.params, result.ci95, result.paper)
  lines.append(f"R^2 (log space) of L(C) = {result.loss_fits['C'].r2:.4f}")
  if result.holdout:
    lines += holdout_lines(result.holdout, ["C", "N"])
  figures = {}
  if not args.no_plots:
    from scaling.laws import plots
    figures = plots.frontier_figures(result)
  return d, figures, lines


def _isoflop_run(args):
  from scaling.laws import isoflop  # pylint: disable=g-import-not-at-top
  base = args.input if os.path.isdir(args.input) else None
  result = isoflop.fit_isoflop(readers.read_rows(args.input), base, args.count,
                               bootstrap=args.bootstrap, seed=args.seed)
  lines = isoflop.report(result)
  figures = {} if args.no_plots else isoflop.figures(result)
  return result.to_dict(), figures, lines


def _counts_run(args):
  from scaling.laws import conventions  # pylint: disable=g-import-not-at-top
  data = conventions.compare(args.input, curve=args.curve, bootstrap=args.bootstrap,
                             seed=args.seed)
  figures = {} if args.no_plots else conventions.figures(data)
  return data, figures, conventions.report(data)


def _branches_run(args):
  from scaling.laws import branching  # pylint: disable=g-import-not-at-top
  data = branching.analyze_sweep(args.input, args.tolerance, args.scan)
  figures = {}
  if not args.no_plots:
    from scaling.laws import branch_plots  # pylint: disable=g-import-not-at-top
    figures = branch_plots.figures(data)
  return data, figures, branching.report(data)


_EXTRA = {"frontier": _frontier_run, "isoflop": _isoflop_run, "counts": _counts_run,
          "branches": _branches_run}


def run(args) -> list[str]:
  if args.law.lower() in _EXTRA:
    name = args.law.lower()
  else:
    try:
      name = forms.get_law(args.law).name
    except KeyError as e:
      raise LawInputError(e.args[0])
  if not os.path.exists(args.input):
    raise LawInputError(f"input path {args.input!r} does not exist")
  if args.holdout_largest < 0 or args.bootstrap < 0 or args.smooth < 1 \
      or args.grid < 4:
    raise LawInputError("--holdout-largest and --bootstrap must be >= 0, "
                        "--smooth >= 1 and --grid >= 4")
  if name in _EXTRA:
    data, figures, lines = _EXTRA[name](args)
  else:
    data, figures, lines = _law_run(args, forms.get_law(name))
  out_dir = args.out or default_out(args.input, name)
  files = {"fit.json": to_json(data).encode()}
  files.update(figures)
  written = write_atomic(out_dir, files)
  lines.append("wrote " + ", ".join(written))
  return lines


def _is_scan(argv) -> bool:
  """`bcrit` on run directories (a batch-size scan), not on a table."""
  args = list(sys.argv[1:] if argv is None else argv)
  if not args or args[0].lower() != "bcrit":
    return False
  paths = [a for a in args[1:] if not a.startswith("-")]
  return bool(paths) and os.path.isdir(paths[0])


def main(argv=None) -> int:
  if _is_scan(argv):  # scaling-fit bcrit DIR: B_crit from the scan's learning curves
    from scaling.cli import bcrit  # pylint: disable=g-import-not-at-top
    return bcrit.main(list(sys.argv[2:] if argv is None else argv[1:]))
  try:
    args = build_parser().parse_args(argv)
    lines = run(args)
  except LawInputError as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_BAD_INPUT
  except SystemExit as e:  # --help
    return int(e.code or 0)
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  sys.exit(main())
