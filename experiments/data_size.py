"""Data size: L(N, D) (Kaplan et al. Figs. 4 and 9, Eq. 4.1), feeding the law `ND`.

Each model size trains on several dataset sizes D (the first D tokens of the
training split, repeated in epochs) long enough to overfit the small ones;
the best validation loss of each run (early stopping) is fitted with
L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D.

  scaling-sweep --config experiments/data_size.py:tiny --workdir runs/data_size
  scaling-sweep --config experiments/data_size.py:cpu --workdir runs/data_size_cpu
  scaling-sweep --config experiments/data_size.py:gpu --workdir runs/data_size_gpu

Variants: `tiny` (3 models × 4 dataset sizes on the embedded corpus, a few
minutes on a CPU), `cpu` (the finding: 3 models × 5 dataset sizes, the largest
the whole split, 500 steps each, about 15 minutes on 2 cores), `gpu` (3 models
of 3e6-2e7 × D from 2e7 tokens to all of PG-19 in SentencePiece tokens, one
H100-class GPU: docs/gpu.md) and the default full variant (sizes mini..base, D from 2e7 to
2e9 tokens, for an accelerator with a large TFDS source).
"""

import dataclasses
import os

from scaling import config as configlib
from scaling.findings import Finding
from scaling.sweep import analysis
from scaling.sweep.tuning import grid_members

LAW = "ND"
FIGURE = "Figs. 4 and 9: early-stopped loss against D for each N, and the fit of Eq. 4.1"

TINY_D = (25_000, 60_000, 150_000, 400_000)
TINY_SHAPES = [(1, 32, 2), (2, 64, 4), (3, 96, 4)]
FULL_D = (2e7, 6e7, 2e8, 6e8, 2e9)
# 0: the whole training split (1.79M bytes), more than the 500 x 2048 = 1.02M
# bytes a run reads, so nothing repeats: the no-overfitting reference.
CPU_D = (20_000, 50_000, 125_000, 300_000, 0)
CPU_SHAPES = TINY_SHAPES
# gpu: N 3.1e6, 7.1e6, 1.9e7 on the first 2e7 to 6e8 PG-19 tokens and on all of
# them (0), 10,000 steps of 128x1024 tokens (1.3e9) each: up to 65 epochs of the
# smallest D, under one of the whole split.
GPU_D = (20_000_000, 60_000_000, 200_000_000, 600_000_000, 0)
GPU_SHAPES = [(4, 256, 4), (4, 384, 6), (6, 512, 8)]
VARIANTS = ("tiny", "cpu", "nltk", "nltk_es", "gpu", "full")

FINDINGS = (
    Finding(
        key="L_N_D", title="L(N, D): the overfitting penalty depends on N^0.74/D",
        paper="Eq. 4.1, Figs. 4, 9",
        claim="The early-stopped loss penalty for finite data, L(N, D)/L(N, ∞) − 1, "
              "is one function of N^(alpha_N/alpha_D)/D (ratio 0.74): 8x the model "
              "needs ~5x the data.",
        variant="cpu", check="overfitting_collapse",
        criteria={"max_rms": 0.01, "max_abs_residual": 0.02, "ratio_ci_low": 0.0,
                  "bootstrap": 200},
        registered="2026-11-29",
        rationale="Three models (N 13K, 100K, 336K, dropout 0.1 as in the paper's "
                  "data-limited runs) each train 500 steps of 16x128 bytes on the "
                  "first D bytes (20K to 300K, repeated in epochs) and on the whole "
                  "split (D = ∞: nothing repeats). Penalty δ = best(N, D)/best(N, ∞) "
                  "− 1, fitted as δ = (1 + k·N^r/D)^alpha_D − 1 (Eq. 4.3's form, "
                  "r = alpha_N/alpha_D). Collapse: the fit's residuals in log(1 + δ) "
                  "have RMS ≤ 0.01 and none above 0.02, and the penalty grows with N "
                  "(r's 95% bootstrap interval above 0). The fitted r is reported "
                  "beside the paper's 0.74, not judged: at 1e4-1e5 parameters on bytes "
                  "there is no reason for the same exponents.",
        if_not="Data sizes spanning more than 15x per model, or models over 1e6."),
)


# The second design (issue #25), written on 2026-12-04 before its runs, under the
# criteria of 2026-11-29 unchanged: the same three models and data sizes on NLTK's
# broad corpus (D = all is 17.6M bytes, of which a run reads 1.02M: nothing
# repeats), 5% warmup then cosine decay, dropout 0.1, each (N, D) at its own best
# learning rate of the grid, picked on the tuning split.
TUNING = {"nltk": analysis.NLTK_TUNING}
FINDINGS = FINDINGS + (FINDINGS[0].repeat(
    "nltk", suffix="nltk", title="broad corpus, tuned",
    why=" Second design (variant nltk): the first D bytes "
    "of NLTK's Brown, reviews, ABC news and web text, 500 steps with a 25-step warmup "
    "then cosine decay, each (N, D) at the learning rate (2e-3, 4.5e-3 or 1e-2) with the "
    "lowest final loss on the tuning split; the penalty is read from the chosen runs' "
    "best validation loss."),)

# The third design (issue #25), written on 2026-12-07 before its runs, under the
# criteria of 2026-11-29 unchanged. The second design picked each (N, D)'s
# learning rate by its *final* tuning loss but read the penalty from its *best*
# (early-stopped) validation loss: for the small D, which overfit, the two
# disagree, so the grid point chosen was not the one with the lowest
# early-stopped loss. Here the tuning split scores each grid point by its
# lowest loss, the statistic the finding reads (Tuning.score "best"); the runs
# are new (seed 1), the models, data sizes, steps, schedule and grid the
# second design's.
TUNING["nltk_es"] = dataclasses.replace(analysis.NLTK_TUNING, score="best")
FINDINGS = FINDINGS + (FINDINGS[0].repeat(
    "nltk_es", suffix="nltk_es", title="broad corpus, tuned for early stopping",
    why=" Third design (variant nltk_es): the second design's models, data sizes, "
    "500-step warmup-cosine runs and learning-rate grid, new runs (seed 1), each (N, D) "
    "at the grid point with the lowest early-stopped loss on the tuning split (the "
    "statistic the penalty reads) instead of the lowest final loss."),)


def get_config(arg=None):
  variant = configlib.experiment_variant(arg, names=VARIANTS)
  if variant == "cpu":
    c, _ = analysis.variant_config("tiny", "data_size", steps=500, eval_every=25)
    c.eval.batches = 8
  elif variant in ("nltk", "nltk_es"):
    c, _ = analysis.variant_config("tiny", "data_size", steps=500, eval_every=25)
    analysis.nltk_schedule(c, steps=500, eval_every=25, eval_batches=8)
    if variant == "nltk_es":
      c.train.seed = 1  # new runs, independent of the second design's
  elif variant == "gpu":
    c = configlib.base_config()
    analysis.gpu_schedule(c, steps=10_000, eval_every=250, eval_batches=8)
    c.name = "data_size"
  else:
    c, _ = analysis.variant_config(arg, "data_size", steps=300, eval_every=25,
                                   full_eval_every=1000)
  c.model.dropout = 0.1  # as in the paper's data-limited runs (Section 4)
  return c


def sweep(arg=None):
  members = []
  variant = configlib.experiment_variant(arg, names=VARIANTS)
  if variant == "tiny":
    shapes, sizes = TINY_SHAPES, TINY_D
  elif variant in ("cpu", "nltk", "nltk_es"):
    shapes, sizes = CPU_SHAPES, CPU_D
  elif variant == "gpu":
    shapes, sizes = GPU_SHAPES, GPU_D
  else:
    shapes = [configlib.SIZES[s][:3] for s in ("mini", "small", "medium", "base")]
    sizes = FULL_D
  for l, d, h in shapes:
    for tokens in sizes:
      members.append({"name": f"L{l}_d{d}_D{int(tokens):d}" if tokens else f"L{l}_d{d}_Dall",
                      "overrides": {"model.n_layer": l, "model.d_model": d, "model.n_heads": h,
                                    "data.max_train_tokens": int(tokens)}})
  return grid_members(members, TUNING[variant]) if variant in TUNING else members


def analyze(sweep_dir, arg=None):
  del arg
  runs = analysis.print_runs(sweep_dir, extra=("train_tokens_available", "best_val_loss"))
  rows = [{"N": r["n_params_nonembedding"], "D": r["train_tokens_available"],
           "loss": r["best_val_loss"], "run": r["name"]} for r in runs]
  table = analysis.write_csv(os.path.join(sweep_dir, "fit_ND", "table.csv"), rows,
                             ["run", "N", "D", "loss"])
  return analysis.fit("ND", table, os.path.join(sweep_dir, "fit_ND"), bootstrap=100)
