"""Fit a law (or the compute frontier) to a path and report it: the constants
beside the paper's, held-out predictions, fit.json and the figures.

  data, lines = fit_to_dir("N", "runs/model_size", "runs/model_size/fit_N",
                           bootstrap=200)

The library behind scaling-fit and the experiments' analyze(); bad input
raises LawInputError and writes nothing. Imports no JAX.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os

from scaling.laws import bcrit
from scaling.laws import bcrit_plots
from scaling.laws import branch_plots
from scaling.laws import branching
from scaling.laws import conventions
from scaling.laws import counting, forms, frontier, readers
from scaling.laws import curves as curves_lib
from scaling.laws import fit as fitting
from scaling.laws import isoflop
from scaling.laws import plots
from scaling.laws.errors import LawInputError
from scaling.laws.plots import slug
from scaling.results import io


@dataclasses.dataclass
class FitOptions:
  """What scaling-fit's flags set (see scaling.cli.fit)."""
  law: str
  input: str
  out: str | None = None
  holdout_largest: int = 0
  bootstrap: int = 100
  seed: int = 0
  no_plots: bool = False
  curve: str = "auto"      # frontier: eval | train | auto
  smooth: int = 1          # frontier: moving average over K curve points
  grid: int = 48           # frontier: points of the compute grid
  b_star: float | None = None   # a measured B_crit(L) for derived C_min, S_min
  alpha_b: float | None = None
  count: str = counting.DEFAULT  # how N and C are counted (scaling.laws.counting)
  tolerance: float = 0.5   # branches: a match is within this fraction of the progress
  scan: str | None = None  # branches: a scan's bcrit fit.json, drawn beside


def default_out(input_path: str, law_name: str) -> str:
  base = input_path if os.path.isdir(input_path) else (
      os.path.dirname(input_path) or ".")
  return os.path.join(base, f"fit_{slug(law_name)}")


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
  """The held-out rows, each prediction (with its 95% bootstrap interval when
  there is one) before the observation."""
  if not h["rows"]:
    return [f"holdout ({h['k']} largest {h['by']}): no held-out point to "
            "compare"]
  ci = all("predicted_lo" in r for r in h["rows"])
  head = "".join(f"{c:>11}" for c in cols)
  lines = [f"holdout: {h['k']} largest {h['by']} (not used in the fit)",
           f"{head}{'predicted':>11}" + (f"  {'95% interval':<20}" if ci else "")
           + f"{'observed':>11}{'rel.err':>9}" + ("  inside" if ci else "")]
  for r in h["rows"]:
    interval = f"  {'[' + _g(r['predicted_lo']) + ', ' + _g(r['predicted_hi']) + ']':<20}" \
        if ci else ""
    lines.append("".join(f"{_g(r[c]):>11}" for c in cols)
                 + f"{_g(r['predicted']):>11}{interval}{_g(r['observed']):>11}"
                 f"{r['rel_error']:>+9.2%}" + (f"  {'yes' if r['inside'] else 'no':>6}"
                                               if ci else ""))
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
  lines = [f"law {law.name}: {law.formula}" + _count_note(args.count),
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
    figures = plots.frontier_figures(result)
  return d, figures, lines


def _isoflop_run(args):
  base = args.input if os.path.isdir(args.input) else None
  result = isoflop.fit_isoflop(readers.read_rows(args.input), base, args.count,
                               bootstrap=args.bootstrap, seed=args.seed)
  lines = isoflop.report(result)
  figures = {} if args.no_plots else isoflop.figures(result)
  return result.to_dict(), figures, lines


def _counts_run(args):
  data = conventions.compare(args.input, curve=args.curve, bootstrap=args.bootstrap,
                             seed=args.seed)
  figures = {} if args.no_plots else conventions.figures(data)
  return data, figures, conventions.report(data)


def _branches_run(args):
  data = branching.analyze_sweep(args.input, args.tolerance, args.scan)
  figures = {}
  if not args.no_plots:
    figures = branch_plots.figures(data)
  return data, figures, branching.report(data)


# Analyses beside the laws of forms.LAWS, by name.
_EXTRA = {"frontier": _frontier_run, "isoflop": _isoflop_run, "counts": _counts_run,
          "branches": _branches_run}


def _name(law: str) -> str:
  if law.lower() in _EXTRA:
    return law.lower()
  try:
    return forms.get_law(law).name
  except KeyError as e:
    raise LawInputError(e.args[0]) from None


def run(args: FitOptions) -> tuple[dict, list[str]]:
  """Fits and writes what `args` asks for (fit.json and the figures in
  args.out, default <input>/fit_<law>); returns (fit.json's data, exactly as
  written, and the report lines)."""
  name = _name(args.law)
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
  text = io.strict_json(data)  # NaN and inf become null, as fit.json has them
  files = {"fit.json": text.encode()}
  files.update(figures)
  try:
    written = io.write_files(out_dir, files)
  except OSError as e:
    raise LawInputError(f"cannot write to --out {out_dir!r}: {e.strerror or e}") from None
  lines.append("wrote " + ", ".join(written))
  return json.loads(text), lines




def fit_to_dir(law: str, input_path: str, out: str | None = None,
               **options) -> tuple[dict, list[str]]:
  """Fits `law` to `input_path`, writes fit.json and the figures into `out`
  (default <input>/fit_<law>); returns (fit.json's data, the report lines)."""
  return run(FitOptions(law, input_path, out, **options))


def bcrit_to_dir(dirs, out: str | None = None, *, target_losses=None, n_levels: int = 5,
                 smooth_width: float | None = None, plots: bool = True) -> tuple[dict, list[str]]:
  """B_crit of a batch-size scan (scaling.laws.bcrit): writes fit.json and the
  figures into `out` (default DIR/fit_bcrit); returns (the fit, report lines).
  Raises BcritError on unusable scans, before anything is written."""
  dirs = [dirs] if isinstance(dirs, (str, os.PathLike)) else list(dirs)
  fit = bcrit.fit_bcrit_from_runs(
      dirs, target_losses, n_levels=n_levels,
      smooth_width=bcrit.SMOOTH_WIDTH if smooth_width is None else smooth_width)
  out = out or os.path.join(str(dirs[0]), "fit_bcrit")
  os.makedirs(out, exist_ok=True)
  io.write_json(os.path.join(out, "fit.json"), fit)
  written = [os.path.join(out, "fit.json")]
  if plots:
    written += bcrit_plots.write_figures(fit, out)
  return fit, [bcrit.format_table(fit), "wrote " + ", ".join(written)]
