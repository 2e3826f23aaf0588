"""`scaling-sweep --backend slurm`: each unfinished member as a SLURM job, via submitit.

A job runs the very command the local runner runs (runner.Runner.command), so
the member's lock, its exit 75 on preemption and its resume from checkpoint
are the same. Two layers bring a member back after it is cut short:

  - in the job, MemberJob.checkpoint (called by submitit on SLURM's pre-timeout
    or preemption signal, USR2) stops the trainer, which saves and exits 75,
    and submitit requeues the job;
  - here, a job that ends with exit 75 or dies (node lost, job killed) is
    submitted again, up to --max-requeues times; the new trainer waits for the
    old one's lock (--lock_wait) before it resumes, so no run directory ever
    has two writers.

Each submitted job's id is recorded in DIR/<member>/submitted.json (through
scaling.results). A sweep process that is itself killed (SIGKILL, a lost
login node) leaves its jobs running; the rerun finds each one still queued or
running from that record and waits for it (adopts it) instead of submitting
the member again.

`--slurm-cluster local` uses submitit's local executor (jobs are processes on
this machine): the path the tests take.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import threading
import time

from scaling.sweep import lifeline
from scaling.sweep.runner import EXIT_PREEMPTED, Runner
from scaling.results import RunDir
from scaling.results.io import write_json
from scaling.exitcodes import EXIT_BUSY  # a member's "workdir busy" (scaling.train.runlock)

JOB_JSON = "job.json"  # DIR/<member>/job.json: the member's current job, as the job sees it
POLL_S = 1.0


@dataclasses.dataclass
class SlurmOptions:
  partition: str | None = None
  account: str | None = None
  gpus_per_member: int = 0
  cpus_per_member: int = 1
  time_min: int = 240
  mem_gb: float | None = None
  cluster: str = "slurm"           # slurm | local (submitit's local executor)
  max_requeues: int = 5
  extra: dict = dataclasses.field(default_factory=dict)  # slurm_additional_parameters

  def executor_parameters(self, name: str) -> dict:
    params = {"name": name, "timeout_min": self.time_min, "gpus_per_node": self.gpus_per_member,
              "cpus_per_task": self.cpus_per_member, "tasks_per_node": 1, "nodes": 1}
    if self.mem_gb:
      params["mem_gb"] = self.mem_gb
    if self.cluster == "slurm":
      params.update(slurm_signal_delay_s=120, slurm_additional_parameters=dict(self.extra))
      if self.partition:
        params["slurm_partition"] = self.partition
      if self.account:
        params["slurm_account"] = self.account
    return params


class MemberJob:
  """The submitted function: runs a member's trainer command in the job."""

  def __init__(self, cmd: list[str], member_dir: str, attempt: int = 0,
               env: dict | None = None):
    self.cmd, self.member_dir, self.attempt = cmd, member_dir, attempt
    self.env = dict(env or {})
    self._proc = None

  def __getstate__(self):
    return {"cmd": self.cmd, "member_dir": self.member_dir, "attempt": self.attempt,
            "env": self.env}

  def __setstate__(self, state):
    self.__dict__.update(state, _proc=None)

  def __call__(self) -> int:
    import submitit  # pylint: disable=g-import-not-at-top
    try:
      job_id = submitit.JobEnvironment().job_id
    except RuntimeError:
      job_id = None
    write_json(os.path.join(self.member_dir, JOB_JSON),
               {"job_id": job_id, "attempt": self.attempt, "pid": os.getpid(),
                "host": socket.gethostname(), "started": time.time()})
    with open(os.path.join(self.member_dir, "train.log"), "a") as log:
      # The trainer gets SIGTERM (saves, exits 75) if this job process dies.
      self._proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT,
                                    env=dict(os.environ, **self.env,
                                             **{lifeline.ENV: str(os.getpid())}))
      return self._proc.wait()

  def checkpoint(self):
    """submitit's preemption/timeout hook: let the trainer save, then requeue."""
    import submitit  # pylint: disable=g-import-not-at-top
    if self._proc is not None and self._proc.poll() is None:
      self._proc.send_signal(signal.SIGTERM)
      try:
        self._proc.wait(timeout=90)
      except subprocess.TimeoutExpired:
        pass
    return submitit.helpers.DelayedSubmission(
        MemberJob(self.cmd, self.member_dir, self.attempt + 1, self.env))


class SubmititRunner(Runner):
  """A Runner whose members run as submitit jobs (one waiting thread each)."""

  def __init__(self, experiment, sweep_dir: str, options: SlurmOptions, *,
               retry_failed: bool = False, log=print):
    super().__init__(experiment, sweep_dir, jobs=max(len(experiment.members()), 1),
                     retry_failed=retry_failed, log=log)
    self.options = options
    self._jobs: dict[str, object] = {}
    self._executor = None
    self._executor_lock = threading.Lock()

  def executor(self):
    with self._executor_lock:
      if self._executor is None:
        import submitit  # pylint: disable=g-import-not-at-top
        self._executor = submitit.AutoExecutor(folder=self._job_folder,
                                               cluster=self.options.cluster)
      return self._executor

  @property
  def _job_folder(self) -> str:
    return os.path.join(self.sweep_dir, ".submitit", "%j")

  def _submit(self, member, cmd, member_dir, attempt):
    executor = self.executor()
    with self._executor_lock:  # parameters are per executor, jobs differ by name
      executor.update_parameters(**self.options.executor_parameters(
          f"{os.path.basename(self.sweep_dir)}/{member.name}"))
      job = executor.submit(MemberJob(cmd, member_dir, attempt, self.member_env()))
    if self.options.cluster == "local" and hasattr(job, "_results_timeout_s"):
      job._results_timeout_s = 2  # pylint: disable=protected-access  # no NFS lag to wait out
    RunDir(member_dir).write_submission(
        {"job_id": str(job.job_id), "cluster": self.options.cluster, "attempt": attempt,
         "submitted": time.time(), "by_pid": os.getpid(), "host": socket.gethostname()})
    with self._lock:
      self._jobs[member.name] = job
    self.log(f"{member.name}: submitted as job {job.job_id}"
             + (f" (attempt {attempt + 1})" if attempt else ""))
    return job

  def _wait(self, job) -> int | None:
    """The job's exit code; None if the job died without one."""
    while not job.done():
      time.sleep(POLL_S)
    try:
      return int(job.result())
    except Exception:  # pylint: disable=broad-except  # submitit's job-failure errors
      return None

  def _adopt(self, member, member_dir):
    """The job an earlier (killed) sweep submitted for `member` if it is still
    queued or running, else None."""
    record = RunDir(member_dir).submission()
    if not record or record.get("cluster") != self.options.cluster:
      return None
    job = earlier_job(self._job_folder, str(record["job_id"]), self.options.cluster)
    if job.done():
      return None
    with self._lock:
      self._jobs[member.name] = job
    self.log(f"{member.name}: job {record['job_id']} of an earlier sweep is still "
             "running; waiting for it instead of submitting again")
    return job

  def execute(self, member, cmd, member_dir) -> int:
    job = self._adopt(member, member_dir)
    for attempt in range(self.options.max_requeues + 1):
      if self.stopping.is_set():
        return EXIT_PREEMPTED
      code = self._wait(job or self._submit(member, cmd, member_dir, attempt))
      job = None
      if code == EXIT_BUSY:
        return busy(member, self.log)
      if code not in (None, EXIT_PREEMPTED) or self.stopping.is_set():
        return EXIT_PREEMPTED if code is None else code
      self.log(f"{member.name}: job " + ("died" if code is None else "was preempted")
               + "; resubmitting to resume from its checkpoint")
    return EXIT_PREEMPTED

  def stop(self, *_):
    """Cancels the submitted jobs; their trainers save and exit."""
    self.stopping.set()
    with self._lock:
      jobs = list(self._jobs.values())
    for job in jobs:
      try:
        job.cancel(check=False)
      except Exception:  # pylint: disable=broad-except  # a finished job, a gone scheduler
        pass


def busy(member, log) -> int:
  """A trainer from elsewhere (say, a job of an earlier, killed sweep) still
  holds the member's directory: not a failure; a later rerun resumes it."""
  log(f"{member.name}: another trainer still holds its directory (a job of an earlier "
      "sweep?); leaving it, rerun the sweep once that job ends")
  return EXIT_PREEMPTED


def earlier_job(folder: str, job_id: str, cluster: str):
  """A submitit handle for a job that another (killed) sweep process submitted."""
  import submitit  # pylint: disable=g-import-not-at-top
  if cluster == "slurm":
    return submitit.SlurmJob(folder=folder, job_id=job_id)  # done() asks sacct
  from submitit.local.local import LocalJob  # pylint: disable=g-import-not-at-top

  class EarlierLocalJob(LocalJob):
    """No Popen handle here: done() and cancel() go by the job id, which is
    the pid of submitit's local job controller."""
    _results_timeout_s = 2

    def done(self, force_check: bool = False) -> bool:
      del force_check
      return not _local_job_alive(int(self.job_id))

    def cancel(self, check: bool = True) -> None:
      del check
      with contextlib.suppress(OSError):
        os.kill(int(self.job_id), signal.SIGINT)

  return EarlierLocalJob(folder=folder, job_id=job_id)


def _local_job_alive(pid: int) -> bool:
  """Whether local job controller `pid` still runs (not a zombie, not a reused pid)."""
  try:
    with open(f"/proc/{pid}/stat") as f:
      state = f.read().rsplit(")", 1)[1].split()[0]
    with open(f"/proc/{pid}/cmdline", "rb") as f:
      return state != "Z" and b"submitit" in f.read()
  except FileNotFoundError:
    return False
  except OSError:  # no /proc: the pid alone
    try:
      os.kill(pid, 0)
    except OSError:
      return False
    return True
