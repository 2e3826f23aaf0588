"""Sweeps on cluster engines: a 3-member sweep through submitit's local executor
(the SLURM path) and through a local Ray instance, each with one member's job /
worker killed once mid-run and resumed; Ray's resource rule; `--shard auto`
from the schedulers' environments."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import REPO, run_cli
from scaling.sweep import runner as runlib
from scaling.sweep.ray_backend import resources_for
from scaling.sweep.shards import auto_shard
from scaling.results import RunDir
from scaling.results import io as records

EXPERIMENT = textwrap.dedent('''
    from scaling import config as configlib

    def get_config(arg=None):
      c = configlib.base_config()
      configlib.apply_size(c, "nano")
      c.train.steps, c.train.warmup_steps, c.train.log_every = 6, 1, 1
      c.checkpoint.every_steps, c.eval.every_steps, c.eval.batches = 3, 6, 1
      return c

    def sweep(arg=None):
      members = [{"name": f"m{i}", "overrides": {"train.seed": i}} for i in range(3)]
      # The member to kill: long enough to be caught mid-run.
      members[1]["overrides"].update({"train.steps": 150, "checkpoint.every_steps": 50,
                                      "eval.every_steps": 150})
      return members
''')
STEPS = {"m0": 6, "m1": 150, "m2": 6}
FIRST_CHECKPOINT = 50


@pytest.fixture()
def experiment_file(tmp_path):
  path = tmp_path / "exp.py"
  path.write_text(EXPERIMENT)
  return str(path)


def sweep_killing_one_job(sweep_dir, args, victim="m1", min_step=FIRST_CHECKPOINT + 5):
  """Runs scaling-sweep with `args`; once `victim` has its first checkpoint and
  has logged `min_step` steps, SIGKILLs the process its job.json names (the
  job / Ray worker); returns (returncode, stdout, stderr, the killed job.json,
  the metrics lines up to the first checkpoint as they were then)."""
  cmd = [sys.executable, "-m", "scaling.cli.sweep", "--workdir", sweep_dir, "--no-analyze",
         *args]
  proc = subprocess.Popen(cmd, cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  metrics = os.path.join(sweep_dir, victim, "metrics.jsonl")
  deadline, killed = time.time() + 240, None
  while time.time() < deadline and proc.poll() is None:
    rows = records.read_jsonl(metrics) if os.path.exists(metrics) else []
    saved = os.path.isdir(os.path.join(sweep_dir, victim, "checkpoints", str(FIRST_CHECKPOINT)))
    if saved and rows and rows[-1]["step"] >= min_step:
      with open(os.path.join(sweep_dir, victim, "job.json")) as f:
        killed = json.load(f)
      os.kill(killed["pid"], signal.SIGKILL)
      with open(metrics) as f:
        before = f.readlines()[:FIRST_CHECKPOINT]
      break
    time.sleep(0.2)
  out, err = proc.communicate(timeout=300)
  assert killed, f"never saw {victim} at step {min_step}:\n{out}\n{err}"
  return proc.returncode, out, err, killed, before


def check_every_result_once(sweep_dir, out, err, before):
  with open(os.path.join(sweep_dir, "results.jsonl")) as f:
    rows = [json.loads(line) for line in f]
  assert sorted(r["name"] for r in rows) == sorted(STEPS), out + err
  for name, steps in STEPS.items():
    logged = [r["step"] for r in records.read_jsonl(os.path.join(sweep_dir, name, "metrics.jsonl"))]
    assert logged == list(range(1, steps + 1)), (name, out, err)  # each step once
  assert "in use by another trainer" not in open(os.path.join(sweep_dir, "m1", "train.log")).read()
  with open(os.path.join(sweep_dir, "m1", "metrics.jsonl")) as f:  # resumed, not restarted:
    assert f.readlines()[:FIRST_CHECKPOINT] == before  # the lines (with timings) stayed


@pytest.mark.slow
def test_slurm_backend_resubmits_a_killed_job_which_resumes(experiment_file, tmp_path):
  sweep_dir = str(tmp_path / "sweep")
  code, out, err, killed, before = sweep_killing_one_job(
      sweep_dir, ["--config", experiment_file, "--backend", "slurm", "--slurm-cluster", "local",
                  "--time-min", "10"])
  assert code == 0, out + err
  assert "m1: job died; resubmitting" in out
  check_every_result_once(sweep_dir, out, err, before)
  with open(os.path.join(sweep_dir, "m1", "job.json")) as f:
    last = json.load(f)
  assert last["attempt"] == 1 and last["pid"] != killed["pid"]
  log = open(os.path.join(sweep_dir, "m1", "train.log")).read()
  assert "checkpoint saved, rerun to resume" in log, log[-2000:]  # it got SIGTERM, saved

  again = run_cli("scaling.cli.sweep", "--config", experiment_file, "--workdir", sweep_dir,
                  "--backend", "slurm", "--slurm-cluster", "local", "--no-analyze")
  assert again.returncode == 0 and again.stdout.count(": skipped") == 3, again.stdout


@pytest.mark.slow
def test_a_rerun_after_the_slurm_sweep_itself_is_sigkilled_adopts_its_jobs(experiment_file,
                                                                          tmp_path):
  """SIGKILL of scaling-sweep (not of a job): its jobs run on; the rerun waits
  for them (through DIR/<member>/submitted.json) and submits none again."""
  sweep_dir = str(tmp_path / "sweep")
  args = ["--config", experiment_file, "--workdir", sweep_dir, "--no-analyze",
          "--backend", "slurm", "--slurm-cluster", "local", "--time-min", "10"]
  # output to files: the jobs inherit the sweep's stdout and outlive it
  sweep = lambda log: subprocess.Popen(
      [sys.executable, "-m", "scaling.cli.sweep", *args], cwd=REPO, stdout=log,
      stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONPATH=REPO, PYTHONUNBUFFERED="1"))
  first = sweep(open(tmp_path / "first.log", "w"))
  submitted = lambda name: RunDir(os.path.join(sweep_dir, name)).submission()
  deadline, trainer = time.time() + 240, None
  while time.time() < deadline and first.poll() is None and trainer is None:
    if all(submitted(name) for name in STEPS):
      trainer = _lock_holder(os.path.join(sweep_dir, "m1", "train.lock"))
    time.sleep(0.1)
  assert trainer, "m1's trainer never started"
  # m1's trainer is paused from now until the rerun has said what it does with
  # m1's job, so that job is still running then, however slow the machine is
  os.kill(trainer, signal.SIGSTOP)
  try:
    first.kill()
    assert first.wait(timeout=60) == -signal.SIGKILL, (tmp_path / "first.log").read_text()
    jobs = {name: submitted(name)["job_id"] for name in STEPS}
    rerun = sweep(open(tmp_path / "rerun.log", "w"))
    deadline = time.time() + 120
    while time.time() < deadline and rerun.poll() is None:
      if "\nm1: " in "\n" + (tmp_path / "rerun.log").read_text():
        break  # the rerun has decided about m1's job
      time.sleep(0.1)
  finally:
    os.kill(trainer, signal.SIGCONT)
  code = rerun.wait(timeout=300)
  again = subprocess.CompletedProcess(rerun.args, code, (tmp_path / "rerun.log").read_text())
  assert again.returncode == 0, again.stdout
  assert "submitted as job" not in again.stdout, again.stdout  # no job submitted twice
  assert f"m1: job {jobs['m1']} of an earlier sweep is still running" in again.stdout
  folders = set(os.listdir(os.path.join(sweep_dir, ".submitit"))) - {"%j"}
  assert sorted(folders) == sorted(jobs.values())  # one job per member, ever
  for name, steps in STEPS.items():  # each trained once, by its one job
    logged = [r["step"] for r in records.read_jsonl(os.path.join(sweep_dir, name, "metrics.jsonl"))]
    assert logged == list(range(1, steps + 1)), (name, again.stdout)
    assert "in use by another trainer" not in open(os.path.join(sweep_dir, name, "train.log")).read()
  with open(os.path.join(sweep_dir, "results.jsonl")) as f:
    assert sorted(json.loads(line)["name"] for line in f) == sorted(STEPS)


def _lock_holder(path: str) -> int | None:
  """The pid a trainer's train.lock names ("pid P on host H since T")."""
  try:
    with open(path) as f:
      words = f.read().split()
  except FileNotFoundError:
    return None
  return int(words[1]) if len(words) > 1 and words[0] == "pid" else None


@pytest.mark.slow
def test_ray_backend_retries_a_killed_worker_which_resumes(experiment_file, tmp_path):
  pytest.importorskip("ray")
  sweep_dir = str(tmp_path / "sweep")
  code, out, err, killed, before = sweep_killing_one_job(
      sweep_dir, ["--config", experiment_file, "--backend", "ray", "--ray-cpus", "2",
                  "--max-requeues", "2"])
  assert code == 0, out + err
  check_every_result_once(sweep_dir, out, err, before)
  with open(os.path.join(sweep_dir, "m1", "job.json")) as f:
    last = json.load(f)
  assert last["pid"] != killed["pid"] and last["task_id"] == killed["task_id"]  # Ray's retry


def test_ray_resources_follow_member_size():
  rule = lambda n, cluster: resources_for(n, cluster, 1e7, tpu_chips_per_host=4)
  assert rule(5e7, {"CPU": 64, "GPU": 8}) == {"num_cpus": 1, "num_gpus": 1}
  assert rule(5e5, {"CPU": 64, "GPU": 8}) == {"num_cpus": 1}
  assert rule(5e7, {"CPU": 64, "TPU": 16}) == {"num_cpus": 1, "resources": {"TPU": 4}}
  assert rule(5e7, {"CPU": 2}) == {"num_cpus": 1}


def test_shard_auto_reads_array_indexed_and_tpu_environments(monkeypatch):
  assert auto_shard({"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "4",
                     "SLURM_ARRAY_TASK_COUNT": "3"}) == (1, 3)
  assert auto_shard({"JOB_COMPLETION_INDEX": "2", "SCALING_SHARD_COUNT": "4"}) == (2, 4)
  assert auto_shard({"TPU_WORKER_ID": "1", "TPU_WORKER_HOSTNAMES": "a,b"}) == (1, 2)
  with pytest.raises(ValueError, match="SCALING_SHARD_COUNT=N"):
    auto_shard({"JOB_COMPLETION_INDEX": "0"})
  with pytest.raises(ValueError, match="give --shard I/N"):
    auto_shard({})
  with pytest.raises(ValueError, match="not in 0..1"):
    auto_shard({"TPU_WORKER_ID": "2", "TPU_WORKER_HOSTNAMES": "a,b"})
  monkeypatch.setenv("JOB_COMPLETION_INDEX", "1")
  monkeypatch.setenv("SCALING_SHARD_COUNT", "2")
  assert runlib.parse_shard("auto") == (1, 2)


def test_backend_flag_errors_are_one_line(experiment_file, tmp_path):
  out = run_cli("scaling.cli.sweep", "--config", experiment_file, "--workdir",
                str(tmp_path / "s"), "--backend", "slurm", "--slurm-arg", "qos")
  assert out.returncode == 2 and out.stderr.strip().count("\n") == 0, out.stderr
  assert "KEY=VALUE" in out.stderr
