"""A real 2-process run on localhost through jax.distributed (CPU collectives)."""

import os
import shutil
import socket
import subprocess
import sys

import numpy as np

from conftest import REPO
from scaling.train import records

ARGS = ["--config", "configs/transformer.py:size=nano", "--progress=false",
        "--config.train.steps=16", "--config.train.log_every=1",
        "--config.checkpoint.every_steps=8", "--config.checkpoint.keep=5",
        "--config.eval.every_steps=8", "--config.eval.batches=2"]


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _two_processes(workdir):
  port = _free_port()
  env = dict(os.environ, PYTHONPATH=REPO)
  procs = [subprocess.Popen(
      [sys.executable, "-m", "scaling.cli.train", *ARGS, "--workdir", workdir,
       "--coordinator", f"127.0.0.1:{port}", "--num_processes", "2", "--process_id", str(i)],
      cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
      for i in range(2)]
  outs = [p.communicate(timeout=600)[0] for p in procs]
  for p, out in zip(procs, outs):
    assert p.returncode == 0, out[-3000:]


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
  env = dict(os.environ, PYTHONPATH=REPO, XLA_FLAGS="--xla_force_host_platform_device_count=2")
  out = subprocess.run([sys.executable, "-m", "scaling.cli.train", *ARGS, "--workdir", one],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
  assert out.returncode == 0, out.stderr[-3000:]
  a, b = np.asarray(_losses(two)), np.asarray(_losses(one))
  assert np.max(np.abs(a - b) / b) < 1e-5
