"""The one builder of a run's machinery: from a resolved config to the mesh,
the model's structure and shardings, the train state and the jitted steps.

scaling-train, scaling-eval and scaling-bench all assemble a run here:

  cfg = engine.prepare(config)        # resolve once, validate: a RunConfig
  eng = engine.build(cfg)             # mesh, Setup, jitted train and eval steps
  state = eng.init_state()            # or a Checkpointer's restore(step, eng.setup.abstract_state)
  state, metrics = eng.train_step(state, eng.device_batch(batch))
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import ml_collections
from jax.sharding import Mesh

from scaling import config as configlib
from scaling import sharding as shardlib
from scaling.data import datasets as datalib
from scaling.data.errors import DataError
from scaling.train import optim
from scaling.train import state as statelib
from scaling.train import step as steplib
from scaling.validation import ConfigError, validate

# Evaluation runs on whatever devices are present: every one of them on `data`.
EVAL_MESH = {"data": -1, "fsdp": 1, "model": 1}


def prepare(config, *, vocab_size: int | None = None, platform: str | None = None,
            n_devices: int | None = None) -> configlib.RunConfig:
  """Resolves (once) and validates a config; raises ConfigError. Writes nothing.

  `vocab_size` defaults to the data's (scaling.data.datasets.model_vocab_size),
  `platform` to JAX's default backend, `n_devices` (the mesh's size) to
  jax.device_count(): scaling-compile gives a TPU topology's."""
  if vocab_size is None:
    try:
      vocab_size = datalib.model_vocab_size(config)
    except DataError as e:
      raise ConfigError(str(e)) from None
  resolved = configlib.resolve(config, vocab_size=vocab_size,
                               platform=platform or jax.default_backend())
  n_devices = n_devices or jax.device_count()
  validate(resolved, n_devices)
  return configlib.RunConfig.from_resolved(resolved, n_devices=n_devices)


@dataclasses.dataclass
class Engine:
  """A run's built machinery (see build)."""

  cfg: configlib.RunConfig
  mesh: Mesh
  setup: statelib.Setup
  train_step: Callable | None   # (state, batch) -> (state, metrics), jitted
  eval_step: Callable           # (params, batch) -> sums, jitted

  def init_state(self):
    """The initial state, created on the devices in its shardings."""
    return statelib.init_state(self.cfg.model, self.setup, self.cfg.train.seed)

  def device_batch(self, batch: dict) -> dict:
    """This process's rows of a global batch, as arrays sharded over the batch."""
    return shardlib.device_batch(batch, self.mesh)


def build(cfg: configlib.RunConfig, *, mesh_cfg=None, train: bool = True,
          gns: bool | None = None, devices=None) -> Engine:
  """The mesh (cfg.mesh, or `mesh_cfg`), Setup and jitted steps of a run.

  train=False builds the eval step only; `gns` (default gns.enabled) says
  whether the state carries the noise-scale moving averages; `devices` (default
  jax.devices()) may be a TPU topology's, to compile ahead of time
  (scaling.aot)."""
  mesh = shardlib.make_mesh(mesh_cfg if mesh_cfg is not None else cfg.mesh, devices)
  gns = cfg.gns.enabled if gns is None else gns
  lr_schedule = optim.schedule(cfg.train)
  setup = statelib.make_setup(cfg.model, optim.optimizer(cfg.train, lr_schedule), mesh,
                              cfg.train.seed, gns=gns)
  train_step = None
  if train:
    train_step = steplib.jit_train_step(setup, steplib.make_train_step(
        setup, cfg.model, cfg.train, lr_schedule, cfg.gns))
  eval_step = steplib.jit_eval_step(setup, steplib.make_eval_step(setup, cfg.model))
  return Engine(cfg, mesh, setup, train_step, eval_step)


def for_evaluation(saved) -> configlib.RunConfig:
  """A saved run's config (RunDir.config()) made runnable on this machine: XLA
  attention off GPUs, every device on `data`."""
  r = ml_collections.ConfigDict(saved.to_dict(), type_safe=False)
  if r.model.attention == "cudnn" and jax.default_backend() != "gpu":
    r.model.attention = "xla"
  r.mesh.update(EVAL_MESH)
  return configlib.RunConfig.from_resolved(r, n_devices=jax.device_count())
