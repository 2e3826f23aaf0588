"""Multi-process (multi-host) start-up through JAX's own runtime.

On a TPU VM slice `jax.distributed.initialize()` finds its peers by itself.
Elsewhere (GPU hosts, or several processes on one CPU machine) give the
coordinator address, the process count and this process's id, as flags or as
SCALING_COORDINATOR / SCALING_NUM_PROCESSES / SCALING_PROCESS_ID; with
--multihost alone, JAX's cluster detection (TPU VMs, SLURM, ...) finds them.
"""

from __future__ import annotations

import os

import jax


def _env_int(name: str) -> int | None:
  value = os.environ.get(name)
  return int(value) if value not in (None, "") else None


def _on_tpu_pod() -> bool:
  # Set on every worker of a multi-host TPU slice (e.g. under GKE).
  hosts = os.environ.get("TPU_WORKER_HOSTNAMES", "")
  return "," in hosts


def maybe_initialize(coordinator: str | None = None, num_processes: int | None = None,
                     process_id: int | None = None, auto: bool = False) -> bool:
  """Starts jax.distributed when running multi-process; True if it did.

  `auto` (--multihost) lets JAX find the peers itself, as on a TPU VM slice.
  """
  coordinator = coordinator or os.environ.get("SCALING_COORDINATOR")
  num_processes = num_processes or _env_int("SCALING_NUM_PROCESSES")
  if process_id is None:
    process_id = _env_int("SCALING_PROCESS_ID")
  if num_processes and num_processes > 1:
    if not coordinator or process_id is None:
      raise ValueError("multi-process run: give --coordinator HOST:PORT and --process_id "
                       "(or SCALING_COORDINATOR and SCALING_PROCESS_ID) on every process")
    jax.distributed.initialize(coordinator_address=coordinator,
                               num_processes=num_processes, process_id=process_id)
    return True
  if auto or _on_tpu_pod():
    jax.distributed.initialize()
    return True
  return False
