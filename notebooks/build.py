"""Writes the notebooks in this folder from their cell sources (run to update).

  python notebooks/build.py

Notebooks are stored without outputs; `tests/test_notebooks.py` executes them.
"""

import os

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = os.path.dirname(os.path.abspath(__file__))

SETUP = '''\
import os
import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from IPython.display import Image, display
# The sweep to read: $SCALING_SWEEP_DIR, else the demo's (make demo).
SWEEP_DIR = os.environ.get("SCALING_SWEEP_DIR", os.path.join("..", "runs", "model_size"))
from scaling.results import SweepDir
sweep = SweepDir(SWEEP_DIR)
runs = sorted(sweep.results(), key=lambda r: r["n_params_nonembedding"])
print(f"{len(runs)} finished runs in {SWEEP_DIR}")
for r in runs:
    print(f"{r['name']:<14} N={r['n_params_nonembedding']:>11,}  D={r['tokens_seen']:>12,}  "
          f"C={r['compute_flops']:.2e}  val_loss={r['val_loss']:.4f}")
'''

CURVES = '''\
from scaling.laws import PF_DAY
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
cmap = matplotlib.colormaps["viridis"]
for i, r in enumerate(runs):
    color = cmap(i / max(len(runs) - 1, 1))
    rows = [m for m in sweep.member(r["name"]).evals() if m["tokens"] > 0]
    if not rows:
        continue
    tokens = np.array([m["tokens"] for m in rows], float)
    loss = np.array([m["val_loss"] for m in rows], float)
    label = f"N={r['n_params_nonembedding']:.1e}"
    axes[0].loglog(tokens, loss, "o-", color=color, label=label, ms=3)
    axes[1].loglog(6 * r["n_params_nonembedding"] * tokens / PF_DAY, loss, "o-", color=color, ms=3)
axes[0].set(xlabel="tokens processed", ylabel="validation loss (nats/token)", title="learning curves")
axes[1].set(xlabel="compute C = 6ND (PF-days)", title="loss against compute")
axes[0].legend(fontsize=7)
plt.tight_layout()
plt.show()
'''

FIT_N = '''\
from scaling.laws import fit_law
from scaling.laws.plots import law_figures
result = fit_law("N", SWEEP_DIR, bootstrap=100, seed=0)
lo, hi = result.ci95["alpha_N"]
print(f"alpha_N = {result.params['alpha_N']:.4f}  (95% CI {lo:.4f} .. {hi:.4f}; paper 0.076)")
print(f"N_c     = {result.params['N_c']:.3g}  (paper 8.8e13);  R^2 (log) = {result.r2:.3f}")
for name, png in law_figures(result).items():
    display(Image(png))
'''

FRONTIER = '''\
from scaling.laws import compute_frontier, load_curves, LawInputError
from scaling.laws.plots import frontier_figures
try:
    frontier = compute_frontier(load_curves(SWEEP_DIR, source="train", smooth=25))
except LawInputError as e:  # e.g. too few runs competing at any compute
    print(f"no compute frontier for this sweep: {e}")
else:
    print({k: round(v, 4) if isinstance(v, float) else v for k, v in frontier.params.items()})
    for name, png in frontier_figures(frontier).items():
        display(Image(png))
'''

POSITION = '''\
with_pos = [r for r in runs if r.get("per_position_loss")]
if with_pos:
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, r in enumerate(with_pos):
        pos = np.asarray(r["per_position_loss"], float)
        ax.semilogx(np.arange(1, len(pos) + 1), pos, color=cmap(i / max(len(with_pos) - 1, 1)),
                    label=f"N={r['n_params_nonembedding']:.1e}")
    ax.set(xlabel="token position T", ylabel="loss (nats/token)", title="per-position loss (Fig. 20)")
    ax.legend(fontsize=7)
    plt.show()
else:
    print("no per-position losses in these runs")
'''


def scaling_laws_notebook():
  return new_notebook(cells=[
      new_markdown_cell(
          "# Scaling laws from a sweep\n\n"
          "This notebook reads a sweep directory written by `scaling-sweep` (by default the "
          "demo's, `runs/model_size` from `make demo`; set `SCALING_SWEEP_DIR` for another) "
          "and draws the paper's figures from it: learning curves (Kaplan et al. Fig. 2), "
          "L(N) with its fitted exponent beside the paper's (Figs. 1 and 6), the compute "
          "frontier (Figs. 1, 13, 14) and the per-position loss (Fig. 20)."),
      new_markdown_cell("## The runs"),
      new_code_cell(SETUP),
      new_markdown_cell("## Learning curves\n\nValidation loss against tokens processed "
                        "and against compute C = 6·N·D."),
      new_code_cell(CURVES),
      new_markdown_cell("## L(N)\n\nFinal loss against non-embedding parameters, fitted with "
                        "L = (N_c/N)^α_N in log space (Huber loss), with a bootstrap interval. "
                        "The paper's law is dashed."),
      new_code_cell(FIT_N),
      new_markdown_cell("## Compute frontier\n\nThe lower envelope of all learning curves "
                        "against compute, and the compute-efficient model size."),
      new_code_cell(FRONTIER),
      new_markdown_cell("## Loss by position in the context"),
      new_code_cell(POSITION),
  ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                              "language": "python"}})


if __name__ == "__main__":
  path = os.path.join(HERE, "scaling_laws.ipynb")
  nbformat.write(scaling_laws_notebook(), path)
  print(f"wrote {path}")
