"""The figures of the ladder's findings (scaling.findings.checks.ladder), drawn
off-screen (Agg) and written as PNG files: measured points, the fitted law as
a line, what was predicted marked apart from what the fit saw."""

from __future__ import annotations

import numpy as np

from scaling import figures

SIZE = (5.6, 4.2)


def holdout(path, law, params, n_m, loss_m, k: int, interval) -> None:
  """L(N): the fitted models, the held-out largest and its predicted interval."""
  fig, ax = figures.subplots(figsize=SIZE)
  grid = np.geomspace(n_m[0] / 1.5, n_m[-1] * 1.5, 200)
  ax.plot(grid, law.predict(params, {"N": grid}), "-", color="C0",
          label=f"fit: {law.formula}")
  ax.plot(n_m[:-k], loss_m[:-k], "o", color="C0", label="fitted models")
  ax.plot(n_m[-k:], loss_m[-k:], "s", color="C3", label="held out (observed)")
  pred = law.predict(params, {"N": n_m[-1:]})[0]
  ax.errorbar([n_m[-1]], [pred], yerr=[[pred - interval[0]], [interval[1] - pred]],
              fmt="x", color="k", capsize=4, label="predicted, 95% interval")
  ax.set(xscale="log", yscale="log", xlabel="N (non-embedding parameters)",
         ylabel="final validation loss (nats/byte)")
  ax.legend(fontsize=8)
  figures.save(fig, path)


def learning_curves(path, law, params, models, criteria, predicted_m) -> None:
  """L(N, S): each curve, the part the fit saw, the law and its prediction."""
  fig, ax = figures.subplots(figsize=SIZE)
  for i, m in enumerate(models):
    color = f"C{i % 10}"
    step = m.column("step")
    loss = m.column("val_loss")
    pos = step > 0
    ax.plot(step[pos], loss[pos], ".", color=color, alpha=0.4)
    seen = (step >= criteria["min_step"]) & (step <= criteria["fit_fraction"] * m.steps)
    ax.plot(step[seen], loss[seen], "o", color=color, ms=4)
    grid = np.geomspace(criteria["min_step"], m.steps, 100)
    ax.plot(grid, law.predict(params, {"N": np.full_like(grid, m.N), "S": grid}), "-",
            color=color, lw=1, label=f"N={m.N:.2g}")
    ax.plot([m.steps], [predicted_m[i]], "x", color="k")
  ax.axvline(criteria["fit_fraction"] * max(m.steps for m in models), color="grey", ls=":")
  ax.set(xscale="log", yscale="log", xlabel="step S",
         ylabel="validation loss (nats/byte)",
         title="o fitted, · not fitted, x predicted final loss")
  ax.legend(fontsize=7, ncol=2)
  figures.save(fig, path)


def transfer(path, train_m, other_m, slope, intercept, other: str) -> None:
  """Transfer: the other distribution's loss against the training one's."""
  fig, ax = figures.subplots(figsize=SIZE)
  grid = np.linspace(train_m.min(), train_m.max(), 50)
  ax.plot(train_m, other_m, "o", label="models (final evaluation)")
  ax.plot(grid, intercept + slope * grid, "-", label=f"least squares: slope {slope:.3f}")
  ax.plot(grid, grid + np.mean(other_m - train_m), "--", color="grey", label="slope 1")
  ax.set(xlabel="training-distribution loss (nats/byte)",
         ylabel=f"{other} loss (nats/byte)")
  ax.legend(fontsize=8)
  figures.save(fig, path)


def sample_efficiency(path, levels) -> None:
  """Tokens to reach each loss level against N."""
  fig, ax = figures.subplots(figsize=SIZE)
  for i, level in enumerate(levels):
    rho = level["spearman"]
    ax.plot(level["N"], level["tokens"], "o-", color=f"C{i}",
            label=f"loss {level['level']:.3f}"
            + ("" if rho is None else f" (ρ={rho:.2f})"))
  ax.set(xscale="log", yscale="log", xlabel="N (non-embedding parameters)",
         ylabel="tokens to reach the loss")
  ax.legend(fontsize=8)
  figures.save(fig, path)


def frontier(path, curves, envelope, points) -> None:
  """Every learning curve against C, the envelope and where each run leaves it."""
  fig, ax = figures.subplots(figsize=SIZE)
  for i, c in enumerate(sorted(curves, key=lambda c: c.N)):
    ax.plot(c.C, c.loss, "-", color=f"C{i % 10}", lw=1, label=f"N={c.N:.2g}")
  ax.plot(envelope.x, envelope.loss, "-", color="k", lw=2.5, alpha=0.35, label="envelope")
  ax.plot([p["C"] for p in points], [p["loss"] for p in points], "kx",
          label="overtaken by a larger model")
  ax.set(xscale="log", yscale="log", xlabel="C = 6·N·tokens (FLOP)",
         ylabel="validation loss (nats/byte)")
  ax.legend(fontsize=7, ncol=2)
  figures.save(fig, path)
