"""Compute frontier: L(C) and the compute-efficient N_opt(C) (Kaplan et al.
Figs. 1, 13 and 14), feeding the laws `C` / `Cmin` and the frontier fits.

Models of several sizes train with dense learning curves; the lower envelope
of all curves against C = 6·N·tokens gives L(C), and which model is on the
envelope gives N_opt ∝ C^a (and D, S against C).

  scaling-sweep --config experiments/compute_frontier.py:tiny --workdir runs/frontier

Variants: `tiny` (the CPU model ladder, 400 steps, an evaluation every 25: a
few minutes), `gpu` (the members and configs of model_size:gpu, whose ladder
carries this finding on one GPU: run that sweep once and copy its member
directories here, finished members are skipped; docs/gpu.md) and the default
full variant (sizes mini..large, paper schedule).
"""

import os

from scaling import config as configlib
from scaling.sweep import analysis

LAW = "frontier"
FIGURE = "Figs. 1, 13, 14: learning curves against compute, their envelope, N_opt(C)"


VARIANTS = ("tiny", "gpu", "full")


def get_config(arg=None):
  if configlib.experiment_variant(arg, names=VARIANTS) == "gpu":
    c = configlib.base_config()
    analysis.gpu_ladder_config(c)
    c.name = "compute_frontier"
    return c
  return analysis.variant_config(arg, "compute_frontier", steps=400, eval_every=25,
                                 full_eval_every=500)[0]


def sweep(arg=None):
  if configlib.experiment_variant(arg, names=VARIANTS) == "gpu":
    return analysis.ladder_members(analysis.GPU_LADDER)
  return analysis.ladder_or_sizes(arg, ("mini", "small", "medium", "base", "large"))


def analyze(sweep_dir, arg=None):
  del arg
  analysis.print_runs(sweep_dir)
  return analysis.fit("frontier", sweep_dir, os.path.join(sweep_dir, "fit_frontier"),
                      curve="eval")
