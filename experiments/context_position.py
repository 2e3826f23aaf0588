"""Loss by position in the context (Kaplan et al. Fig. 20), feeding the law `position`.

Every evaluation records the mean loss at each context position T = 1..n_ctx
(`per_position_loss` in summary.json); for each model, L(T) = a + b·T^(−c) is
fitted (the paper finds c ≈ 0.56–0.62), and larger models are better mostly
at late positions.

  scaling-sweep --config experiments/context_position.py:tiny --workdir runs/position

Variants: `tiny` (three models, n_ctx 256, a few minutes on a CPU) and the
default full variant (n_ctx 1024, sizes small..large).
"""

import os

import numpy as np

from scaling.sweep import analysis

LAW = "position"
FIGURE = "Fig. 20: per-token loss against position in the context, with a + b·T^(−c) fits"


def get_config(arg=None):
  c, tiny = analysis.variant_config(arg, "context_position", steps=300, eval_every=150)
  if tiny:
    c.model.n_ctx, c.train.batch_size = 256, 8
    c.eval.batches = 16  # many sequences: the per-position means are noisy
  return c


def sweep(arg=None):
  return analysis.ladder_or_sizes(arg, ("small", "medium", "base", "large"),
                                  shapes=[(1, 32, 2), (2, 64, 4), (4, 128, 4)])


def analyze(sweep_dir, arg=None):
  del arg
  from scaling.laws import fit_law  # pylint: disable=g-import-not-at-top
  runs = analysis.print_runs(sweep_dir)
  (fig, axes) = analysis.figure()
  ax = axes[0][0]
  fits = {}
  for i, run in enumerate(runs):
    loss = np.asarray(run["per_position_loss"], float)
    t = np.arange(1, len(loss) + 1)
    result = fit_law("position", {"T": t, "loss": loss}, bootstrap=50, seed=0)
    p, ci = result.params, result.ci95
    fits[run["name"]] = {"params": p, "ci95": ci, "r2": result.r2}
    note = (f"c in [{ci['c'][0]:.3f}, {ci['c'][1]:.3f}]; paper 0.56-0.62" if p["c"] < 5 else
            "c unidentified: the curve is flat after the first positions, as for models "
            "that use little context")
    print(f"{run['name']:<12} N={run['n_params_nonembedding']:>9,}  L(T) = {p['a']:.3f} + "
          f"{p['b']:.3f}·T^-{p['c']:.3f}  ({note})")
    color = f"C{i}"
    ax.semilogx(t, loss, ".", ms=2, color=color, label=f"N={run['n_params_nonembedding']:.1e}")
    ax.semilogx(t, p["a"] + p["b"] * t ** (-p["c"]), "-", lw=1, color=color)
  ax.set(xlabel="token position T", ylabel="loss (nats/token)",
         title="per-position loss (Fig. 20) with a + b·T^-c fits")
  ax.legend(fontsize=7)
  analysis.save_figure(fig, os.path.join(sweep_dir, "context_position.png"))
  return fits
