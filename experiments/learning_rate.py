"""Learning rate and schedule (Kaplan et al. Fig. 22, Appendix D.6), feeding the law `lr`.

Each model size trains at several learning rates; the best learning rate per
size is fitted with LR(N) = a + b·ln N beside the paper's
0.003239 − 0.0001395·ln N. A second group trains one size with each schedule
(cosine, linear, constant) at one learning rate: the paper finds the schedule
matters little for the final loss.

  scaling-sweep --config experiments/learning_rate.py:tiny --workdir runs/learning_rate

Variants: `tiny` (3 sizes × 4 learning rates + 3 schedules, about ten minutes
on a CPU) and the default full variant.
"""

import os

import numpy as np

from scaling import config as configlib
from scaling.sweep import analysis

LAW = "lr"
FIGURE = "Fig. 22: loss against learning rate per size, best LR(N); schedules compared"

TINY_SHAPES = [(1, 32, 2), (2, 64, 4), (3, 96, 4)]
TINY_LRS = (1e-3, 2e-3, 4e-3, 8e-3)
FULL_LRS = (1e-4, 2e-4, 4e-4, 8e-4, 1.6e-3)


def get_config(arg=None):
  # the tiny variant keeps the Kaplan LR: the sweep sets each member's
  return analysis.variant_config(arg, "learning_rate", steps=200, eval_every=100,
                                 tiny_lr=None)[0]


def sweep(arg=None):
  tiny = configlib.experiment_variant(arg) == "tiny"
  shapes = TINY_SHAPES if tiny else [configlib.SIZES[s][:3] for s in ("small", "medium", "base")]
  members = []
  for l, d, h in shapes:
    for lr in TINY_LRS if tiny else FULL_LRS:
      members.append({"name": f"L{l}_d{d}_lr{lr:g}", "overrides": {
          "model.n_layer": l, "model.d_model": d, "model.n_heads": h, "train.lr": lr}})
  l, d, h = shapes[1]
  for schedule in ("cosine", "linear", "constant"):
    members.append({"name": f"L{l}_d{d}_{schedule}", "overrides": {
        "model.n_layer": l, "model.d_model": d, "model.n_heads": h,
        "train.lr": (TINY_LRS if tiny else FULL_LRS)[1], "train.schedule": schedule}})
  return members


def _best_lr(points):
  """The minimum of a parabola in log LR through the best point and its neighbours."""
  points = sorted(points)
  lrs, losses = np.log([p[0] for p in points]), np.array([p[1] for p in points])
  i = int(np.argmin(losses))
  if 0 < i < len(points) - 1:
    a, b, _ = np.polyfit(lrs[i - 1:i + 2], losses[i - 1:i + 2], 2)
    if a > 0:
      return float(np.exp(-b / (2 * a)))
  return float(np.exp(lrs[i]))


def analyze(sweep_dir, arg=None):
  del arg
  runs = analysis.print_runs(sweep_dir, extra=("lr",))
  by_size, schedules = {}, {}
  for r in runs:
    if r["name"].endswith(("_cosine", "_linear", "_constant")):
      schedules[r["name"].rsplit("_", 1)[1]] = r["val_loss"]
    else:
      by_size.setdefault(r["n_params_nonembedding"], []).append((r["lr"], r["val_loss"]))
  (fig, axes) = analysis.figure(2)
  rows = []
  for i, (n, points) in enumerate(sorted(by_size.items())):
    points.sort()
    axes[0][0].semilogx([p[0] for p in points], [p[1] for p in points], "o-", color=f"C{i}",
                        label=f"N={n:.1e}")
    best = _best_lr(points)
    rows.append({"N": n, "lr": best})
    print(f"N={n:>10,}: best learning rate {best:.2e} (paper's LR(N): "
          f"{configlib.kaplan_lr(n):.2e})")
  axes[0][0].set(xlabel="learning rate", ylabel="final validation loss", title="LR scan (Fig. 22)")
  axes[0][0].legend(fontsize=7)
  names = list(schedules)
  axes[0][1].bar(names, [schedules[k] for k in names])
  axes[0][1].set(ylabel="final validation loss", title="schedules, same LR",
                 ylim=(min(schedules.values()) * 0.98, max(schedules.values()) * 1.01))
  for name in names:
    print(f"schedule {name:<9} final validation loss {schedules[name]:.4f}")
  analysis.save_figure(fig, os.path.join(sweep_dir, "learning_rate.png"))
  table = analysis.write_csv(os.path.join(sweep_dir, "fit_lr", "table.csv"), rows, ["N", "lr"])
  return analysis.fit("lr", table, os.path.join(sweep_dir, "fit_lr"), bootstrap=0)
