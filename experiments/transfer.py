"""Transfer to other distributions (Kaplan et al. Fig. 8).

Models trained on one distribution are evaluated on others at every
evaluation (`eval.datasets`); the paper finds the loss on another
distribution tracks the training-distribution loss with a roughly constant
offset. The analysis plots the other losses against the training one and
fits each offset.

  scaling-sweep --config experiments/transfer.py:tiny --workdir runs/transfer

Variants: `tiny` (the CPU model ladder trained on the stdlib docstrings and
pydoc topics, evaluated on the licence files of the installed packages), `gpu`
(the members and configs of model_size:gpu, trained on PG-19 books and
evaluated on lm1b's news sentences: run that sweep once and copy its member
directories here, finished members are skipped; docs/gpu.md) and the
default full variant (a TFDS source; set eval.datasets to others, e.g.
`tfds:wiki40b/en;tfds:pg19`).
"""

import os

import numpy as np

from scaling import config as configlib
from scaling.sweep import analysis

FIGURE = "Fig. 8: loss on other distributions against the training-distribution loss"


VARIANTS = ("tiny", "gpu", "full")


def get_config(arg=None):
  if configlib.experiment_variant(arg, names=VARIANTS) == "gpu":
    c = configlib.base_config()
    analysis.gpu_ladder_config(c)  # PG-19, evaluated on lm1b too
    c.name = "transfer"
    return c
  c, tiny = analysis.variant_config(arg, "transfer", steps=300, eval_every=50,
                                    full_eval_every=1000)
  if tiny:
    c.eval.datasets = analysis.licence_texts()
  else:
    c.data.source = "tfds:c4/en"
    c.eval.datasets = "tfds:wiki40b/en;tfds:pg19"
  return c


def sweep(arg=None):
  if configlib.experiment_variant(arg, names=VARIANTS) == "gpu":
    return analysis.ladder_members(analysis.GPU_LADDER)
  return analysis.ladder_or_sizes(arg, ("mini", "small", "medium", "base"))


def analyze(sweep_dir, arg=None):
  del arg
  runs = analysis.print_runs(sweep_dir)
  others = sorted({k for r in runs for k in r if k.startswith("val_loss/")})
  if not others:
    raise ValueError(f"the runs in {sweep_dir} have no val_loss/<name>: set eval.datasets")
  fig, axes = analysis.figure()
  ax = axes[0][0]
  report = {}
  for key in others:
    xs, ys = [], []
    for run in runs:
      for row in analysis.learning_curves(sweep_dir, run):
        if key in row:
          xs.append(row["val_loss"])
          ys.append(row[key])
    xs, ys = np.asarray(xs), np.asarray(ys)
    offset = float(np.median(ys - xs))
    report[key] = {"offset": offset, "spread": float(np.std(ys - xs)), "points": len(xs)}
    name = key.split("/", 1)[1]
    ax.plot(xs, ys, "o", ms=3, label=f"{name}: offset {offset:+.3f} nats")
    grid = np.linspace(xs.min(), xs.max(), 10)
    ax.plot(grid, grid + offset, "--", lw=1)
    print(f"{name}: loss = training loss {offset:+.4f} nats (std {report[key]['spread']:.4f}, "
          f"{len(xs)} evaluations)")
  ax.set(xlabel="loss on the training distribution (nats/token)",
         ylabel="loss on the other distribution", title="transfer (Fig. 8)")
  ax.legend(fontsize=7)
  analysis.save_figure(fig, os.path.join(sweep_dir, "transfer.png"))
  return report
