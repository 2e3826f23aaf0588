"""The TPU VM launch script builds the right gcloud commands (--dry-run)."""

import os
import subprocess

from conftest import REPO

SCRIPT = os.path.join(REPO, "experiments", "launch", "tpu_vm.sh")


def _run(*args):
  return subprocess.run(["bash", SCRIPT, "--tpu", "t", "--zone", "z", "--workers", "4",
                         "--dry-run", *args], capture_output=True, text=True, timeout=60)


def test_sweep_runs_one_shard_per_worker_on_all_workers():
  out = _run("sweep", "experiments/model_size.py", "/mnt/r/ms")
  assert out.returncode == 0, out.stderr
  assert "tpu-vm ssh t --zone z --worker=all" in out.stdout
  assert "scaling-sweep" in out.stdout and "/4" in out.stdout
  assert "agent-worker-number" in out.stdout


def test_train_is_one_multihost_run_and_install_installs():
  train = _run("train", "configs/transformer.py:size=base", "/mnt/r/b", "--config.mesh.fsdp=4")
  assert "scaling-train\\ --multihost" in train.stdout and "mesh.fsdp=4" in train.stdout
  install = _run("install")
  assert "pip\\ install" in install.stdout and "jax\\[tpu\\]" in install.stdout


def test_missing_arguments_print_usage():
  out = subprocess.run(["bash", SCRIPT, "sweep"], capture_output=True, text=True)
  assert out.returncode == 2 and "tpu_vm.sh" in out.stdout
