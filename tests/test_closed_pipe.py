"""Every console script, its output piped into a reader that stops at once
(`| head -1`): a quiet exit 0 or 141, never a BrokenPipeError traceback."""

import os
import re
import subprocess
import sys

import pytest

from conftest import REPO
from scaling import cli

SETUP_PY = os.path.join(REPO, "setup.py")


def _console_scripts() -> dict[str, str]:
  """{script name: module} from setup.py, so a new script is tested too."""
  with open(SETUP_PY) as f:
    return {name: (module, fn) for name, module, fn in
            re.findall(r'"(scaling-[a-z]+)=(scaling\.cli\.[a-z_]+):([a-z_]+)"', f.read())}


def _into_closed_pipe(*args):
  """Runs `python -m args` with stdout a pipe whose reader is already gone:
  its first write fails however fast it comes (no timing luck)."""
  proc = subprocess.Popen([sys.executable, "-m", *args], cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=REPO), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  proc.stdout.close()
  _, err = proc.communicate(timeout=300)
  return proc.returncode, err


def _quiet(code, err):
  assert code in (0, cli.EXIT_CLOSED_PIPE), (code, err)
  assert "Traceback" not in err and "BrokenPipe" not in err, err
  assert "Exception ignored" not in err, err


@pytest.mark.parametrize("name", sorted(_console_scripts()))
def test_every_console_script_goes_through_the_closed_pipe_wrapper(name):
  """Read, not imported: scaling-train's and scaling-bench's absl flags
  cannot both be defined in one process."""
  module, fn = _console_scripts()[name]
  with open(os.path.join(REPO, *module.split(".")) + ".py") as f:
    assert re.search(rf"^@script\ndef {fn}\(", f.read(), re.M), f"{module}.{fn}"


# Output from each kind of tool (absl's and argparse's), written after the
# reader is gone. (argparse's own --help swallows the error; absl's does not.)
CASES = {
    "train --help": ["scaling.cli.train", "--help"],
    "bench --help": ["scaling.cli.bench", "--help"],
    "plan": ["scaling.cli.plan", "--compute", "1", "--pf-days"],
    "data list": ["scaling.cli.data", "list"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_output_into_a_closed_pipe_exits_quietly(case):
  _quiet(*_into_closed_pipe(*CASES[case]))


def test_a_dry_run_sweep_into_a_closed_pipe_exits_quietly(tmp_path):
  """The issue's `scaling-sweep ... --dry-run | head -1`."""
  _quiet(*_into_closed_pipe("scaling.cli.sweep", "--config", "experiments/model_size.py:tiny",
                            "--workdir", str(tmp_path / "x"), "--dry-run"))
