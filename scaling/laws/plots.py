"""Figures in the style of the paper: log-log axes, the data as points, the fit
as a solid line and the paper's law dashed for reference.

Figures are rendered off-screen (Agg) to PNG bytes, so that callers can write
them only once everything has succeeded.
"""

from __future__ import annotations

import numpy as np

from scaling import figures
from scaling.laws import fit as fitting
from scaling.laws import forms
from scaling.laws import planner
from scaling.laws.fit import FitResult

_GROUPED = {"ND": ("D", "N"), "chinchilla": ("D", "N"), "NS": ("S_min", "N")}
_LABELS = {"N": "N (non-embedding parameters)", "D": "D (tokens)",
           "C": "C (PF-days)", "C_min": "C_min (PF-days)", "S_min": "S_min (steps)",
           "T": "token position T", "loss": "loss (nats/token)",
           "B_crit": "B_crit (tokens)", "lr": "learning rate"}


def slug(name: str) -> str:
  """A law name usable in file names ('N+E' -> 'N_E')."""
  return name.replace("+", "_")


def _figure(ncols: int = 1):
  fig, axes = figures.subplots(1, ncols, figsize=(5.2 * ncols, 4.0), dpi=110, squeeze=False)
  return fig, list(axes[0])


def _plain_ticks(ax) -> None:
  """Plain tick labels (2.5, 3, 4) on log axes spanning under a decade."""
  from matplotlib.ticker import LogFormatter, ScalarFormatter
  for axis, (lo, hi), scale in ((ax.xaxis, ax.get_xlim(), ax.get_xscale()),
                                (ax.yaxis, ax.get_ylim(), ax.get_yscale())):
    if scale == "log" and 0 < lo and hi / lo < 10:
      axis.set_major_formatter(ScalarFormatter())
      axis.set_minor_formatter(LogFormatter(labelOnlyBase=False,
                                            minor_thresholds=(2, 1)))


def _png(fig) -> bytes:
  for ax in fig.axes:
    _plain_ticks(ax)
  return figures.png(fig)


def _scale(col: str) -> float:
  """Plotted compute is in PF-days."""
  return forms.PF_DAY if col in ("C", "C_min") else 1.0


def _grid(values: np.ndarray, pad: float = 0.05) -> np.ndarray:
  lo, hi = np.log(values.min()), np.log(values.max())
  span = max(hi - lo, 1e-3)
  return np.exp(np.linspace(lo - pad * span, hi + pad * span, 200))


def _single(result: FitResult, ax) -> None:
  law = result.law
  col, tgt = law.inputs[0], law.target
  tables = [result.table] + ([result.heldout_table] if result.heldout_table
                             else [])
  allx = np.concatenate([t[col] for t in tables])
  xs = _grid(allx)
  s = _scale(col)
  ax.plot(result.table[col] / s, result.table[tgt], "o", ms=4, color="C0",
          label=f"data ({result.n_points})")
  if result.heldout_table is not None:
    h = result.heldout_table
    ax.plot(h[col] / s, h[tgt], "s", ms=6, mfc="none", color="C3",
            label=f"held out ({len(h)})")
  ax.plot(xs / s, law.predict(result.params, {col: xs}), "-", color="C1",
          label="fit: " + ", ".join(f"{k}={v:.3g}"
                                    for k, v in result.params.items()))
  if result.bootstrap_params is not None and len(result.bootstrap_params):
    lo, hi = fitting.prediction_interval(law, result.bootstrap_params, {col: xs})
    ax.fill_between(xs / s, lo, hi, color="C1", alpha=0.15, lw=0,
                    label="95% bootstrap band")
  rows = (result.holdout or {}).get("rows", [])
  if rows and all("predicted_lo" in r for r in rows):
    x = np.array([r[col] for r in rows]) / s
    pred = np.array([r["predicted"] for r in rows])
    err = [pred - [r["predicted_lo"] for r in rows], [r["predicted_hi"] for r in rows] - pred]
    ax.errorbar(x, pred, yerr=np.maximum(err, 0), fmt="x", color="C3", capsize=4, ms=6,
                label="prediction, 95% interval")
  if law.has_paper:
    ax.plot(xs / s, law.predict(law.paper, {col: xs}), "--", color="0.4",
            label="paper")
  ax.set_xscale("log")
  if law.log_y:
    ax.set_yscale("log")
  ax.set_xlabel(_LABELS.get(col, col))
  ax.set_ylabel(_LABELS.get(tgt, tgt))


def _grouped(result: FitResult, ax) -> None:
  law = result.law
  xcol, gcol = _GROUPED[law.name]
  tabs = [result.table] + ([result.heldout_table] if result.heldout_table
                           else [])
  groups = np.unique(np.concatenate([t[gcol] for t in tabs]))
  xs = _grid(np.concatenate([t[xcol] for t in tabs]))
  cmap = figures.colormap("viridis")
  for i, g in enumerate(groups):
    color = cmap(i / max(len(groups) - 1, 1))
    for t, marker in zip(tabs, ("o", "s")):
      sel = t[gcol] == g
      if sel.any():
        ax.plot(t[xcol][sel], t[law.target][sel], marker, ms=4, color=color,
                mfc=color if marker == "o" else "none")
    cols = {xcol: xs, gcol: np.full_like(xs, g)}
    ax.plot(xs, law.predict(result.params, cols), "-", color=color, lw=1,
            label=f"{gcol}={g:.2g}")
    if law.has_paper:
      ax.plot(xs, law.predict(law.paper, cols), "--", color=color, lw=0.8,
              alpha=0.6)
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xlabel(_LABELS.get(xcol, xcol))
  ax.set_ylabel(_LABELS.get(law.target, law.target))
  ax.set_title("solid: fit, dashed: paper" if law.has_paper else "solid: fit",
               fontsize=9)


def _parity(result: FitResult, ax) -> None:
  law = result.law
  obs = result.table[law.target]
  ax.plot(obs, np.exp(np.log(obs) + result.residuals), "o", ms=4,
          label=f"fit points (R^2 log = {result.r2:.4f})")
  allv = [obs]
  if result.heldout_table is not None:
    h = result.heldout_table
    ax.plot(h[law.target], result.predict(h.columns), "s", ms=6, mfc="none",
            color="C3", label="held out")
    allv.append(h[law.target])
  v = np.concatenate(allv)
  lim = [v.min() * 0.97, v.max() * 1.03]
  ax.plot(lim, lim, "k-", lw=0.8)
  if law.log_y:
    ax.set_xscale("log")
    ax.set_yscale("log")
  ax.set_xlabel(f"observed {law.target}")
  ax.set_ylabel(f"predicted {law.target}")


def law_figures(result: FitResult) -> dict[str, bytes]:
  """{file name: PNG bytes}: fit_<law>.png and residuals_<law>.png."""
  name = slug(result.law.name)
  fig, (ax,) = _figure()
  if result.law.name in _GROUPED:
    _grouped(result, ax)
    ax.legend(fontsize=6, ncol=2)
  else:
    _single(result, ax)
    ax.legend(fontsize=7)
  ax.set_title(f"{result.law.formula}", fontsize=8)
  out = {f"fit_{name}.png": _png(fig)}
  fig, (ax,) = _figure()
  _parity(result, ax)
  ax.legend(fontsize=7)
  ax.set_title(f"{result.law.name}: predicted vs observed", fontsize=9)
  out[f"residuals_{name}.png"] = _png(fig)
  return out


def frontier_figures(fr) -> dict[str, bytes]:
  """frontier_curves.png (curves and envelope vs C, and vs C_min) and
  frontier_allocation.png (compute-efficient N and D against compute)."""
  cmap = figures.colormap("viridis")
  ns = np.array([c.N for c in fr.curves])
  lo, hi = np.log(ns.min()), np.log(ns.max())
  keys = list(fr.envelopes)
  fig, axes = _figure(len(keys))
  for ax, key in zip(axes, keys):
    env, fit = fr.envelopes[key], fr.loss_fits[key]
    for c in fr.curves:
      if key == "C_min" and not c.B:
        continue
      x = c.C if key == "C" else np.maximum.accumulate(forms.c_min_of(
          c.C, c.B, c.loss, forms.bcrit_of_loss(c.loss, *fr.bcrit)))
      t = (np.log(c.N) - lo) / max(hi - lo, 1e-9)
      ax.plot(x / forms.PF_DAY, c.loss, "-", lw=0.7, color=cmap(t), alpha=0.8)
    ax.plot(env.x / forms.PF_DAY, env.loss, "k-", lw=2, label="frontier")
    xs = env.x[fr.masks[key]]
    col = "C" if key == "C" else "C_min"
    ax.plot(xs / forms.PF_DAY, fit.predict({col: xs}), "-", color="C3",
            label="fit: " + ", ".join(f"{k}={v:.3g}"
                                      for k, v in fit.params.items()))
    ax.plot(env.x / forms.PF_DAY, fit.law.predict(fit.law.paper, {col: env.x}),
            "--", color="0.4", label="paper")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(_LABELS[col])
    ax.set_ylabel(_LABELS["loss"])
    ax.legend(fontsize=7)
  out = {"frontier_curves.png": _png(fig)}
  fig, axes = _figure(2)
  fitted = np.concatenate([fr.envelopes[k].x[fr.masks[k]] for k in keys])
  xlim = (fitted.min() / forms.PF_DAY / 10, fitted.max() / forms.PF_DAY * 10)
  for key, marker in zip(keys, ("o", "^")):
    env, mask = fr.envelopes[key], fr.masks[key]
    x = env.x / forms.PF_DAY
    near = (x >= xlim[0]) & (x <= xlim[1])
    for ax, qty, vals in ((axes[0], "N", env.N), (axes[1], "D", env.extras["D"])):
      pw = fr.allocation[key][qty]
      ax.plot(x[mask], vals[mask], marker, ms=4, label=f"{qty} vs {key}")
      ax.plot(x[~mask & near], vals[~mask & near], marker, ms=4, mfc="none",
              color="0.6")
      ax.plot(x[mask], pw["coef"] * x[mask] ** pw["exponent"], "-",
              label=f"fit {pw['coef']:.3g}*{key}^{pw['exponent']:.3f}")
      if key == "C_min":
        coef, exp = planner.TABLE6[qty]
        xs = np.geomspace(*xlim, 50)
        ax.plot(xs, coef * xs ** exp, "--", color="0.4",
                label=f"paper {coef:.2g}*C_min^{exp}")
  for ax, qty in zip(axes, ("N", "D")):
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*xlim)
    ax.set_xlabel("compute (PF-days); open: not fitted")
    ax.set_ylabel(_LABELS[qty])
    ax.legend(fontsize=7)
  out["frontier_allocation.png"] = _png(fig)
  return out
