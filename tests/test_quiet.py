"""Quiet, conventional output: no TensorFlow/CUDA start-up noise from the CLIs
(real errors still shown), a mistyped config key is one line with the
suggestion, and every tool's --help ends with a working example."""

import os
import subprocess
import sys

import pytest

from conftest import REPO, run_cli
from scaling import quiet
from scaling.cli import bcrit, data, eval as eval_cli, fit, flag_parsing, plan, sweep


def test_filtered_stderr_drops_only_the_known_noise(capfd):
  with quiet.filtered_stderr():
    os.write(2, b"I0000 00:00:1.0 1 port.cc:153] oneDNN custom operations are on. ...\n"
                b"E0000 00:00:1.0 1 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR\n"
                b"E0000 a real error stays\n")
  assert capfd.readouterr().err == "E0000 a real error stays\n"


def test_a_cli_importing_tensorflow_prints_nothing_but_its_own_lines():
  pytest.importorskip("tensorflow")
  code = ("import scaling.cli, sys, tensorflow as tf\n"
          "assert int(tf.constant(1) + 1) == 2 and not tf.config.get_visible_devices('GPU')\n"
          "sys.stderr.write('mine\\n')\n")
  result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=REPO), timeout=120)
  assert result.returncode == 0 and result.stderr == "mine\n", result.stderr


@pytest.mark.parametrize("override, message", [
    ("--config.train.stepz=5", "unknown config key train.stepz; did you mean train.steps?"),
    ("--config.trainz.steps=5", "unknown config key trainz; did you mean train?"),
])
def test_a_mistyped_config_key_is_one_line_with_the_suggestion(override, message, tmp_path):
  result = run_cli("scaling.cli.train", "--config", "configs/transformer.py:size=nano",
                   "--workdir", str(tmp_path / "run"), override)
  assert result.returncode == 2 and result.stderr == f"error: {message}\n", result.stderr
  assert not os.path.exists(tmp_path / "run")


def test_unknown_key_names_the_section_when_nothing_is_close():
  from scaling.config import load_config_file  # pylint: disable=g-import-not-at-top
  c = load_config_file(os.path.join(REPO, "configs", "transformer.py") + ":size=nano")
  assert flag_parsing.unknown_key(c, "train.steps") is None
  assert flag_parsing.unknown_key(c, "train.steps.x") == (
      "unknown config key train.steps.x; train.steps is a value, not a section")
  assert flag_parsing.unknown_key(c, "model.qqqqqq").startswith(
      "unknown config key model.qqqqqq; model has ")


def _last_line(text: str) -> str:
  return [line for line in text.splitlines() if line.strip()][-1].strip()


def test_every_help_ends_with_an_example():
  parsers = [bcrit.build_parser(), data._parser(), eval_cli._parser(), fit.build_parser(),
             plan.build_parser(), sweep._parser()]
  for p in parsers:
    assert _last_line(p.format_help()).startswith("scaling-"), p.prog
  result = run_cli("scaling.cli.train", "--help")
  assert result.returncode == 0 and _last_line(result.stdout).startswith(
      "scaling-train --config configs/"), result.stdout[-500:]
