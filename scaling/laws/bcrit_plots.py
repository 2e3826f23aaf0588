"""Figures of a critical-batch fit: the S–E frontiers and B_crit against loss."""

from __future__ import annotations

import os

import numpy as np

from scaling import figures


def plot_frontiers(fit: dict, path: str) -> str:
  """Steps S against tokens E per target loss, with the fitted Eq. 5.1 hyperbola."""
  fig, ax = figures.subplots(figsize=(6.4, 4.8))
  colors = figures.colormap("viridis")(np.linspace(0, 0.9, len(fit["levels"])))
  for level, color in zip(fit["levels"], colors):
    e = [r["tokens"] for r in level["runs"]]
    s = [r["steps"] for r in level["runs"]]
    ax.scatter(e, s, color=color, zorder=3)
    b_lo, b_hi = min(r["batch_tokens"] for r in level["runs"]), max(
        r["batch_tokens"] for r in level["runs"])
    b = np.geomspace(b_lo / 8, b_hi * 8, 200)
    s_fit = level["s_min"] + level["e_min_tokens"] / b
    ax.plot(b * s_fit, s_fit, color=color,
            label=f"L={level['loss']:.3f}: B_crit={level['b_crit_tokens']:.3g} tok")
  ax.set(xscale="log", yscale="log", xlabel="tokens processed E", ylabel="optimizer steps S",
         title="(S/S_min - 1)(E/E_min - 1) = 1 per target loss")
  ax.legend(fontsize=7)
  return figures.save(fig, path)


def plot_bcrit(fit: dict, path: str) -> str:
  """B_crit(L) with its power law, and the runs' B_noise along their curves."""
  fig, ax = figures.subplots(figsize=(6.4, 4.8))
  for curve in fit["noise_curves"]:
    loss, noise = np.array(curve["loss"]), np.array(curve["b_noise_tokens"], dtype=float)
    keep = np.isfinite(noise) & (noise > 0)
    ax.plot(loss[keep], noise[keep], lw=0.8, alpha=0.5,
            label=f"B_noise, run B={curve['batch_size']}")
  levels = fit["levels"]
  losses = np.array([l["loss"] for l in levels])
  ax.scatter(losses, [l["b_crit_tokens"] for l in levels], color="k", zorder=4,
             label="B_crit from the scan")
  noise = [(l["loss"], l["b_noise_tokens"]) for l in levels if l["b_noise_tokens"]]
  if noise:
    ax.scatter(*zip(*noise), marker="s", facecolor="none", edgecolor="r", zorder=4,
               label="B_noise at the same loss (median over runs)")
  if fit["law"]:
    law = fit["law"]
    grid = np.geomspace(losses.min() * 0.97, losses.max() * 1.03, 50)
    ax.plot(grid, law["b_star_tokens"] / grid ** (1 / law["alpha_b"]), "k--",
            label=f"B*/L^(1/α_B): α_B={law['alpha_b']:.3f}")
  ax.set(xscale="log", yscale="log", xlabel="training loss (nats/token)",
         ylabel="batch size (tokens)", title="critical batch size and noise scale")
  ax.invert_xaxis()
  ax.legend(fontsize=7)
  return figures.save(fig, path)


def write_figures(fit: dict, out_dir: str) -> list[str]:
  os.makedirs(out_dir, exist_ok=True)
  return [plot_frontiers(fit, os.path.join(out_dir, "bcrit_frontier.png")),
          plot_bcrit(fit, os.path.join(out_dir, "bcrit_vs_loss.png"))]
