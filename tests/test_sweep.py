"""The sweep runner: skip, resume, failure isolation, shards, results once, one
writer per member."""

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
from scaling.sweep.experiment import ExperimentError, load_experiment
from scaling.results import io as records

SLOW_STEPS = 120  # the "slow" members' steps

EXPERIMENT = textwrap.dedent('''
    from scaling import config as configlib

    def get_config(arg=None):
      c = configlib.base_config()
      configlib.apply_size(c, "nano")
      c.train.steps, c.train.warmup_steps, c.train.log_every = 6, 1, 3
      c.checkpoint.every_steps, c.eval.every_steps, c.eval.batches = 3, 6, 1
      return c

    def sweep(arg=None):
      members = [{"name": f"lr{lr}", "overrides": {"train.lr": lr}} for lr in (1e-3, 2e-3)]
      if arg == "with_failure":
        members.insert(1, {"name": "broken", "overrides": {"model.n_heads": 3}})
      if arg == "slow":  # long enough to be stopped mid-run: the kill comes at step 3
        members = [{"name": f"m{i}", "overrides": {"train.steps": SLOW_STEPS, "train.seed": i,
                                                   "checkpoint.every_steps": 30}}
                   for i in range(2)]
      return members
''').replace("SLOW_STEPS", str(SLOW_STEPS))


@pytest.fixture()
def experiment_file(tmp_path):
  path = tmp_path / "exp.py"
  path.write_text(EXPERIMENT)
  return str(path)


def _results(sweep_dir):
  with open(os.path.join(sweep_dir, "results.jsonl")) as f:
    return [json.loads(line) for line in f]


@pytest.mark.slow
def test_failure_is_isolated_then_rerun_skips_finished(experiment_file, tmp_path):
  sweep_dir = str(tmp_path / "sweep")
  first = run_cli("scaling.cli.sweep", "--config", f"{experiment_file}:with_failure",
                  "--workdir", sweep_dir)
  assert first.returncode == 1, first.stdout + first.stderr
  assert "broken" in first.stderr and "model.n_heads=3" in first.stderr
  assert sorted(r["name"] for r in _results(sweep_dir)) == ["lr0.001", "lr0.002"]
  row = next(r for r in _results(sweep_dir) if r["name"] == "lr0.002")
  assert row["overrides"] == {"train.lr": 0.002} and row["steps"] == 6
  failed = json.load(open(os.path.join(sweep_dir, "broken", "failed.json")))
  assert failed["returncode"] == 2

  mtime = os.path.getmtime(os.path.join(sweep_dir, "lr0.001", "summary.json"))
  again = run_cli("scaling.cli.sweep", "--config", f"{experiment_file}:with_failure",
                  "--workdir", sweep_dir)
  assert again.returncode == 1
  assert "lr0.001: skipped" in again.stdout and "broken: failed" in again.stdout
  assert os.path.getmtime(os.path.join(sweep_dir, "lr0.001", "summary.json")) == mtime
  assert len(_results(sweep_dir)) == 2  # exactly once each


def test_shards_split_members_deterministically(experiment_file):
  members = load_experiment(f"{experiment_file}:with_failure").members()
  shards = [runlib.shard_members(members, i, 2) for i in range(2)]
  assert [m.name for m in shards[0]] == ["lr0.001", "lr0.002"]
  assert [m.name for m in shards[1]] == ["broken"]
  assert sorted(m.name for s in shards for m in s) == sorted(m.name for m in members)
  with pytest.raises(ValueError, match="I/N"):
    runlib.parse_shard("2")
  with pytest.raises(ValueError, match="0 <= I < N"):
    runlib.parse_shard("3/3")


def test_dry_run_lists_n_d_c_and_writes_nothing(experiment_file, tmp_path):
  out = run_cli("scaling.cli.sweep", "--config", experiment_file, "--workdir",
                str(tmp_path / "dry"), "--dry-run")
  assert out.returncode == 0, out.stderr
  line = next(l for l in out.stdout.splitlines() if l.startswith("lr0.001"))
  n, d, c = (float(x.replace(",", "")) for x in line.split()[1:4])
  assert d == 6 * 16 * 64 and c == pytest.approx(6 * n * d, rel=1e-2)
  assert not os.path.exists(tmp_path / "dry")


def test_bad_member_override_is_refused_before_anything_runs(tmp_path):
  path = tmp_path / "bad.py"
  path.write_text(EXPERIMENT.replace('"train.lr": lr', '"train.learning_rate": lr'))
  out = run_cli("scaling.cli.sweep", "--config", str(path), "--workdir", str(tmp_path / "s"))
  assert out.returncode == 2
  assert "overrides unknown key 'train.learning_rate'" in out.stderr
  assert not os.path.exists(tmp_path / "s")
  with pytest.raises(ExperimentError, match="does not exist"):
    load_experiment(str(tmp_path / "missing.py"))


@pytest.mark.slow
def test_killed_sweep_resumes_and_records_each_member_once(experiment_file, tmp_path):
  sweep_dir = str(tmp_path / "sweep")
  env = dict(os.environ, PYTHONPATH=REPO)
  cmd = [sys.executable, "-m", "scaling.cli.sweep", "--config", f"{experiment_file}:slow",
         "--workdir", sweep_dir]
  proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  metrics = os.path.join(sweep_dir, "m0", "metrics.jsonl")
  deadline = time.time() + 300
  while time.time() < deadline and not (os.path.exists(metrics) and os.path.getsize(metrics)):
    time.sleep(0.1)
  proc.send_signal(signal.SIGTERM)
  out, err = proc.communicate(timeout=300)
  assert proc.returncode == 75, out + err
  summary = json.load(open(os.path.join(sweep_dir, "m0", "summary.json")))
  assert summary["status"] == "preempted"
  assert not os.path.exists(os.path.join(sweep_dir, "m0", "failed.json"))

  again = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
  assert again.returncode == 0, again.stdout + again.stderr
  rows = _results(sweep_dir)
  assert sorted(r["name"] for r in rows) == ["m0", "m1"]
  assert all(r["steps"] == SLOW_STEPS for r in rows)


def test_dry_run_counts_compute_as_a_run_does_for_shared_layers(tmp_path):
  # A Universal Transformer applies its one block n_layer times and its final
  # LayerNorm once: C/D = 6·(n_layer·block + final LN), as the run's summary says.
  from scaling.cli.sweep import describe  # pylint: disable=g-import-not-at-top
  path = tmp_path / "ut.py"
  path.write_text(EXPERIMENT.replace(
      'configlib.apply_size(c, "nano")',
      'configlib.apply_size(c, "micro"); c.model.share_layers = True'))
  experiment = load_experiment(str(path))
  d = describe(experiment, experiment.members()[0])
  final_ln = 2 * 64  # scale and bias of d_model = 64
  block = d["N"] - final_ln
  assert d["C"] / d["D"] == 6 * (2 * block + final_ln)  # micro: n_layer = 2


def _trainer_pid(workdir):
  for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
      with open(f"/proc/{pid}/cmdline", "rb") as f:
        args = f.read().decode(errors="replace").split("\0")
    except OSError:
      continue
    if "scaling.cli.train" in args and workdir in args:
      return int(pid)
  raise AssertionError(f"no trainer running in {workdir}")


def _alive(pid):
  try:
    with open(f"/proc/{pid}/stat") as f:
      return f.read().split(")")[-1].split()[0] != "Z"
  except OSError:
    return False


@pytest.mark.slow
def test_a_sigkilled_runner_takes_its_member_down_and_a_rerun_writes_each_step_once(
    experiment_file, tmp_path):
  sweep_dir = str(tmp_path / "sweep")
  env = dict(os.environ, PYTHONPATH=REPO)
  cmd = [sys.executable, "-m", "scaling.cli.sweep", "--config", f"{experiment_file}:slow",
         "--workdir", sweep_dir]
  proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  metrics = os.path.join(sweep_dir, "m0", "metrics.jsonl")
  deadline = time.time() + 300
  while time.time() < deadline and not (os.path.exists(metrics) and os.path.getsize(metrics)):
    time.sleep(0.1)
  member_pid = _trainer_pid(os.path.join(sweep_dir, "m0"))
  proc.kill()  # SIGKILL: the runner cannot forward anything
  proc.wait()
  again = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
  assert again.returncode == 0, again.stdout + again.stderr
  assert not _alive(member_pid)
  for member in ("m0", "m1"):
    rows = records.read_jsonl(os.path.join(sweep_dir, member, "metrics.jsonl"))
    assert [r["step"] for r in rows] == list(range(1, SLOW_STEPS + 1)), member
    evals = records.read_jsonl(os.path.join(sweep_dir, member, "eval.jsonl"))
    steps = [r["step"] for r in evals]
    assert steps == sorted(set(steps)) and steps[-1] == SLOW_STEPS, (member, steps)
