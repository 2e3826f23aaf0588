"""`scaling-sweep --backend ray [--address auto]`: each member as a Ray task.

The task runs the very command the local runner runs (runner.Runner.command),
so the member's lock, exit 75 and resume are unchanged. A member's resource
request comes from its size, so the cluster schedules big and small members
side by side:

  N >= --gpu-threshold (non-embedding parameters) on a cluster with GPUs: 1 GPU
  N >= --gpu-threshold on a cluster with TPUs: one host's TPU chips
  otherwise: 1 CPU, and the trainer runs with JAX_PLATFORMS=cpu so it leaves
  the accelerators to the members that asked for them

A worker that dies (node lost, process killed) has its task retried by Ray
(--max-requeues times); the new trainer waits for the old one's lock, then
resumes from the checkpoint. A member that exits 75 (preempted) is resubmitted.
Without --address a local Ray instance is started (and shut down) here.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time

from scaling.sweep import lifeline
from scaling.sweep.experiment import describe
from scaling.sweep.runner import EXIT_PREEMPTED, Runner
from scaling.sweep.slurm import EXIT_BUSY, JOB_JSON, busy
from scaling.results.io import write_json


def resources_for(n_params: int | None, cluster: dict, threshold: float,
                  tpu_chips_per_host: int = 0) -> dict:
  """Ray options for a member of `n_params` on a cluster with `cluster`'s
  resources (ray.cluster_resources()); see the module doc for the rule."""
  big = n_params is not None and n_params >= threshold
  if big and cluster.get("GPU", 0) >= 1:
    return {"num_cpus": 1, "num_gpus": 1}
  if big and cluster.get("TPU", 0) >= 1:
    return {"num_cpus": 1, "resources": {"TPU": tpu_chips_per_host or int(cluster["TPU"])}}
  return {"num_cpus": 1}


def run_member(cmd: list[str], member_dir: str, extra_env: dict | None = None) -> int:
  """The Ray task: runs the trainer; its exit code. Runs in a Ray worker."""
  import ray  # pylint: disable=g-import-not-at-top
  context = ray.get_runtime_context()
  write_json(os.path.join(member_dir, JOB_JSON),
             {"task_id": context.get_task_id(), "pid": os.getpid(),
              "host": socket.gethostname(), "started": time.time()})
  env = dict(os.environ, **(extra_env or {}), **{lifeline.ENV: str(os.getpid())})
  accelerators = context.get_accelerator_ids()
  if not any(accelerators.values()):
    env["JAX_PLATFORMS"] = "cpu"
  with open(os.path.join(member_dir, "train.log"), "a") as log:
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
      return proc.wait()
    except KeyboardInterrupt:  # ray.cancel: let the trainer save, then stop
      proc.send_signal(signal.SIGTERM)
      proc.wait()
      return EXIT_PREEMPTED


class RayRunner(Runner):
  """A Runner whose members are Ray tasks (one waiting thread each)."""

  def __init__(self, experiment, sweep_dir: str, *, address: str | None = None,
               max_retries: int = 5, gpu_threshold: float = 1e7,
               retry_failed: bool = False, num_cpus: int | None = None, log=print):
    super().__init__(experiment, sweep_dir, jobs=max(len(experiment.members()), 1),
                     retry_failed=retry_failed, log=log)
    self.address, self.max_retries = address, max_retries
    self.gpu_threshold, self.num_cpus = gpu_threshold, num_cpus
    self._started = False
    self._init_lock = threading.Lock()
    self._refs: dict[str, object] = {}
    self._remote = None

  def _ray(self):
    import ray  # pylint: disable=g-import-not-at-top
    with self._init_lock:
      if not ray.is_initialized():
        options = {"include_dashboard": False, "log_to_driver": False,
                   "logging_level": logging.ERROR, "configure_logging": True}
        if self.address:
          ray.init(address=self.address, **options)
        else:
          ray.init(num_cpus=self.num_cpus or os.cpu_count(), **options)
          self._started = True
      if self._remote is None:
        self._remote = ray.remote(run_member)
    return ray

  def _options(self, member) -> dict:
    ray = self._ray()
    cluster = ray.cluster_resources()
    n_params = None
    if cluster.get("GPU", 0) or cluster.get("TPU", 0):
      n_params = describe(self.experiment, member)["N"]
    chips = [n.get("Resources", {}).get("TPU", 0) for n in ray.nodes() if n.get("Alive")]
    return resources_for(n_params, cluster, self.gpu_threshold,
                         int(min((c for c in chips if c), default=0)))

  def execute(self, member, cmd, member_dir) -> int:
    ray = self._ray()
    options = self._options(member)
    for attempt in range(self.max_retries + 1):
      if self.stopping.is_set():
        return EXIT_PREEMPTED
      ref = self._remote.options(max_retries=self.max_retries, name=member.name,
                                 **options).remote(cmd, member_dir, self.member_env())
      with self._lock:
        self._refs[member.name] = ref
      self.log(f"{member.name}: started as a Ray task ({_describe(options)})"
               + (f", attempt {attempt + 1}" if attempt else ""))
      try:
        code = ray.get(ref)
      except Exception as e:  # pylint: disable=broad-except  # Ray's task errors
        self.log(f"{member.name}: Ray task lost ({type(e).__name__}); rerun to resume")
        return EXIT_PREEMPTED
      if code == EXIT_BUSY:
        return busy(member, self.log)
      if code != EXIT_PREEMPTED or self.stopping.is_set():
        return code
      self.log(f"{member.name}: preempted; resubmitting to resume from its checkpoint")
    return EXIT_PREEMPTED

  def stop(self, *_):
    """Cancels the members' tasks; their trainers save and exit."""
    self.stopping.set()
    import ray  # pylint: disable=g-import-not-at-top
    with self._lock:
      refs = list(self._refs.values())
    for ref in refs:
      try:
        ray.cancel(ref)
      except Exception:  # pylint: disable=broad-except  # a finished task
        pass

  def run(self, members):
    try:
      handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
      self._ray()  # from the main thread, then the sweep's own signal handlers back
      for signum, handler in handlers.items():
        signal.signal(signum, handler)
      return super().run(members)
    finally:
      if self._started:
        import ray  # pylint: disable=g-import-not-at-top
        ray.shutdown()


def _describe(options: dict) -> str:
  parts = [f"{options.get('num_cpus', 1)} CPU"]
  if options.get("num_gpus"):
    parts.append(f"{options['num_gpus']} GPU")
  for name, count in options.get("resources", {}).items():
    parts.append(f"{count} {name}")
  return ", ".join(parts)
