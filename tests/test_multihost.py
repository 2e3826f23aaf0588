"""A real 2-process run on localhost through jax.distributed (CPU collectives)."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import REPO, xla_flags
from scaling.results import io as records

pytestmark = pytest.mark.slow  # two-process trainings

ARGS = ["--config", "configs/transformer.py:size=nano", "--progress=false",
        "--config.train.steps=16", "--config.train.log_every=1",
        "--config.checkpoint.every_steps=8", "--config.checkpoint.keep=5",
        "--config.eval.every_steps=8", "--config.eval.batches=2"]


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _start_two(workdir, *extra):
  port = _free_port()
  env = dict(os.environ, PYTHONPATH=REPO)
  return [subprocess.Popen(
      [sys.executable, "-m", "scaling.cli.train", *ARGS, *extra, "--workdir", workdir,
       "--coordinator", f"127.0.0.1:{port}", "--num_processes", "2", "--process_id", str(i)],
      cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
      for i in range(2)]


def _two_processes(workdir, *extra, expect=0):
  procs = _start_two(workdir, *extra)
  outs = [p.communicate(timeout=600)[0] for p in procs]
  for p, out in zip(procs, outs):
    assert p.returncode == expect, out[-3000:]


def _losses(workdir):
  return [r["loss"] for r in records.read_jsonl(os.path.join(workdir, "metrics.jsonl"))]


def test_two_processes_train_checkpoint_resume_and_match_one_process(tmp_path):
  two = str(tmp_path / "two")
  _two_processes(two)
  assert [r["step"] for r in records.read_jsonl(os.path.join(two, "metrics.jsonl"))] == \
         list(range(1, 17))  # written once, by process 0

  resumed = str(tmp_path / "resumed")
  shutil.copytree(two, resumed)
  shutil.rmtree(os.path.join(resumed, "checkpoints", "16"))
  _two_processes(resumed)  # restores step 8 collectively
  assert _losses(resumed) == _losses(two)

  one = str(tmp_path / "one")  # one process, two devices: the same global batches
  env = dict(os.environ, PYTHONPATH=REPO,
             XLA_FLAGS=xla_flags("--xla_force_host_platform_device_count=2"))
  out = subprocess.run([sys.executable, "-m", "scaling.cli.train", *ARGS, "--workdir", one],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
  assert out.returncode == 0, out.stderr[-3000:]
  a, b = np.asarray(_losses(two)), np.asarray(_losses(one))
  assert np.max(np.abs(a - b) / b) < 1e-5


def test_sigterm_on_one_host_stops_every_host_at_the_same_step(tmp_path):
  workdir = str(tmp_path / "run")
  longer = ["--config.train.steps=120", "--config.checkpoint.every_steps=1000"]
  procs = _start_two(workdir, *longer)
  metrics = os.path.join(workdir, "metrics.jsonl")
  deadline = time.time() + 300
  while time.time() < deadline:
    rows = records.read_jsonl(metrics)
    if rows and rows[-1]["step"] >= 5:
      break
    time.sleep(0.1)
  procs[1].send_signal(signal.SIGTERM)  # only one host is told
  outs = [p.communicate(timeout=600)[0] for p in procs]
  assert [p.returncode for p in procs] == [75, 75], outs[0][-2000:]
  saved = os.listdir(os.path.join(workdir, "checkpoints"))
  assert len(saved) == 1 and int(saved[0]) < 120  # one step, agreed by both
  _two_processes(workdir, *longer)  # resumes
  assert [r["step"] for r in records.read_jsonl(metrics)] == list(range(1, 121))
