"""Device mesh and the one table from logical axes to mesh axes.

Every parameter carries logical axes (`axes` metadata, see scaling.models);
LOGICAL_RULES says which mesh axis each one is split over. A dimension that a
mesh axis does not divide is replicated instead.
"""

from __future__ import annotations

import contextlib
import contextvars
import math

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from scaling.errors import UserError

MESH_AXES = ("data", "fsdp", "model")

# logical axis -> mesh axis or axes (None: replicated). Parameters are sharded
# over `fsdp` along their embedding dimension (fully sharded data parallel) and
# over `model` along heads, MLP and vocabulary (tensor parallel); activations
# are split over the batch on both data axes.
LOGICAL_RULES = {
    "batch": ("data", "fsdp"),
    "embed": "fsdp",
    "heads": "model",
    "mlp": "model",
    "vocab": "model",
    "act_embed": None,
    "act_length": None,
}


class MeshError(UserError):
  pass


def mesh_shape(mesh_cfg, n_devices: int) -> tuple[int, int, int]:
  """(data, fsdp, model) sizes; data = -1 takes every device the others leave."""
  fsdp, model = mesh_cfg.fsdp, mesh_cfg.model
  if model < 1 or fsdp < 1 or n_devices % (model * fsdp):
    raise MeshError(f"mesh.fsdp={fsdp} x mesh.model={model} must divide the "
                    f"{n_devices} devices")
  data = mesh_cfg.data if mesh_cfg.data != -1 else n_devices // (model * fsdp)
  if data < 1 or data * fsdp * model != n_devices:
    raise MeshError(
        f"mesh.data={mesh_cfg.data} x mesh.fsdp={fsdp} x mesh.model={model} = "
        f"{data * fsdp * model} does not match the {n_devices} devices; set "
        f"mesh.data=-1 or make the product {n_devices}")
  return data, fsdp, model


def make_mesh(mesh_cfg, devices=None) -> Mesh:
  """The (data, fsdp, model) mesh over `devices` (default: all of JAX's).

  Several TPU slices (devices with distinct `slice_index`) talk over the
  data-centre network, so only `data` may span them: mesh.data must be a
  multiple of the slice count, and each slice holds whole fsdp x model groups."""
  devices = list(devices if devices is not None else jax.devices())
  shape = mesh_shape(mesh_cfg, len(devices))
  slices = len({getattr(d, "slice_index", 0) for d in devices})
  if slices > 1:
    return Mesh(_multislice_devices(devices, shape, slices), MESH_AXES)
  return Mesh(np.asarray(devices).reshape(shape), MESH_AXES)


def _multislice_devices(devices, shape, slices: int) -> np.ndarray:
  data, fsdp, model = shape
  if data % slices:
    raise MeshError(f"mesh.data={data} must be a multiple of the {slices} slices: only data "
                    f"parallelism spans slices; set mesh.fsdp x mesh.model to divide "
                    f"{len(devices) // slices} (the chips of one slice)")
  from jax.experimental import mesh_utils  # pylint: disable=g-import-not-at-top
  per_slice = (data // slices, fsdp, model)
  try:
    return mesh_utils.create_hybrid_device_mesh(per_slice, (slices, 1, 1), devices)
  except NotImplementedError:
    # an axis that is no product of whole torus axes (data 8 x fsdp 2 on a 4x4
    # slice): split a physical axis rather than refuse a mesh that divides the chips
    try:
      return mesh_utils.create_hybrid_device_mesh(per_slice, (slices, 1, 1), devices,
                                                  allow_split_physical_axes=True)
    except NotImplementedError as e:
      raise MeshError(f"mesh {per_slice} per slice cannot be laid on the slice's torus: "
                      f"{str(e).splitlines()[0]}") from None


def logical_spec(axes, shape, mesh: Mesh) -> P:
  """PartitionSpec for an array with `axes` logical names and `shape`."""
  spec = []
  for name, dim in zip(axes or (None,) * len(shape), shape):
    rule = LOGICAL_RULES.get(name) if name else None
    names = tuple(a for a in ((rule,) if isinstance(rule, str) else rule or ())
                  if mesh.shape[a] > 1)
    size = math.prod(mesh.shape[a] for a in names)
    if names and dim % size == 0:
      spec.append(names[0] if len(names) == 1 else names)
    else:
      spec.append(None)
  return P(*spec)


_ACTIVATION_MESH: contextvars.ContextVar[Mesh | None] = contextvars.ContextVar(
    "activation_mesh", default=None)


@contextlib.contextmanager
def activation_mesh(mesh: Mesh):
  """Within this context (while tracing), `constrain` pins activations."""
  token = _ACTIVATION_MESH.set(mesh)
  try:
    yield
  finally:
    _ACTIVATION_MESH.reset(token)


def constrain(x, axes):
  """Pins activation `x` to the sharding of its logical `axes` on the mesh of
  the enclosing `activation_mesh`; a no-op outside one (e.g. eager tests)."""
  mesh = _ACTIVATION_MESH.get()
  if mesh is None:
    return x
  return jax.lax.with_sharding_constraint(
      x, NamedSharding(mesh, logical_spec(axes, x.shape, mesh)))


def param_shardings(state: nnx.State, mesh: Mesh):
  """NamedShardings for the pure-dict form of an (abstract) nnx.State."""
  def one(variable):
    axes = tuple(variable.get_metadata().get("axes") or ())
    if axes and len(axes) == len(variable.shape) - 1:  # stacked layers (scan_layers)
      axes = (None, *axes)
    return NamedSharding(mesh, logical_spec(axes or None, variable.shape, mesh))
  return nnx.to_pure_dict(jax.tree.map(one, state, is_leaf=lambda x: isinstance(x, nnx.Variable)))


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Sequences split over every data-parallel axis (data and fsdp)."""
  return NamedSharding(mesh, P(("data", "fsdp")))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def device_batch(batch: dict, mesh: Mesh) -> dict:
  """This process's rows of a global batch, as arrays sharded over the batch."""
  sharding = batch_sharding(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in batch.items()}
