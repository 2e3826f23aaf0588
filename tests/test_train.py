"""End-to-end training: learning, outputs, exact resume, refusals."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, SHIPPED_XLA, run_cli, small_config
from scaling.results import io as records
from scaling.train.checkpoint import ResumeError
from scaling.train.loop import train

pytestmark = pytest.mark.slow  # trains (one module fixture, once: make test uses --dist loadfile)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
  """A micro model trained for 60 steps, checkpointed every 20."""
  workdir = str(tmp_path_factory.mktemp("run"))
  c = small_config("micro", **{"train.steps": 60, "train.lr": 3e-3,
                               "checkpoint.every_steps": 20, "checkpoint.keep": 5,
                               "eval.every_steps": 20, "train.log_every": 7})
  summary = train(c, workdir, progress=False)
  return c, workdir, summary


def test_validation_loss_falls_well_below_its_start(finished_run):
  _, workdir, summary = finished_run
  evals = records.read_jsonl(os.path.join(workdir, "eval.jsonl"))
  assert [e["step"] for e in evals] == [0, 20, 40, 60]
  assert evals[-1]["val_loss"] < 0.7 * evals[0]["val_loss"]
  assert summary["val_loss"] == evals[-1]["val_loss"]
  assert summary["best_val_loss"] == min(e["val_loss"] for e in evals)


def test_outputs_in_the_workdir(finished_run):
  c, workdir, summary = finished_run
  metrics = records.read_jsonl(os.path.join(workdir, "metrics.jsonl"))
  assert [m["step"] for m in metrics] == list(range(1, 61))  # every step, once
  for key in ("step", "tokens", "loss", "lr", "grad_norm", "tokens_per_sec"):
    assert key in metrics[0]
  assert metrics[-1]["tokens"] == 60 * c.train.batch_size * c.model.n_ctx
  for key in ("n_params_nonembedding", "n_params_embedding", "flops_per_token",
              "tokens_seen", "compute_flops", "steps", "train_loss", "val_loss",
              "best_val_loss", "val_bpb", "wallclock_s", "tokens_per_sec", "status"):
    assert summary[key] is not None, key
  assert summary["status"] == "completed"
  assert summary["compute_flops"] == 6 * summary["n_params_nonembedding"] * summary["tokens_seen"]
  with open(os.path.join(workdir, "summary.json")) as f:
    assert json.load(f)["val_loss"] == summary["val_loss"]
  with open(os.path.join(workdir, "config.json")) as f:
    assert json.load(f)["model"]["d_ff"] == 4 * c.model.d_model  # resolved
  assert any(n.startswith("events.out.tfevents") for n in os.listdir(os.path.join(workdir, "tb")))
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints")))[-1] == "60"


def test_resume_from_a_middle_checkpoint_is_bit_exact(finished_run, tmp_path):
  c, workdir, _ = finished_run
  resumed = str(tmp_path / "resumed")
  shutil.copytree(workdir, resumed)
  for step in ("40", "60"):  # as if the run had died after step 20's checkpoint
    shutil.rmtree(os.path.join(resumed, "checkpoints", step))
  train(c, resumed, progress=False)
  def read(d, f):  # everything but the timing
    return [{k: v for k, v in r.items() if k != "tokens_per_sec"}
            for r in records.read_jsonl(os.path.join(d, f))]
  assert read(resumed, "metrics.jsonl") == read(workdir, "metrics.jsonl")
  assert [e["val_loss"] for e in read(resumed, "eval.jsonl")] == \
         [e["val_loss"] for e in read(workdir, "eval.jsonl")]


def test_resume_with_a_different_model_is_refused_and_leaves_the_run_alone(finished_run):
  c, workdir, _ = finished_run
  before = sorted(os.listdir(os.path.join(workdir, "checkpoints")))
  summary_before = open(os.path.join(workdir, "summary.json")).read()
  other = small_config("micro", **{"model.d_model": 32, "train.steps": 60})
  with pytest.raises(ResumeError, match="model.d_model=32"):
    train(other, workdir, progress=False)
  other = small_config("micro", **{"data.seq_len": 64, "train.steps": 60})
  with pytest.raises(ResumeError, match="data.seq_len"):
    train(other, workdir, progress=False)
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == before
  assert open(os.path.join(workdir, "summary.json")).read() == summary_before


def test_resume_with_another_optimizer_is_refused_in_one_line(finished_run, tmp_path):
  _, workdir, _ = finished_run
  copy = str(tmp_path / "copy")
  shutil.copytree(workdir, copy)
  other = small_config("micro", **{"train.steps": 80, "train.optimizer": "adafactor"})
  with pytest.raises(ResumeError, match="another optimizer state"):
    train(other, copy, progress=False)


def test_rerunning_a_finished_run_keeps_its_summary(finished_run, tmp_path):
  c, workdir, summary = finished_run
  again = str(tmp_path / "again")
  shutil.copytree(workdir, again)
  before = open(os.path.join(again, "summary.json")).read()
  assert train(c, again, progress=False) == json.loads(before)
  assert open(os.path.join(again, "summary.json")).read() == before  # not rewritten
  assert summary["train_loss"] is not None and summary["per_position_loss"]


def _wait_for_step(path, step, proc, timeout=300):
  deadline = time.time() + timeout
  while time.time() < deadline:
    if proc.poll() is not None:
      return False
    rows = records.read_jsonl(path)
    if rows and rows[-1]["step"] >= step:
      return True
    time.sleep(0.05)
  return False


def test_sigterm_saves_and_the_same_command_resumes_exactly(tmp_path):
  args = ["--config", "configs/transformer.py:size=nano", "--progress=false",
          "--config.train.steps=40", "--config.train.log_every=1",
          "--config.checkpoint.every_steps=1000", "--config.eval.every_steps=20",
          "--config.eval.batches=2"]
  # the shipped build (default XLA flags), not the suite's faster-compiling one
  full = run_cli("scaling.cli.train", *args, "--workdir", str(tmp_path / "full"),
                 env=SHIPPED_XLA)
  assert full.returncode == 0, full.stderr[-2000:]

  workdir = str(tmp_path / "killed")
  env = dict(os.environ, PYTHONPATH=REPO, **SHIPPED_XLA)
  proc = subprocess.Popen([sys.executable, "-m", "scaling.cli.train", *args,
                           "--workdir", workdir], cwd=REPO, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  kill_at = random.randint(1, 30)  # any step: the rerun must not care where
  assert _wait_for_step(os.path.join(workdir, "metrics.jsonl"), kill_at, proc)
  proc.send_signal(signal.SIGTERM)
  _, err = proc.communicate(timeout=300)
  assert proc.returncode == 75, (kill_at, err[-2000:])
  with open(os.path.join(workdir, "summary.json")) as f:
    preempted = json.load(f)
  assert preempted["status"] == "preempted" and kill_at <= preempted["steps"] < 40

  again = run_cli("scaling.cli.train", *args, "--workdir", workdir, env=SHIPPED_XLA)
  assert again.returncode == 0, again.stderr[-2000:]
  losses = lambda d: [(r["step"], r["loss"]) for r in
                      records.read_jsonl(os.path.join(d, "metrics.jsonl"))]
  assert losses(workdir) == losses(str(tmp_path / "full")), kill_at
