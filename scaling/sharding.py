"""Device mesh and the one table from logical axes to mesh axes.

Every parameter carries logical axes (`axes` metadata, see scaling.models);
LOGICAL_RULES says which mesh axis each one is split over. A dimension that a
mesh axis does not divide is replicated instead.
"""

from __future__ import annotations

import math

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

MESH_AXES = ("data", "model")

# logical axis -> mesh axis (None: replicated)
LOGICAL_RULES = {
    "batch": "data",
    "embed": None,
    "heads": "model",
    "mlp": "model",
    "vocab": "model",
}


class MeshError(ValueError):
  pass


def mesh_shape(mesh_cfg, n_devices: int) -> tuple[int, int]:
  """(data, model) sizes; data = -1 takes every device the others leave."""
  model = mesh_cfg.model
  if model < 1 or n_devices % model:
    raise MeshError(f"mesh.model={model} must be >= 1 and divide the {n_devices} devices")
  data = mesh_cfg.data if mesh_cfg.data != -1 else n_devices // model
  if data < 1 or data * model != n_devices:
    raise MeshError(
        f"mesh.data={mesh_cfg.data} x mesh.model={model} = {data * model} does not "
        f"match the {n_devices} devices; set mesh.data=-1 or a product of {n_devices}")
  return data, model


def make_mesh(mesh_cfg, devices=None) -> Mesh:
  devices = list(devices if devices is not None else jax.devices())
  shape = mesh_shape(mesh_cfg, len(devices))
  return Mesh(np.asarray(devices).reshape(shape), MESH_AXES)


def logical_spec(axes, shape, mesh: Mesh) -> P:
  """PartitionSpec for an array with `axes` logical names and `shape`."""
  spec = []
  for name, dim in zip(axes or (None,) * len(shape), shape):
    mesh_axis = LOGICAL_RULES.get(name) if name else None
    if mesh_axis and dim % mesh.shape[mesh_axis] == 0 and mesh.shape[mesh_axis] > 1:
      spec.append(mesh_axis)
    else:
      spec.append(None)
  return P(*spec)


def param_shardings(state: nnx.State, mesh: Mesh):
  """NamedShardings for the pure-dict form of an (abstract) nnx.State."""
  def one(variable):
    meta = variable.get_metadata()
    return NamedSharding(mesh, logical_spec(meta.get("axes"), variable.shape, mesh))
  return nnx.to_pure_dict(jax.tree.map(one, state, is_leaf=lambda x: isinstance(x, nnx.Variable)))


def batch_sharding(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P("data"))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def data_parallel_size(mesh: Mesh) -> int:
  return math.prod(mesh.shape[a] for a in ("data",))
