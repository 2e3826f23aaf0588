"""The tuned frontier as a protocol: a grid per model, each model's best picked
on a tuning split that no finding reads.

An experiment declares, per variant, a Tuning: the config keys of its grid
(e.g. train.lr), the evaluation set that scores a grid point (an
`eval.datasets` entry, e.g. `tune=nltk:...:tune`, logged as val_loss/tune) and
the seed key. Its sweep() lists every (model, grid point, seed) as a member
(`grid_members`). After the runs, `select` groups the members by model (their
overrides less the grid and seed keys), scores each grid point by its final
tuning loss (or, with score="best", its lowest: the early-stopped loss, for
findings about early-stopped runs) averaged over seeds, and picks the lowest.
Findings are judged on the chosen members of the models whose whole grid has finished
(scaling.findings.tuned); the whole grid stays in the report, with a flag
where the optimum sits at the grid's edge.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from scaling.errors import UserError


class TuningError(UserError):
  """A sweep whose grid cannot be scored; the message is one line."""


SCORES = ("final", "best")


@dataclasses.dataclass(frozen=True)
class Tuning:
  grid: dict                 # config key -> the values tried, fixed before the runs
  metric: str = "tune"       # the eval.datasets name of the tuning split
  seed_key: str = "train.seed"
  score: str = "final"       # "final": the last evaluation; "best": the lowest (early stopping)

  def __post_init__(self):
    if self.score not in SCORES:
      raise TuningError(f"Tuning.score {self.score!r} is not one of {', '.join(SCORES)}")

  @property
  def keys(self) -> tuple[str, ...]:
    return tuple(self.grid)

  @property
  def loss_key(self) -> str:
    return f"val_loss/{self.metric}"

  def points(self) -> list[dict]:
    return [dict(zip(self.keys, values)) for values in itertools.product(*self.grid.values())]


def point_name(point: dict) -> str:
  """`lr0.004` for {"train.lr": 0.004}: a member-name suffix."""
  return "_".join(f"{k.rpartition('.')[2]}{v:g}" if isinstance(v, float) else
                  f"{k.rpartition('.')[2]}{v}" for k, v in point.items())


def grid_members(models: list[dict], tuning: Tuning, *, seeds: dict | None = None) -> list[dict]:
  """Every model (a sweep member: name, overrides) at every grid point;
  `seeds`: {model name: number of seeds} (default 1: seed 0 only)."""
  out = []
  for model in models:
    for point in tuning.points():
      for seed in range(int((seeds or {}).get(model["name"], 1))):
        name = f"{model['name']}_{point_name(point)}" + (f"_s{seed}" if seed else "")
        overrides = {**model["overrides"], **point}
        if seed:
          overrides[tuning.seed_key] = seed
        out.append({"name": name, "overrides": overrides})
  return out


@dataclasses.dataclass(frozen=True)
class GridPoint:
  point: dict               # the grid values
  members: tuple[str, ...]  # its members, seed 0 first
  losses: tuple[float, ...]  # their tuning losses (final or lowest: Tuning.score), same order

  @property
  def score(self) -> float:
    return sum(self.losses) / len(self.losses)


@dataclasses.dataclass(frozen=True)
class ModelChoice:
  model: dict               # the overrides every member of the model shares
  points: tuple[GridPoint, ...]
  best: int                 # index into points
  at_edge: tuple[str, ...]  # grid keys whose chosen value is the grid's first or last
  complete: bool = True     # every grid point has a finished member

  @property
  def chosen(self) -> GridPoint:
    return self.points[self.best]

  def to_dict(self) -> dict:
    return {"model": self.model, "chosen": self.chosen.point, "members": self.chosen.members,
            "at_edge": list(self.at_edge), "complete": self.complete,
            "grid": [{"point": p.point, "members": list(p.members),
                      "losses": list(p.losses)} for p in self.points]}


def _tuning_loss(evals: list[dict], key: str, score: str) -> float | None:
  """The member's final (score "final") or lowest ("best") finite `key`."""
  rows = [r for r in evals if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
  if not rows:
    return None
  if score == "best":
    return float(min(r[key] for r in rows))
  return float(max(rows, key=lambda r: r.get("step", 0))[key])


def select(rows: list[dict], tuning: Tuning) -> list[ModelChoice]:
  """Each model's best grid point. `rows`: finished members, each
  {"name", "overrides", "evals": [eval rows]}; a member without a tuning loss
  is left out of the score (TuningError if a model has none)."""
  skip = set(tuning.keys) | {tuning.seed_key}
  by_model: dict[str, dict] = {}
  for row in rows:
    overrides = row.get("overrides") or {}
    model = {k: v for k, v in sorted(overrides.items()) if k not in skip}
    point = tuple(overrides.get(k) for k in tuning.keys)
    if None in point:
      raise TuningError(f"member {row.get('name')} sets no {tuning.keys}; it is not "
                        "a grid member (sweep.tuning.grid_members)")
    seed = overrides.get(tuning.seed_key, 0)
    loss = _tuning_loss(row.get("evals") or [], tuning.loss_key, tuning.score)
    entry = by_model.setdefault(repr(model), {"model": model, "points": {}})
    if loss is not None:
      entry["points"].setdefault(point, []).append((seed, row["name"], loss))
  return [_choose(entry, tuning) for entry in by_model.values()]


def _choose(entry: dict, tuning: Tuning) -> ModelChoice:
  points = []
  for values, seeds in sorted(entry["points"].items()):
    seeds.sort()
    points.append(GridPoint(dict(zip(tuning.keys, values)), tuple(s[1] for s in seeds),
                            tuple(s[2] for s in seeds)))
  if not points:
    raise TuningError(f"model {entry['model']} has no member with a finite "
                      f"{tuning.loss_key}; add eval.datasets {tuning.metric}=... and rerun")
  best = min(range(len(points)), key=lambda i: points[i].score)
  edge = tuple(k for k in tuning.keys if len(tuning.grid[k]) > 1
               and points[best].point[k] in (min(tuning.grid[k]), max(tuning.grid[k])))
  return ModelChoice(entry["model"], tuple(points), best, edge,
                     complete=len(points) == len(tuning.points()))
