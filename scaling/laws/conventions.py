"""The same runs under every counting convention, side by side.

  scaling-fit counts runs/isoflop

For each convention of scaling.laws.counting, fits the compute frontier (of the
runs' learning curves, N_opt ∝ C^a) and the IsoFLOP profiles (when the runs
form budgets of at least 3 sizes) and prints the exponents next to each other,
with the smallest and largest run's N and C per token under each count, so a
reader sees how much of an exponent is bookkeeping.
"""

from __future__ import annotations

import os

from scaling import figures as figlib
from scaling.laws import counting, curves as curves_lib, frontier, isoflop, readers
from scaling.laws.errors import LawInputError


def _interval(ci, key):
  return list(ci[key]) if ci and key in ci else None


def compare(path: str, curve: str = "auto", bootstrap: int = 0, seed: int = 0) -> dict:
  """Exponents of N_opt (and D_opt) under every convention: a fit.json dict."""
  rows = readers.read_rows(path)
  base = path if os.path.isdir(path) else None
  try:
    curves = curves_lib.load_curves(path, curve) if base else None
    curves_note = None if base else "a table has no learning curves"
  except LawInputError as e:
    curves, curves_note = None, str(e)
  small, large = (min(rows, key=lambda r: readers.pick(r, ("n_params_nonembedding", "N"))),
                  max(rows, key=lambda r: readers.pick(r, ("n_params_nonembedding", "N"))))
  out = {"law": "counts", "input": path, "conventions": {}}
  for name, conv in counting.CONVENTIONS.items():
    entry = {"N": conv.n_text, "C": conv.c_text, "examples": []}
    for row in (small, large):
      try:
        shape = counting.shape_of(row, base)
        entry["examples"].append({"run": row.get("name", row.get("run")), "N": conv.n(shape),
                                  "C_per_token": conv.flops_per_token(shape)})
      except LawInputError as e:
        entry["error"] = str(e)
    if "error" in entry:  # this count is not defined on these runs
      out["conventions"][name] = entry
      continue
    try:
      iso = isoflop.fit_isoflop(rows, base, name, bootstrap=bootstrap, seed=seed)
      entry["isoflop"] = {"N_exp": iso.allocation["N"]["exponent"],
                          "D_exp": iso.allocation["D"]["exponent"],
                          "N_exp_ci95": _interval(iso.ci95, "N_exp"),
                          "D_exp_ci95": _interval(iso.ci95, "D_exp"),
                          "N_opt": [p.n_opt for p in iso.profiles],
                          "C_opt": [p.c_opt for p in iso.profiles]}
    except LawInputError as e:
      entry["isoflop_error"] = str(e)
    if curves is None:
      entry["frontier_error"] = curves_note
    else:
      try:
        fr = frontier.compute_frontier(counting.counted_curves(curves, path, name),
                                       bootstrap=bootstrap, seed=seed)
        entry["frontier"] = {"N_exp": fr.params["C.N_exp"],
                             "N_exp_ci95": _interval(fr.ci95, "C.N_exp")}
      except (LawInputError, ValueError) as e:
        entry["frontier_error"] = str(e)
    out["conventions"][name] = entry
  return out


def _exp(entry: dict, key: str, q: str = "N_exp") -> str:
  fit = entry.get(key)
  if not fit:
    return "-"
  ci = fit.get(q + "_ci95")
  return f"{fit[q]:.3f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def report(data: dict) -> list[str]:
  lines = [f"N_opt ∝ C^a of the same runs ({data['input']}) under each counting convention",
           f"{'count':<8}{'N':<40}{'C':<36}{'frontier a':>22}{'IsoFLOP a':>22}"
           f"{'IsoFLOP b (D)':>22}"]
  notes = []
  for name, e in data["conventions"].items():
    lines.append(f"{name:<8}{e['N']:<40}{e['C']:<36}{_exp(e, 'frontier'):>22}"
                 f"{_exp(e, 'isoflop'):>22}{_exp(e, 'isoflop', 'D_exp'):>22}")
    for key in ("error", "frontier_error", "isoflop_error"):
      if e.get(key):
        notes.append(f"note: {name}: {key.split('_')[0] if '_' in key else 'count'}: "
                     f"{e[key]}")
  lines.append("the smallest and largest run under each count (N; C per token):")
  for name, e in data["conventions"].items():
    lines.append(f"  {name:<8}" + "; ".join(
        f"{x['run']}: N = {x['N']:,.0f}, C/token = {x['C_per_token']:,.0f}"
        for x in e["examples"]))
  return lines + notes


def figures(data: dict) -> dict[str, bytes]:
  """counts.png: the exponents under each convention (with 95% intervals)."""
  fig, ax = figlib.subplots(figsize=(6.5, 3.8), dpi=110)
  names = list(data["conventions"])
  for k, (key, label) in enumerate((("frontier", "frontier"), ("isoflop", "IsoFLOP"))):
    xs, ys, err = [], [], [[], []]
    for i, name in enumerate(names):
      fit = data["conventions"][name].get(key)
      if fit:
        xs.append(i + (k - 0.5) * 0.2)
        ys.append(fit["N_exp"])
        ci = fit.get("N_exp_ci95") or [fit["N_exp"]] * 2
        err[0].append(max(fit["N_exp"] - ci[0], 0))
        err[1].append(max(ci[1] - fit["N_exp"], 0))
    if xs:
      ax.errorbar(xs, ys, yerr=err, fmt="o", capsize=3, label=label)
  for y, label in ((0.73, "Kaplan 0.73"), (0.49, "Hoffmann 0.49")):
    ax.axhline(y, ls="--", lw=0.8, color="gray")
    ax.text(len(names) - 0.5, y, label, fontsize=7, va="bottom", ha="right")
  ax.set_xticks(range(len(names)), names)
  ax.set_xlabel("counting convention (scaling/laws/counting.py)")
  ax.set_ylabel("a in N_opt ∝ C^a")
  ax.set_title("the same runs, counted four ways")
  ax.legend(fontsize=8)
  return {"counts.png": figlib.png(fig)}
