"""Where `scaling-sweep` runs its members: `--backend local|slurm|ray`.

  local   processes on this machine, --jobs at a time (runner.Runner; default)
  slurm   one SLURM job per member through submitit (slurm.py)
  ray     one Ray task per member on a Ray cluster (ray_backend.py)

Every backend runs the same member command, so locks, preemption (exit 75),
resume and DIR/results.jsonl behave the same; see docs/cluster.md.
"""

from __future__ import annotations

import argparse

from scaling.sweep import ray_backend
from scaling.sweep import runner as runlib
from scaling.sweep import slurm
from scaling.errors import UserError

BACKENDS = ("local", "slurm", "ray")


class BackendError(UserError):
  """A backend that cannot start (bad flag, missing package): one line."""


def add_flags(p: argparse.ArgumentParser) -> None:
  p.add_argument("--backend", choices=BACKENDS, default="local",
                 help="where members run (default local)")
  s = p.add_argument_group("slurm backend (submitit)")
  s.add_argument("--partition", default=None, help="SLURM partition")
  s.add_argument("--account", default=None, help="SLURM account")
  s.add_argument("--gpus-per-member", type=int, default=0, help="GPUs per member's job")
  s.add_argument("--cpus-per-member", type=int, default=1, help="CPUs per member's job")
  s.add_argument("--time-min", type=int, default=240, help="job time limit in minutes "
                 "(a member cut off resumes in its next job)")
  s.add_argument("--mem-gb", type=float, default=None, help="memory per member's job")
  s.add_argument("--slurm-arg", action="append", default=[], metavar="KEY=VALUE",
                 help="extra sbatch option, e.g. qos=high (repeatable)")
  s.add_argument("--slurm-cluster", choices=("slurm", "local"), default="slurm",
                 help="local: submitit's local executor, jobs as processes here (testing)")
  s.add_argument("--max-requeues", type=int, default=5,
                 help="resubmissions of a preempted or lost member (slurm, ray)")
  r = p.add_argument_group("ray backend")
  r.add_argument("--address", default=None,
                 help="Ray cluster to join (auto: the one this node belongs to); "
                      "default a local instance")
  r.add_argument("--ray-cpus", type=int, default=None,
                 help="CPUs of the local Ray instance (without --address; default all)")
  r.add_argument("--gpu-threshold", type=float, default=1e7,
                 help="members with at least this many non-embedding parameters ask for "
                      "a GPU when the cluster has GPUs")


def _slurm_extra(items: list[str]) -> dict:
  extra = {}
  for item in items:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
      raise BackendError(f"--slurm-arg={item!r} must look like KEY=VALUE, e.g. qos=high")
    extra[key.strip().lstrip("-").replace("-", "_")] = value.strip()
  return extra


def _need(module: str) -> None:
  import importlib.util  # pylint: disable=g-import-not-at-top
  if importlib.util.find_spec(module) is None:
    raise BackendError(f"--backend needs the {module} package; pip install 'scaling[cluster]'")


def make_runner(args, experiment):
  """The runner for args.backend; BackendError (one line) if it cannot be made."""
  if args.max_requeues < 0:
    raise BackendError(f"--max-requeues={args.max_requeues} must be >= 0")
  if args.backend == "local":
    return runlib.Runner(experiment, args.workdir, jobs=args.jobs,
                         retry_failed=args.retry_failed)
  if args.backend == "slurm":
    _need("submitit")
    if args.time_min < 1 or args.gpus_per_member < 0 or args.cpus_per_member < 1:
      raise BackendError("--time-min and --cpus-per-member must be >= 1, "
                         "--gpus-per-member >= 0")
    options = slurm.SlurmOptions(
        partition=args.partition, account=args.account, gpus_per_member=args.gpus_per_member,
        cpus_per_member=args.cpus_per_member, time_min=args.time_min, mem_gb=args.mem_gb,
        cluster=args.slurm_cluster, max_requeues=args.max_requeues,
        extra=_slurm_extra(args.slurm_arg))
    return slurm.SubmititRunner(experiment, args.workdir, options,
                                retry_failed=args.retry_failed)
  _need("ray")
  return ray_backend.RayRunner(experiment, args.workdir, address=args.address,
                               max_retries=args.max_requeues,
                               gpu_threshold=args.gpu_threshold, num_cpus=args.ray_cpus,
                               retry_failed=args.retry_failed)
