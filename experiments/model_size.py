"""Model size: L(N) (Kaplan et al. Figs. 1 and 6), feeding the law `N`.

Transformers of increasing non-embedding size N, each trained for the same
number of tokens; the final validation losses are fitted with
L(N) = (N_c/N)^alpha_N and drawn against the paper's law.

  scaling-sweep --config experiments/model_size.py:tiny --workdir runs/model_size
  scaling-sweep --config experiments/model_size.py --workdir runs/model_size_full

Variants: `tiny` (5 models from 12K to 800K parameters, about 3 minutes on a
2-core CPU) and the default full variant (the paper's n_ctx 1024, batch 512
sequences, 2.5e5 steps: a TPU pod slice or a multi-GPU host).
"""

import os

from scaling import config as configlib
from scaling.sweep import analysis

LAW = "N"
FIGURE = "Figs. 1 and 6: loss against non-embedding parameters"

FULL_SIZES = ["mini", "small", "medium", "base", "large", "xl"]


def get_config(arg=None):
  c = configlib.base_config()
  if configlib.experiment_variant(arg) == "tiny":
    configlib.apply_size(c, "tiny")
    c.train.steps, c.train.warmup_steps = 300, 30
    c.train.lr = 3e-3
    c.train.log_every, c.checkpoint.every_steps = 50, 150
    c.eval.every_steps, c.eval.batches = 150, 8
  else:
    configlib.apply_size(c, "base")  # n_ctx 1024, batch 512, 2.5e5 steps
  c.name = "model_size"
  return c


def sweep(arg=None):
  if configlib.experiment_variant(arg) == "tiny":
    return analysis.ladder_members()
  members = analysis.size_members(FULL_SIZES)
  for member in members:  # Adafactor above 1B parameters, as in the paper
    member["overrides"]["train.optimizer"] = "adafactor" if member["name"] == "xl" else "adamw"
  return members


def analyze(sweep_dir, arg=None):
  """Prints the runs, fits L(N) with a bootstrap interval, writes the figure."""
  del arg
  analysis.print_runs(sweep_dir)
  out = os.path.join(sweep_dir, "fit_N")
  return analysis.fit("N", sweep_dir, out, bootstrap=200)
