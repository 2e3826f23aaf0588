"""Shared fixtures: a per-session token-store cache and small configs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session", autouse=True)
def store_cache(tmp_path_factory, worker_id):
  """Every test shares one token-store cache, built once per session. Under xdist
  the workers share it too (their base temps are siblings): build_store locks a
  store while it is built, so a second worker waits for it instead of building
  the same store again (the embedded corpus through seqio: about 35 s of CPU)."""
  if worker_id == "master":
    path = str(tmp_path_factory.mktemp("scaling-cache"))
  else:
    path = str(tmp_path_factory.getbasetemp().parent / "scaling-cache")
    os.makedirs(path, exist_ok=True)
  old = os.environ.get("SCALING_CACHE")
  os.environ["SCALING_CACHE"] = path
  yield path
  if old is None:
    os.environ.pop("SCALING_CACHE", None)
  else:
    os.environ["SCALING_CACHE"] = old


# `make test` compiles with XLA:CPU's LLVM optimisation and its MLIR fusion
# emitters off (Makefile, TEST_XLA_FLAGS): the suite's tiny programs compile
# several times faster, and their results differ from the default build's only
# in the last bits (vectorised reductions add in another order). Every comparison
# in the suite is between programs compiled the same way; a test that must show
# the shipped build passes env=SHIPPED_XLA to run_cli.
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


# Longest files first. `make test` hands whole files to its two workers (xdist
# --dist loadfile) in collection order; xdist's default order (most tests first)
# started the few-test, minute-long files (test_mesh, test_sweep, test_cluster)
# last, so one worker trained alone for the suite's last minute. tests/durations.json
# holds each file's seconds from a recent run: `pytest --write-durations` rewrites it.
DURATIONS = os.path.join(REPO, "tests", "durations.json")
_SECONDS: dict[str, float] = {}  # file -> seconds, summed from this session's reports


def pytest_addoption(parser):
  parser.addoption("--write-durations", action="store_true",
                   help="write each test file's seconds (setup+call+teardown) to "
                        "tests/durations.json, which orders the next runs")


def pytest_configure(config):
  if hasattr(config.option, "loadscopereorder"):
    config.option.loadscopereorder = False  # keep the order set below


def _file_costs() -> dict[str, float]:
  try:
    with open(DURATIONS, encoding="utf-8") as f:
      return json.load(f)
  except (OSError, ValueError):
    return {}


def pytest_collection_modifyitems(items):
  costs = _file_costs()
  unknown = max(costs.values(), default=0.0)  # a new file: assume it is long
  items.sort(key=lambda item: -costs.get(item.nodeid.split("::")[0], unknown))


def pytest_runtest_logreport(report):
  path = report.nodeid.split("::")[0]
  _SECONDS[path] = _SECONDS.get(path, 0.0) + report.duration


def pytest_sessionfinish(session):
  config = session.config
  if config.getoption("--write-durations") and not hasattr(config, "workerinput"):
    seconds = {**_file_costs(), **_SECONDS}  # a partial run keeps the other files' times
    ranked = sorted(seconds.items(), key=lambda kv: -kv[1])
    with open(DURATIONS, "w", encoding="utf-8") as f:
      json.dump({path: round(seconds, 1) for path, seconds in ranked}, f, indent=0)
      f.write("\n")
