"""The figure of `scaling-fit branches`: B_crit over training by branching,
beside the reference's gradient noise scale and a scan's B_crit(L)."""

from __future__ import annotations

import numpy as np

from scaling import figures as figlib


def figures(data: dict) -> dict[str, bytes]:
  """branches.png: left, batch sizes (tokens) against the reference's tokens;
  right, each branch point's fraction of the reference's progress against k."""
  fig, (ax, ax2) = figlib.subplots(1, 2, figsize=(11, 4.2), dpi=110)
  b = data["batch_tokens"]
  pts = data["points"]
  noise = data["noise"]
  if noise["step"]:
    ax.plot(np.array(noise["step"]) * b, noise["b_noise_tokens"], "-", color="C2", lw=1,
            label="B_noise of the reference (lag-free)")
  tok = np.array([p["tokens"] for p in pts])
  for bound, marker, label in (("", "o", "B_crit by branching"),
                               (">=", "^", "lower bound (every branch matched)"),
                               ("<=", "v", "upper bound (no branch matched)")):
    sel = [i for i, p in enumerate(pts) if p["bound"] == bound]
    if sel:
      ax.plot(tok[sel], [pts[i]["b_crit"] for i in sel], marker, color="C0", ms=8,
              label=label, ls="none")
  model = [(p["tokens"], p["b_crit_model"]) for p in pts if p["b_crit_model"]]
  if model:
    ax.plot(*zip(*model), "s", mfc="none", color="C1", ms=8,
            label="Eq. 5.1 fit to the branches' progress")
  if data.get("scan"):
    s = data["scan"]
    steps, losses = zip(*data["reference_loss"])
    steps, losses = np.array(steps, float), np.array(losses, float)
    ok = steps > 0
    ax.plot(steps[ok] * b, s["b_star_tokens"] / losses[ok] ** (1 / s["alpha_b"]), "--",
            color="C3", label=f"scan B_crit(L) at the reference's loss (α_B={s['alpha_b']:.2f})")
  ax.axhline(b, color="gray", lw=0.8, ls=":")
  ax.text(tok.min(), b, " reference batch", fontsize=7, va="bottom", color="gray")
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xlabel("tokens of the reference run at the branch point")
  ax.set_ylabel("batch size (tokens)")
  ax.set_title("critical batch over training")
  ax.legend(fontsize=7)
  for i, p in enumerate(pts):
    ax2.plot(p["ks"], p["fractions"], "o-", color=f"C{i % 10}",
             label=f"step {p['start']} (loss {p['loss_start']:.2f})")
  ax2.axhline(1 - data["tolerance"], color="k", lw=0.8, ls="--")
  ax2.text(1, 1 - data["tolerance"], f" tolerance: {1 - data['tolerance']:g} of the progress",
           fontsize=7, va="bottom")
  ax2.set_xscale("log", base=2)
  ax2.set_xlabel("k (branch batch / reference batch)")
  ax2.set_ylabel("fraction of the reference's progress")
  ax2.set_title("branches: fraction of the reference's progress")
  ax2.legend(fontsize=7)
  return {"branches.png": figlib.png(fig)}
