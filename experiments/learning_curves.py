"""Learning curves: L(N, S) (Kaplan et al. Figs. 4 and 11, Eq. 5.6), feeding the law `NS`.

Models of several sizes train with evaluations along the way; every
evaluation (N, S, B, loss) is a point, S is converted to S_min with the
paper's B_crit(L) (Eq. 5.4), and L(N, S_min) = (N_c/N)^α_N + (S_c/S_min)^α_S
is fitted to all of them.

  scaling-sweep --config experiments/learning_curves.py:tiny --workdir runs/learning_curves

Variants: `tiny` (the CPU model ladder, 400 steps, an evaluation every 25), `gpu`
(the members and configs of model_size:gpu, whose ladder carries this finding
on one GPU, as model_size:cpu's does on the CPU: run that sweep once and copy
its member directories here, finished members are skipped; docs/gpu.md) and the
default full variant (sizes mini..large, paper schedule).
"""

import os

from scaling import config as configlib
from scaling.sweep import analysis

LAW = "NS"
FIGURE = "Figs. 4 and 11: learning curves against steps, and the fit of Eq. 5.6"


VARIANTS = ("tiny", "gpu", "full")


def get_config(arg=None):
  if configlib.experiment_variant(arg, names=VARIANTS) == "gpu":
    c = configlib.base_config()
    analysis.gpu_ladder_config(c)
    c.name = "learning_curves"
    return c
  c, tiny = analysis.variant_config(arg, "learning_curves", steps=400, eval_every=25,
                                    full_eval_every=1000)
  if tiny:
    c.train.schedule = "constant"  # steps to a loss should not depend on the run's length
  return c


def sweep(arg=None):
  if configlib.experiment_variant(arg, names=VARIANTS) == "gpu":
    return analysis.ladder_members(analysis.GPU_LADDER)
  return analysis.ladder_or_sizes(arg, ("mini", "small", "medium", "base", "large"))


def analyze(sweep_dir, arg=None):
  del arg
  runs = analysis.print_runs(sweep_dir)
  rows = []
  for run in runs:
    for row in analysis.learning_curves(sweep_dir, run):
      if row["step"] >= 50:  # past warmup
        rows.append({"run": run["name"], "N": run["n_params_nonembedding"], "S": row["step"],
                     "B": run["batch_tokens"], "loss": row["val_loss"]})
  table = analysis.write_csv(os.path.join(sweep_dir, "fit_NS", "table.csv"), rows,
                             ["run", "N", "S", "B", "loss"])
  return analysis.fit("NS", table, os.path.join(sweep_dir, "fit_NS"), bootstrap=50)
