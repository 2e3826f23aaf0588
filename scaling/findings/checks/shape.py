"""The `shape` finding (Kaplan et al. Fig. 5): at fixed N the aspect ratio matters little.

The sweep (experiments/shape.py) trains several shapes at each of a few sizes;
a member's name starts with its size group ("N1e5_L2_d64_h4" is in "N1e5").
In each group the judged members are those with n_layer ≥ min_n_layer; their
aspect ratios d_model/n_layer must span at least min_aspect_range, and their
spread, max/min val_loss − 1, must be ≤ max_spread in every group. Members
below min_n_layer are reported (their loss increase over the group's best
judged member), not judged.
"""

from __future__ import annotations

import os

from scaling.findings import spec
from scaling import figures
from scaling.findings.checks import FindingInputError



def _members(sweep) -> dict[str, list[dict]]:
  """size group -> [{"name", "n_layer", "d_model", "aspect", "val_loss"}] of finished members."""
  groups = {}
  for row in sweep.results():
    name = row["name"]
    missing = [k for k in ("n_layer", "d_model", "val_loss") if row.get(k) is None]
    if missing:
      raise FindingInputError(f"{sweep.path}: member {name} has no {', '.join(missing)} "
                              "in its summary")
    groups.setdefault(name.split("_", 1)[0], []).append({
        "name": name, "n_layer": int(row["n_layer"]), "d_model": int(row["d_model"]),
        "aspect": row["d_model"] / row["n_layer"], "val_loss": float(row["val_loss"])})
  if not groups:
    raise FindingInputError(f"{sweep.path}: no finished members in results.jsonl")
  return groups


def measure_group(members: list[dict], criteria: dict) -> dict:
  """The spread and aspect range of one size group's judged members."""
  judged = [m for m in members if m["n_layer"] >= criteria["min_n_layer"]]
  excluded = [m for m in members if m["n_layer"] < criteria["min_n_layer"]]
  aspects = [m["aspect"] for m in judged]
  aspect_range = max(aspects) / min(aspects) if aspects else 0.0
  best = min(judged, key=lambda m: m["val_loss"]) if judged else None
  losses = [m["val_loss"] for m in judged]
  return {
      "spread": max(losses) / min(losses) - 1 if losses else None,
      "aspect_range": aspect_range,
      "aspect_min": min(aspects) if aspects else None,
      "aspect_max": max(aspects) if aspects else None,
      "best": best["name"] if best else None,
      "best_val_loss": best["val_loss"] if best else None,
      "judged": {m["name"]: m["val_loss"] for m in judged},
      "excluded_increase": ({m["name"]: m["val_loss"] / best["val_loss"] - 1
                             for m in excluded} if best else {}),
  }


def shape_spread(finding: spec.Finding, sweep, out_dir: str) -> spec.Verdict:
  criteria = finding.criteria
  members = _members(sweep)
  groups = {g: measure_group(ms, criteria) for g, ms in sorted(members.items())}
  for g, m in groups.items():
    if m["aspect_range"] < criteria["min_aspect_range"]:
      raise FindingInputError(
          f"{sweep.path}: size group {g} has {len(m['judged'])} finished member(s) with "
          f"n_layer >= {criteria['min_n_layer']}, aspect ratios spanning "
          f"{m['aspect_range']:.3g}x < {criteria['min_aspect_range']:g}x")
  ok = all(m["spread"] <= criteria["max_spread"] for m in groups.values())
  figure = _plot(members, groups, criteria, os.path.join(out_dir, finding.key + ".png"))
  summary = "; ".join(
      f"{g}: spread {100 * m['spread']:.2f}% over aspect {m['aspect_min']:.3g}-"
      f"{m['aspect_max']:.3g} ({m['aspect_range']:.1f}x)" for g, m in groups.items())
  summary += (f" (criterion: every spread <= {100 * criteria['max_spread']:g}% over >= "
              f"{criteria['min_aspect_range']:g}x, n_layer >= {criteria['min_n_layer']})")
  notes = [f"{g}: {name} (n_layer < {criteria['min_n_layer']}, not judged) is "
           f"{100 * inc:+.2f}% over the group's best judged member {m['best']}"
           for g, m in groups.items() for name, inc in m["excluded_increase"].items()]
  return spec.Verdict(status=spec.REPRODUCED if ok else spec.NOT_REPRODUCED,
                      measured={"groups": groups}, summary=summary, figure=figure,
                      notes=notes)


def _plot(members: dict, groups: dict, criteria: dict, path: str) -> str:
  fig, ax = figures.subplots()
  for i, (g, m) in enumerate(groups.items()):
    color = f"C{i}"
    best = m["best_val_loss"]
    rows = sorted(members[g], key=lambda r: r["aspect"])
    judged = [r for r in rows if r["n_layer"] >= criteria["min_n_layer"]]
    excluded = [r for r in rows if r["n_layer"] < criteria["min_n_layer"]]
    ax.plot([r["aspect"] for r in judged],
            [100 * (r["val_loss"] / best - 1) for r in judged], "o-", color=color,
            label=f"{g}: spread {100 * m['spread']:.2f}%")
    if excluded:
      ax.plot([r["aspect"] for r in excluded],
              [100 * (r["val_loss"] / best - 1) for r in excluded], "x", color=color, ms=9,
              label=f"{g}: n_layer < {criteria['min_n_layer']} (not judged)")
  ax.axhline(100 * criteria["max_spread"], color="k", ls="--", lw=1,
             label=f"max spread {100 * criteria['max_spread']:g}%")
  ax.axhline(0, color="0.6", lw=0.8)
  ax.set_xscale("log")
  ax.set_xlabel("aspect ratio d_model / n_layer")
  ax.set_ylabel("loss increase over the group's best (%)")
  ax.set_title("Shape at fixed N")
  ax.legend(fontsize=7)
  return figures.save(fig, path)

