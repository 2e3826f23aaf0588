"""Shared fixtures: a per-session token-store cache and small configs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session", autouse=True)
def store_cache(tmp_path_factory):
  """Every test shares one token-store cache, built once per session."""
  path = str(tmp_path_factory.mktemp("scaling-cache"))
  old = os.environ.get("SCALING_CACHE")
  os.environ["SCALING_CACHE"] = path
  yield path
  if old is None:
    os.environ.pop("SCALING_CACHE", None)
  else:
    os.environ["SCALING_CACHE"] = old


# `make test` compiles with XLA:CPU's LLVM optimisation off (Makefile, TEST_XLA_FLAGS):
# the suite's tiny programs compile about twice as fast, and their results differ
# from the default build's only in the last bits (vectorised reductions add in
# another order). Every comparison in the suite is between programs compiled the
# same way; a test that must show the shipped build passes env=SHIPPED_XLA to run_cli.
SHIPPED_XLA = {"XLA_FLAGS": ""}


def xla_flags(*flags: str) -> str:
  """XLA_FLAGS for a child process: the suite's own flags (if any) plus `flags`."""
  return " ".join([os.environ.get("XLA_FLAGS", ""), *flags]).strip()


def small_config(size: str = "nano", **overrides):
  """configs/transformer.py at `size`, shrunk for a fast CPU test."""
  from scaling.config import load_config_file  # pylint: disable=g-import-not-at-top
  c = load_config_file(os.path.join(REPO, "configs", "transformer.py") + f":size={size}")
  c.train.steps = 20
  c.train.warmup_steps = 2
  c.train.log_every = 5
  c.checkpoint.every_steps = 10
  c.eval.every_steps = 10
  c.eval.batches = 2
  for key, value in overrides.items():
    section, name = key.split(".")
    c[section][name] = value
  return c


def run_cli(module: str, *args, env=None, timeout=600, **kwargs):
  """Runs `python -m module args...` from the repo root; returns CompletedProcess."""
  full_env = dict(os.environ, PYTHONPATH=REPO, **(env or {}))
  return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=full_env,
                        capture_output=True, text=True, timeout=timeout, **kwargs)
