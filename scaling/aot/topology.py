"""Named TPU topologies, and their devices from libtpu without a TPU.

A name is a Cloud TPU accelerator type (v5e-16, v4-32, ...), optionally with
a slice count in front (2xv5e-16: two slices joined by the data-centre
network). As in Cloud TPU's naming, the number counts chips for v5e and v6e
and TensorCores (two per chip, one megacore device) for v4 and v5p.
`devices(name)` asks libtpu for the topology's compile-only devices, on a
machine with no TPU at all (MaxText's train_compile.py does the same).
"""

from __future__ import annotations

import dataclasses
import os
import re

from scaling.errors import UserError

# generation -> (HBM GiB per chip, chips per host, cores per chip in the name,
# the device_kind libtpu reports)
GENERATIONS = {
    "v4": (32, 4, 2, "TPU v4"),
    "v5e": (16, 8, 1, "TPU v5 lite"),
    "v5p": (95, 4, 2, "TPU v5"),
    "v6e": (32, 8, 1, "TPU v6 lite"),
}

# name -> the ICI topology (chips per dimension) and chips per host. v5e and
# v6e slices beyond one host have 4 chips per host.
TOPOLOGIES = {
    "v4-8": ("2x2x1", (2, 2, 1)),
    "v4-32": ("2x2x4", (2, 2, 1)),
    "v5e-8": ("2x4", (2, 4, 1)),
    "v5e-16": ("4x4", (2, 2, 1)),
    "v5e-64": ("8x8", (2, 2, 1)),
    "v5p-8": ("2x2x1", (2, 2, 1)),
    "v5p-128": ("4x4x4", (2, 2, 1)),
    "v6e-8": ("2x4", (2, 4, 1)),
}

INSTALL = "pip install 'jax[tpu]==JAX_VERSION' (libtpu; make setup installs it)"
_NAME = re.compile(r"^(?:(\d+)x)?(v\d+[a-z]?-\d+)$")


class TopologyError(UserError):
  """An unknown topology name, or libtpu missing (one line)."""


@dataclasses.dataclass(frozen=True)
class Topology:
  name: str           # as given, e.g. 2xv5e-16
  generation: str     # v5e
  chips: int          # over every slice
  hosts: int
  slices: int
  hbm_bytes: int      # per chip
  devices: tuple      # libtpu's compile-only devices, one per chip

  def describe(self) -> str:
    slices = f", {self.slices} slices" if self.slices > 1 else ""
    return (f"{self.name}: {self.chips} {self.generation} chips on {self.hosts} "
            f"host{'s' if self.hosts > 1 else ''}{slices}, "
            f"{self.hbm_bytes / 2**30:.0f} GiB HBM per chip")


def parse(name: str) -> tuple[str, int]:
  """'2xv5e-16' -> ('v5e-16', 2); TopologyError names the choices."""
  m = _NAME.match(name.strip().lower())
  if not m or m.group(2) not in TOPOLOGIES:
    raise TopologyError(f"topology {name!r} is unknown; use one of {', '.join(TOPOLOGIES)}, "
                        "or NxNAME for N slices (e.g. 2xv5e-16)")
  slices = int(m.group(1) or 1)
  if slices < 1:
    raise TopologyError(f"topology {name!r} has {slices} slices; use 1 or more")
  return m.group(2), slices


def libtpu_missing() -> str | None:
  """Why TPU compilation cannot run here (libtpu absent), or None."""
  from jax._src import cloud_tpu_init  # pylint: disable=g-import-not-at-top
  if cloud_tpu_init.get_tpu_library_path() is None:
    import jax  # pylint: disable=g-import-not-at-top
    return "libtpu is not installed; " + INSTALL.replace("JAX_VERSION", jax.__version__)
  return None


def devices(name: str) -> Topology:
  """The compile-only devices of topology `name` (see the module docstring)."""
  base, slices = parse(name)
  missing = libtpu_missing()
  if missing:
    raise TopologyError(missing)
  generation = base.split("-")[0]
  hbm_gib, _, _, kind = GENERATIONS[generation]
  ici, per_host = TOPOLOGIES[base]
  # Several processes may compile at once (tests, a table): no TPU to guard.
  os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")
  from jax.experimental import topologies  # pylint: disable=g-import-not-at-top
  from scaling.quiet import filtered_stderr  # pylint: disable=g-import-not-at-top
  extra = {"chip_config_name": "megacore"} if generation in ("v4", "v5p") else {}
  with filtered_stderr(_LIBTPU_NOISE):
    desc = topologies.get_topology_desc(
        platform="tpu", topology_name=f"{generation}:{ici}", chips_per_host_bounds=per_host,
        num_slices=slices, **extra)
  devs = tuple(desc.devices)
  assert devs and devs[0].device_kind == kind, (devs[:1], kind)
  return Topology(name=name, generation=generation, chips=len(devs),
                  hosts=len({d.process_index for d in devs}), slices=slices,
                  hbm_bytes=hbm_gib * 2**30, devices=devs)


# What libtpu prints when it starts off a TPU VM (no metadata server to ask).
_LIBTPU_NOISE = re.compile("|".join([
    r"TPU_ACCELERATOR_TYPE", r"TPU_WORKER_HOSTNAMES", r"Logging before InitGoogle",
    r"Source Location Trace", r"libtpu_init_utils", r"^\s*$",
    r"could not determine TPU", r"Failed to find host bounds"]))
