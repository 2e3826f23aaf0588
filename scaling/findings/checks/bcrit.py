"""The `B_crit` finding (Kaplan et al. Figs. 10, 18; Eq. 5.3): a power law in loss, near B_noise.

B_crit and B_noise at each loss level come from scaling.laws.bcrit as
`scaling-fit bcrit DIR` computes them (its default levels and smoothing), on
the sweep's finished members. Over the levels, log B_crit = a + b·log L is
fitted by least squares: a power law when there are ≥ min_levels levels, its
R² ≥ min_r2 and b < 0 (B_crit grows as L falls; alpha_B = −1/b > 0). B_noise
predicts B_crit when at every level 1/max_noise_ratio ≤ B_noise/B_crit ≤
max_noise_ratio.
"""

from __future__ import annotations

import os

import numpy as np

from scaling.findings import spec
from scaling import figures
from scaling.findings.checks import FindingInputError
from scaling.laws import bcrit as critical_batch

# scaling-fit bcrit's defaults (scaling/cli/bcrit.py): five levels, the default smoothing
N_LEVELS = 5



def measure(run_dirs) -> dict:
  """scaling-fit bcrit's fit of the runs; FindingInputError where it cannot be made."""
  try:
    return critical_batch.fit_bcrit_from_runs(run_dirs, None, n_levels=N_LEVELS,
                                              smooth_width=critical_batch.SMOOTH_WIDTH)
  except critical_batch.BcritError as e:
    raise FindingInputError(" ".join(str(e).split())) from None


def power_law(losses, b_crit) -> dict:
  """OLS of log B_crit on log L: slope b, intercept a, R², alpha_B = −1/b, B* = e^a."""
  log_l, log_b = np.log(losses), np.log(b_crit)
  slope, intercept = np.polyfit(log_l, log_b, 1)
  pred = intercept + slope * log_l
  total = float(np.sum((log_b - log_b.mean()) ** 2))
  r2 = 1 - float(np.sum((log_b - pred) ** 2)) / total if total > 0 else float("nan")
  return {"slope": float(slope), "intercept": float(intercept), "r2": r2,
          "alpha_b": float(-1 / slope) if slope else float("inf"),
          "b_star_tokens": float(np.exp(intercept))}


def bcrit(finding: spec.Finding, sweep, out_dir: str) -> spec.Verdict:
  c = finding.criteria
  names = [row["name"] for row in sweep.results()]
  if not names:
    raise FindingInputError(f"{sweep.path}: no finished members in results.jsonl")
  fit = measure([sweep.member(name).path for name in names])
  levels = fit["levels"]
  if len(levels) < c["min_levels"]:
    raise FindingInputError(f"{sweep.path}: {len(levels)} loss level(s), the finding "
                            f"needs >= {c['min_levels']}")
  no_noise = [f"{l['loss']:.4f}" for l in levels if not l["b_noise_tokens"]]
  if no_noise:
    raise FindingInputError(f"{sweep.path}: no B_noise at loss level(s) {', '.join(no_noise)}; "
                            "run the scan with gns.enabled")
  table = [{"loss": l["loss"], "b_crit_tokens": l["b_crit_tokens"],
            "b_noise_tokens": l["b_noise_tokens"],
            "noise_ratio": l["b_noise_tokens"] / l["b_crit_tokens"],
            "b_crit_in_scanned_range": l["b_crit_in_scanned_range"]} for l in levels]
  law = power_law([t["loss"] for t in table], [t["b_crit_tokens"] for t in table])
  ratios = [t["noise_ratio"] for t in table]
  power_ok = law["r2"] >= c["min_r2"] and law["slope"] < 0
  noise_ok = all(1 / c["max_noise_ratio"] <= q <= c["max_noise_ratio"] for q in ratios)
  measured = {"levels": table, "alpha_b": law["alpha_b"], "b_star_tokens": law["b_star_tokens"],
              "r2": law["r2"], "slope": law["slope"], "n_levels": len(table),
              "paper": {"alpha_b": critical_batch.PAPER["alpha_b"],
                        "b_star_tokens": critical_batch.PAPER["b_star_tokens"]}}
  figure = _plot(table, law, c["max_noise_ratio"], os.path.join(out_dir, finding.key + ".png"))
  summary = (f"{len(table)} levels (>= {c['min_levels']}): B_crit ∝ L^{law['slope']:.2f} "
             f"(alpha_B = {law['alpha_b']:.3f}, > 0), R² {law['r2']:.3f} (>= {c['min_r2']:g}); "
             f"B_noise/B_crit {min(ratios):.2f}-{max(ratios):.2f} (within "
             f"{1 / c['max_noise_ratio']:g}-{c['max_noise_ratio']:g})")
  notes = [f"B_crit at L={t['loss']:.4f} lies outside the scanned batch sizes"
           for t in table if not t["b_crit_in_scanned_range"]]
  notes.append(f"paper (BPE tokens): alpha_B = {critical_batch.PAPER['alpha_b']}, "
               f"B* = {critical_batch.PAPER['b_star_tokens']:g} tokens; not judged")
  return spec.Verdict(status=spec.REPRODUCED if power_ok and noise_ok else spec.NOT_REPRODUCED,
                      measured=measured, summary=summary, figure=figure, notes=notes)


def _plot(table, law, max_ratio, path) -> str:
  fig, ax = figures.subplots()
  loss = np.array([t["loss"] for t in table])
  ax.plot(loss, [t["b_crit_tokens"] for t in table], "o", color="C0", label="B_crit (Eq. 5.1)")
  ax.plot(loss, [t["b_noise_tokens"] for t in table], "s", color="C3",
          label="B_noise at the crossing")
  grid = np.geomspace(loss.min() * 0.98, loss.max() * 1.02, 100)
  line = np.exp(law["intercept"] + law["slope"] * np.log(grid))
  ax.plot(grid, line, "C0-", lw=1.2,
          label=f"fit: B* / L^(1/{law['alpha_b']:.3f}), R² {law['r2']:.3f}")
  b_crit = np.array([t["b_crit_tokens"] for t in table])
  ax.vlines(loss, b_crit / max_ratio, b_crit * max_ratio, color="C0", alpha=0.25, lw=8,
            label=f"within {max_ratio:g}x of B_crit (where B_noise must lie)")
  ax.set(xscale="log", yscale="log", xlabel="training loss L (nats/token)",
         ylabel="batch size (tokens)", title="Critical batch size against loss")
  ax.legend(fontsize=7)
  return figures.save(fig, path)
