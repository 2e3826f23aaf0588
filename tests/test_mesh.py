"""Meshes on 8 CPU devices train to the same losses as one device."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, xla_flags

pytestmark = pytest.mark.slow  # a training on 8 forced host devices

JOB = os.path.join(REPO, "tests", "mesh_job.py")


def _job(tmp_path, devices, *args):
  env = dict(os.environ, PYTHONPATH=REPO,
             XLA_FLAGS=xla_flags(f"--xla_force_host_platform_device_count={devices}"))
  out = subprocess.run([sys.executable, JOB, str(tmp_path), "20", *args],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
  assert out.returncode == 0, out.stderr[-3000:]
  return json.loads(out.stdout.strip().splitlines()[-1])


def _close(a, b):
  a, b = np.asarray(a), np.asarray(b)
  assert a.shape == b.shape == (20,)
  assert np.max(np.abs(a - b) / np.abs(b)) < 1e-5, np.max(np.abs(a - b) / np.abs(b))


def test_meshes_match_one_device_and_restore_across_meshes(tmp_path):
  single = _job(tmp_path / "one", 1, "1,1,1")["1,1,1"]
  # three meshes from scratch, then the 8,1,1 run's step-10 checkpoint resumed on two others
  many = _job(tmp_path / "eight", 8, "8,1,1", "2,4,1", "2,2,2",
              "--restore-at", "10", "2,2,2", "1,4,2")
  restored = many.pop("restored")
  assert sorted(many) == ["2,2,2", "2,4,1", "8,1,1"] and sorted(restored) == ["1,4,2", "2,2,2"]
  for mesh, losses in {**many, **{f"restored {k}": v for k, v in restored.items()}}.items():
    _close(losses, single)
