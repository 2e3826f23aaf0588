"""Data size: L(N, D) (Kaplan et al. Figs. 4 and 9, Eq. 4.1), feeding the law `ND`.

Each model size trains on several dataset sizes D (the first D tokens of the
training split, repeated in epochs) long enough to overfit the small ones;
the best validation loss of each run (early stopping) is fitted with
L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D.

  scaling-sweep --config experiments/data_size.py:tiny --workdir runs/data_size

Variants: `tiny` (3 models × 4 dataset sizes on the embedded corpus, a few
minutes on a CPU) and the default full variant (sizes mini..base, D from 2e7
to 2e9 tokens, for an accelerator with a large TFDS source).
"""

import os

from scaling import config as configlib
from scaling.sweep import analysis

LAW = "ND"
FIGURE = "Figs. 4 and 9: early-stopped loss against D for each N, and the fit of Eq. 4.1"

TINY_D = (25_000, 60_000, 150_000, 400_000)
TINY_SHAPES = [(1, 32, 2), (2, 64, 4), (3, 96, 4)]
FULL_D = (2e7, 6e7, 2e8, 6e8, 2e9)


def get_config(arg=None):
  c, _ = analysis.variant_config(arg, "data_size", steps=300, eval_every=25,
                                 full_eval_every=1000)
  c.model.dropout = 0.1  # as in the paper's data-limited runs (Section 4)
  return c


def sweep(arg=None):
  members = []
  if configlib.experiment_variant(arg) == "tiny":
    shapes, sizes = TINY_SHAPES, TINY_D
  else:
    shapes = [configlib.SIZES[s][:3] for s in ("mini", "small", "medium", "base")]
    sizes = FULL_D
  for l, d, h in shapes:
    for tokens in sizes:
      members.append({"name": f"L{l}_d{d}_D{int(tokens):d}", "overrides": {
          "model.n_layer": l, "model.d_model": d, "model.n_heads": h,
          "data.max_train_tokens": int(tokens)}})
  return members


def analyze(sweep_dir, arg=None):
  del arg
  runs = analysis.print_runs(sweep_dir, extra=("train_tokens_available", "best_val_loss"))
  rows = [{"N": r["n_params_nonembedding"], "D": r["train_tokens_available"],
           "loss": r["best_val_loss"], "run": r["name"]} for r in runs]
  table = analysis.write_csv(os.path.join(sweep_dir, "fit_ND", "table.csv"), rows,
                             ["run", "N", "D", "loss"])
  return analysis.fit("ND", table, os.path.join(sweep_dir, "fit_ND"), bootstrap=100)
