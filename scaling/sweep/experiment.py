"""Experiment files: one sweep (a paper figure) per Python file.

An experiment file `experiments/X.py` defines
  get_config(arg=None) -> ml_collections.ConfigDict   the base run config
  sweep(arg=None) -> list of {"name": str, "overrides": {"train.steps": 100, ...}}
  analyze(sweep_dir, arg=None) -> dict                 optional: fits and figures
and is addressed as `experiments/X.py[:ARG]`, as run configs are. `describe`
gives a member's N, D and C (the dry run's table, Ray's placement).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from types import ModuleType

import ml_collections

from scaling import config as configlib
from scaling import pyfile
from scaling.data.datasets import model_vocab_size
from scaling.errors import UserError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=-]*$")


class ExperimentError(UserError):
  pass


@dataclasses.dataclass(frozen=True)
class Member:
  name: str
  overrides: dict

  def flags(self) -> list[str]:
    """`--config.KEY=VALUE` flags for scaling-train."""
    return [f"--config.{k}={_flag_value(v)}" for k, v in self.overrides.items()]


def _flag_value(value) -> str:
  if isinstance(value, (list, tuple)):
    return ",".join(_flag_value(v) for v in value)
  return str(value)


@dataclasses.dataclass
class Experiment:
  path: str
  arg: str | None
  module: ModuleType

  @property
  def spec(self) -> str:
    return self.path + (f":{self.arg}" if self.arg else "")

  def base_config(self) -> ml_collections.ConfigDict:
    return self.module.get_config(self.arg)

  def members(self) -> list[Member]:
    raw = self.module.sweep(self.arg)
    members, seen = [], set()
    for i, entry in enumerate(raw):
      name, overrides = entry.get("name"), dict(entry.get("overrides", {}))
      if not isinstance(name, str) or not _NAME.match(name):
        raise ExperimentError(f"{self.path}: sweep member {i} has name {name!r}; use "
                              "letters, digits and _.=- only")
      if name in seen:
        raise ExperimentError(f"{self.path}: sweep member name {name!r} appears twice")
      seen.add(name)
      members.append(Member(name, overrides))
    if not members:
      raise ExperimentError(f"{self.path}:{self.arg or ''} defines no sweep members")
    return members

  def member_config(self, member: Member) -> ml_collections.ConfigDict:
    """The base config with the member's overrides applied (type-checked)."""
    config = self.base_config()
    for key, value in member.overrides.items():
      node = config
      *parents, leaf = key.split(".")
      try:
        for part in parents:
          node = node[part]
        if leaf not in node:
          raise KeyError(leaf)
        node[leaf] = value
      except (KeyError, AttributeError):
        raise ExperimentError(f"{self.path}: member {member.name!r} overrides unknown "
                              f"key {key!r}") from None
      except TypeError as e:
        raise ExperimentError(f"{self.path}: member {member.name!r} sets {key}={value!r}: "
                              f"{e}") from None
    config.name = member.name
    return config

  def analyze(self, sweep_dir: str):
    fn = getattr(self.module, "analyze", None)
    return fn(sweep_dir, self.arg) if fn else None


def load_experiment(spec: str) -> Experiment:
  path, _, arg = spec.partition(":")
  try:
    module = pyfile.load(path, "experiment")
  except FileNotFoundError as e:
    raise ExperimentError(str(e)) from None
  for fn in ("get_config", "sweep"):
    if not callable(getattr(module, fn, None)):
      raise ExperimentError(f"{path} defines no {fn}(arg); an experiment needs "
                            "get_config and sweep")
  return Experiment(path=path, arg=arg or None, module=module)


def describe(experiment, member) -> dict:
  """N (exact, from the abstract parameter tree), D, C = 6·N·D for a member."""
  import jax  # pylint: disable=g-import-not-at-top  (loading an experiment stays JAX-free)
  cfg = experiment.member_config(member)
  cfg = configlib.RunConfig.from_resolved(
      configlib.resolve(cfg, vocab_size=model_vocab_size(cfg), platform=jax.default_backend()),
      n_devices=jax.device_count())
  n, flops_per_token = _model_counts(cfg.model)
  tokens = cfg.train.steps * cfg.batch_tokens
  return {"name": member.name, "N": n, "D": tokens, "C": flops_per_token * tokens}


@functools.lru_cache(maxsize=256)
def _model_counts(model) -> tuple[int, float]:
  """(N, FLOPs per token) of a resolved model section (a FrozenConfigDict, so
  members of one shape, e.g. a learning-rate grid, build its tree once)."""
  from flax import nnx  # pylint: disable=g-import-not-at-top
  from scaling import accounting  # pylint: disable=g-import-not-at-top  (imports JAX)
  from scaling.models.family import family  # pylint: disable=g-import-not-at-top
  fam = family(model)
  abstract = nnx.eval_shape(lambda: fam.build(model, nnx.Rngs(params=0)))
  params = nnx.to_pure_dict(nnx.split(abstract)[1])
  n = accounting.count_params(params)["nonembedding"]
  return n, fam.flops(model, params)["flops_per_token"]  # the one count a run records too
