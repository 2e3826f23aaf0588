"""`--shard auto`: this worker's shard I/N from the environment its scheduler set.

  SLURM array job      SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT
  Kubernetes Indexed   JOB_COMPLETION_INDEX of SCALING_SHARD_COUNT (set it to the
  Job                  Job's `completions`; Kubernetes does not pass that on)
  TPU VM slice         TPU_WORKER_ID of the hosts in TPU_WORKER_HOSTNAMES (or of
                       SCALING_SHARD_COUNT)

SCALING_SHARD_COUNT, when set, is N for every one of them.
"""

from __future__ import annotations

import os

COUNT_ENV = "SCALING_SHARD_COUNT"


def _int(env, name: str) -> int | None:
  text = env.get(name, "").strip()
  if not text:
    return None
  try:
    return int(text)
  except ValueError:
    raise ValueError(f"--shard=auto: ${name}={text!r} is not a whole number") from None


def _tpu_hosts(env) -> int | None:
  hosts = [h for h in env.get("TPU_WORKER_HOSTNAMES", "").split(",") if h.strip()]
  return len(hosts) or None


def auto_shard(env=None) -> tuple[int, int]:
  """(I, N) for `--shard auto`; ValueError (one line) where nothing says."""
  env = os.environ if env is None else env
  count = _int(env, COUNT_ENV)
  if _int(env, "SLURM_ARRAY_TASK_ID") is not None:
    index = _int(env, "SLURM_ARRAY_TASK_ID") - (_int(env, "SLURM_ARRAY_TASK_MIN") or 0)
    count = count or _int(env, "SLURM_ARRAY_TASK_COUNT")
    where = "SLURM_ARRAY_TASK_ID"
  elif _int(env, "JOB_COMPLETION_INDEX") is not None:
    index, where = _int(env, "JOB_COMPLETION_INDEX"), "JOB_COMPLETION_INDEX"
  elif _int(env, "TPU_WORKER_ID") is not None:
    index, where = _int(env, "TPU_WORKER_ID"), "TPU_WORKER_ID"
    count = count or _tpu_hosts(env)
  else:
    raise ValueError("--shard=auto found none of SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, "
                     "TPU_WORKER_ID in the environment; give --shard I/N")
  if count is None:
    raise ValueError(f"--shard=auto: ${where} gives this worker's index but nothing gives the "
                     f"number of workers; set {COUNT_ENV}=N")
  if count < 1 or not 0 <= index < count:
    raise ValueError(f"--shard=auto: index {index} (from ${where}) is not in 0..{count - 1}; "
                     f"check {COUNT_ENV} / the array's size")
  return index, count
