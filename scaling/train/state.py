"""The train state, initialised directly into its shardings.

State is a plain pytree, so orbax saves and restores it as it is:
  {"step": int32[], "params": pure dict of the model's nnx.State, "opt_state": optax state}
and, with gns.enabled, "gns": the noise-scale moving averages (scaling.gns.ema_init).
The model's structure (nnx.GraphDef) stays outside, and the step merges it
with the params (nnx.merge) inside jit.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import Mesh

from scaling import sharding as shardlib
from scaling.gns.estimator import ema_init
from scaling.models import build_model


@dataclasses.dataclass
class Setup:
  """Everything fixed for a run: model structure, optimizer, shardings."""

  graphdef: nnx.GraphDef
  optimizer: optax.GradientTransformation
  abstract_state: dict        # ShapeDtypeStructs
  state_shardings: dict       # NamedShardings, same tree
  mesh: Mesh


def _opt_state_shardings(optimizer, abstract_params, param_shardings, mesh):
  abstract_opt = jax.eval_shape(optimizer.init, abstract_params)
  rep = shardlib.replicated(mesh)

  def for_leaf(leaf, param, param_sharding):
    return param_sharding if leaf.shape == param.shape else rep

  return optax.tree_map_params(
      optimizer, for_leaf, abstract_opt, abstract_params, param_shardings,
      transform_non_params=lambda _: rep)


def make_setup(model_cfg, optimizer, mesh: Mesh, seed: int, *, gns: bool = False) -> Setup:
  abstract_model = nnx.eval_shape(lambda: build_model(model_cfg, seed))
  graphdef, abstract_nnx_state = nnx.split(abstract_model)
  abstract_params = nnx.to_pure_dict(abstract_nnx_state)
  param_shardings = shardlib.param_shardings(abstract_nnx_state, mesh)
  rep = shardlib.replicated(mesh)
  state_shardings = {
      "step": rep,
      "params": param_shardings,
      "opt_state": _opt_state_shardings(optimizer, abstract_params, param_shardings, mesh),
  }
  if gns:
    state_shardings["gns"] = jax.tree.map(lambda _: rep, ema_init())
  abstract_state = jax.eval_shape(lambda: _init(model_cfg, optimizer, seed, gns))
  abstract_state = jax.tree.map(
      lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
      abstract_state, state_shardings)
  return Setup(graphdef, optimizer, abstract_state, state_shardings, mesh)


def _init(model_cfg, optimizer, seed, gns=False):
  params = nnx.to_pure_dict(nnx.split(build_model(model_cfg, seed))[1])
  state = {"step": jnp.zeros((), jnp.int32), "params": params,
           "opt_state": optimizer.init(params)}
  if gns:
    state["gns"] = ema_init()
  return state


def init_state(model_cfg, setup: Setup, seed: int):
  """The initial state, created on the devices in its shardings."""
  gns = "gns" in setup.state_shardings
  init = jax.jit(lambda: _init(model_cfg, setup.optimizer, seed, gns),
                 out_shardings=setup.state_shardings)
  return init()
