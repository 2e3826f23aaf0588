"""IsoFLOP profiles (Hoffmann et al. 2022, "Chinchilla", approach 2).

For each compute budget C, models of several sizes N train for D = C/(6·N)
tokens each (steps = C/(6·N·batch_tokens), the learning rate decaying to zero
at each run's own end); at each budget a parabola of the final loss in log N
gives N_opt(C) (with a bootstrap interval), and across budgets
N_opt ∝ C^a and D_opt ∝ C^b (the paper's 0.49 and 0.51).

  scaling-sweep --config experiments/isoflop.py:tiny --workdir runs/isoflop
  scaling-sweep --config experiments/isoflop.py:tiny --workdir runs/isoflop --dry-run
  scaling-fit isoflop runs/isoflop [--count total]
  scaling-fit counts runs/isoflop     # the exponents under every counting convention

Variants: `tiny` (3 budgets × 4 sizes from 0.9K to 13K non-embedding
parameters, byte-level, 64-token context: about 10 minutes on a 2-core CPU) and
`gpu` (the default: 3 budgets × 4 sizes from `small` to `large`, n_ctx 1024,
sized for one H100-class GPU: 1.7e18 FLOP, about 1.5 hours at 3.5e14 FLOP/s;
give it a large corpus, e.g. --config.data.source=tfds:lm1b).

Members are named C<budget>_L<n_layer>_d<d_model>; the analysis reads the
budget from that name (`scaling.laws.isoflop.budget_of`).
"""

import os

from scaling import config as configlib
from scaling import formulas
from scaling.sweep import analysis

LAW = "isoflop"
FIGURE = "Chinchilla Fig. 3 (approach 2): IsoFLOP profiles, N_opt(C) and D_opt(C)"

# variant: (budgets in FLOP, shapes (n_layer, d_model, n_heads) per budget,
#           n_ctx, batch (sequences), lr)
# Each budget uses a window of 4 ladder shapes that brackets its optimum,
# shifted up with the budget (as Hoffmann et al. shift theirs). For the tiny
# byte-level runs the optimum sits where a model gets a few thousand steps:
# two earlier sweeps (budgets 2e10, 6e10, 1.8e11, sizes 3K..336K, then
# 1.9K..100K) found the minimum below the smallest size at most budgets
# (docs/beyond.md), so the budgets and sizes are these.
_TINY_LADDER = [(1, 8, 1), (1, 12, 2), (1, 16, 2), (1, 24, 2), (1, 32, 2)]
_TINY_WINDOWS = [_TINY_LADDER[0:4], _TINY_LADDER[0:4], _TINY_LADDER[1:5]]
_GPU_LADDER = [configlib.SIZES[s][:3] for s in ("small", "medium", "base", "large")]
VARIANTS = {
    "tiny": ((6.7e9, 2e10, 6e10), _TINY_WINDOWS, 64, 16, 3e-3),
    "gpu": ((3e16, 1e17, 3e17), [_GPU_LADDER] * 3, 1024, 128,
            "kaplan"),
}


def _variant(arg):
  name = arg or "gpu"
  if name not in VARIANTS:
    raise ValueError(f"unknown variant {arg!r}; use one of {', '.join(VARIANTS)}")
  return name


def budget_name(budget: float) -> str:
  mantissa, exponent = f"{budget:.1e}".split("e")
  mantissa = mantissa.rstrip("0").rstrip(".")
  return f"C{mantissa}e{int(exponent)}"


def get_config(arg=None):
  variant = _variant(arg)
  _, _, n_ctx, batch, lr = VARIANTS[variant]
  c = configlib.base_config()
  configlib.apply_size(c, "micro" if variant == "tiny" else "base")
  c.model.n_ctx, c.train.batch_size, c.train.lr = n_ctx, batch, lr
  c.train.schedule = "cosine"  # to zero at each run's own end, as Hoffmann et al.
  c.train.log_every = 25 if variant == "tiny" else 100
  c.checkpoint.every_steps = 100_000  # the last step is always saved
  c.eval.every_steps, c.eval.batches = 100_000, (8 if variant == "tiny" else 32)
  c.name = f"isoflop-{variant}"
  return c


def sweep(arg=None):
  variant = _variant(arg)
  budgets, windows, n_ctx, batch, _ = VARIANTS[variant]
  members = []
  for budget, shapes in zip(budgets, windows):
    for n_layer, d_model, n_heads in shapes:
      n = formulas.transformer_nonembedding(n_layer, d_model)
      steps = max(int(round(budget / (6 * n * batch * n_ctx))), 10)
      members.append({"name": f"{budget_name(budget)}_L{n_layer}_d{d_model}", "overrides": {
          "model.n_layer": n_layer, "model.d_model": d_model, "model.n_heads": n_heads,
          "train.steps": steps, "train.warmup_steps": max(steps // 10, 1)}})
  return members


def analyze(sweep_dir, arg=None):
  """Parabola per budget, N_opt(C) and D_opt(C), the figure; then the same runs
  under every counting convention."""
  del arg
  analysis.print_runs(sweep_dir)
  out = analysis.fit("isoflop", sweep_dir, os.path.join(sweep_dir, "fit_isoflop"),
                     bootstrap=200)
  analysis.fit("counts", sweep_dir, os.path.join(sweep_dir, "fit_counts"))
  return out
