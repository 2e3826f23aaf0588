"""Runs an experiment's members, each in its own process and workdir.

DIR/<member>/            the member's run (resumable: same command resumes it)
DIR/<member>/train.log   its output
DIR/<member>/failed.json why it failed (removed when it later succeeds)
DIR/results.jsonl        one line per finished member: its summary + overrides,
                         rewritten atomically from the members' summary.json
                         files, so a kill never leaves a half line and every
                         member appears exactly once.

A member never outlives the runner (lifeline.py: killed even by SIGKILL, the
runner takes its members down, and they save and exit), and each trainer holds
DIR/<member>/train.lock while it runs, so a rerun waits for a leftover member
(up to LOCK_WAIT_S) instead of writing beside it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time

from scaling.exitcodes import EXIT_PREEMPTED
from scaling.results import RunDir, SweepDir
from scaling.results.run import FAILED
from scaling.sweep import lifeline
from scaling.sweep.experiment import Experiment, Member
from scaling.sweep.shards import auto_shard
# A rerun right after the runner was killed finds the old member still saving
# (it got SIGTERM when the runner died, see lifeline.py): wait this long for it.
LOCK_WAIT_S = 300


@dataclasses.dataclass
class Outcome:
  name: str
  status: str          # completed | failed | skipped | preempted
  seconds: float = 0.0
  detail: str = ""


def parse_shard(text: str | None) -> tuple[int, int]:
  if not text:
    return 0, 1
  if text == "auto":  # from the array job / indexed job / TPU worker's environment
    return auto_shard()
  try:
    index, count = (int(x) for x in text.split("/"))
  except ValueError:
    raise ValueError(f"--shard={text!r} must look like I/N, e.g. 0/4") from None
  if count < 1 or not 0 <= index < count:
    raise ValueError(f"--shard={text!r} needs 0 <= I < N")
  return index, count


def shard_members(members: list[Member], index: int, count: int) -> list[Member]:
  """Member i goes to shard i mod N: deterministic, balanced, order-stable."""
  return [m for i, m in enumerate(members) if i % count == index]


def is_finished(member_dir: str) -> bool:
  return RunDir(member_dir).is_finished()


def collect_results(sweep_dir: str, members: list[Member]) -> list[dict]:
  """Rewrites DIR/results.jsonl from every finished member (atomic)."""
  return SweepDir(sweep_dir).collect([(m.name, m.overrides) for m in members])


class Runner:
  def __init__(self, experiment: Experiment, sweep_dir: str, *, jobs: int = 1,
               retry_failed: bool = False, log=print):
    self.experiment = experiment
    self.sweep_dir = os.path.abspath(sweep_dir)
    self.jobs = jobs
    self.retry_failed = retry_failed
    self.log = log
    self.stopping = threading.Event()
    self._procs: set[subprocess.Popen] = set()
    self._lock = threading.Lock()

  def command(self, member: Member) -> list[str]:
    return [sys.executable, "-m", "scaling.cli.train", "--config", self.experiment.spec,
            "--workdir", os.path.join(self.sweep_dir, member.name), "--progress=false",
            f"--lock_wait={LOCK_WAIT_S}", *member.flags()]

  def run_member(self, member: Member) -> Outcome:
    member_dir = os.path.join(self.sweep_dir, member.name)
    failed_path = RunDir(member_dir).file(FAILED)
    if is_finished(member_dir):
      return Outcome(member.name, "skipped", detail="finished earlier")
    if os.path.exists(failed_path) and not self.retry_failed:
      return Outcome(member.name, "failed", detail="failed earlier (use --retry-failed)")
    if self.stopping.is_set():
      return Outcome(member.name, "preempted", detail="not started")
    os.makedirs(member_dir, exist_ok=True)
    cmd = self.command(member)
    RunDir(member_dir).write_command(cmd)
    start = time.time()
    code = self.execute(member, cmd, member_dir)
    seconds = time.time() - start
    if code == 0 and is_finished(member_dir):
      if os.path.exists(failed_path):
        os.unlink(failed_path)
      collect_results(self.sweep_dir, self.experiment.members())
      return Outcome(member.name, "completed", seconds)
    if code == EXIT_PREEMPTED or self.stopping.is_set():
      return Outcome(member.name, "preempted", seconds, "checkpoint saved; rerun to resume")
    tail = _tail(os.path.join(member_dir, "train.log"))
    RunDir(member_dir).write_failed({"returncode": code, "seconds": seconds, "log_tail": tail})
    return Outcome(member.name, "failed", seconds, tail.strip().splitlines()[-1] if tail.strip() else f"exit {code}")

  def member_env(self) -> dict[str, str]:
    """Environment a member gets on any backend: its sweep's name, under which
    experiment tracking groups it (scaling/tracking.py)."""
    return {"SCALING_SWEEP_NAME": os.path.basename(self.sweep_dir)}

  def execute(self, member: Member, cmd: list[str], member_dir: str) -> int:
    """Runs a member's trainer command to its end; its exit code. Backends
    (backends.py) run the same command elsewhere."""
    del member
    with open(os.path.join(member_dir, "train.log"), "a") as log:
      proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True,
                              env=dict(os.environ, **self.member_env(),
                                       **{lifeline.ENV: str(os.getpid())}))
      with self._lock:
        self._procs.add(proc)
      code = proc.wait()
      with self._lock:
        self._procs.discard(proc)
    return code

  def stop(self, *_):
    """Forwards a SIGTERM to running members, which save and exit."""
    self.stopping.set()
    with self._lock:
      for proc in self._procs:
        with contextlib.suppress(ProcessLookupError):
          proc.send_signal(signal.SIGTERM)

  def run(self, members: list[Member]) -> list[Outcome]:
    os.makedirs(self.sweep_dir, exist_ok=True)
    outcomes = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(self.jobs, 1)) as pool:
      futures = {pool.submit(self.run_member, m): m for m in members}
      for future in concurrent.futures.as_completed(futures):
        outcome = future.result()
        outcomes.append(outcome)
        self.log(f"[{len(outcomes)}/{len(members)}] {outcome.name}: {outcome.status}"
                 + (f" in {outcome.seconds:.0f}s" if outcome.seconds else "")
                 + (f" ({outcome.detail})" if outcome.detail else ""))
    collect_results(self.sweep_dir, self.experiment.members())
    order = {m.name: i for i, m in enumerate(members)}
    return sorted(outcomes, key=lambda o: order[o.name])


def _tail(path: str, n: int = 20) -> str:
  try:
    with open(path, errors="replace") as f:
      return "".join(f.readlines()[-n:])
  except OSError:
    return ""
