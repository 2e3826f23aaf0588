"""Quiet start-up for the command-line tools: no CUDA / TensorFlow banners on a CPU.

TensorFlow (used only to read and tokenise data) prints, on every import, lines
such as "oneDNN custom operations are on", "Could not find cuda drivers" and,
on its first op, "E0000 ... failed call to cuInit" -- most of them before its
logging is set up, so no environment variable silences them. setup():

  - imports tensorflow, when something first does, with C-level stderr caught;
    the known start-up lines are dropped and everything else is written back;
  - hides GPUs from TensorFlow (it never needs one here, and would otherwise
    take GPU memory from JAX), inside the same catch, so cuInit's line goes too;
  - sets TF_CPP_MIN_LOG_LEVEL=1 (TensorFlow's later INFO lines; warnings and
    errors still show) unless already set;
  - on a machine with no GPU or TPU device at all but a JAX CUDA plugin or
    libtpu installed, sets JAX_PLATFORMS=cpu unless set, so JAX does not probe
    CUDA or start libtpu (which prints its missing TPU metadata); libtpu still
    compiles for TPU topologies (scaling-compile).

Called by scaling/cli/__init__.py, so every scaling-* tool gets it first.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

NOISE = re.compile("|".join([
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    r"oneDNN custom operations are on",
    r"Could not find cuda drivers on your machine",
    r"failed call to cuInit",
    r"cpu_feature_guard\.cc",
    r"^To enable the following instructions: .* rebuild TensorFlow",
    r"Unable to register cu(DNN|FFT|BLAS) factory",
    r"computation placer already registered",
    r"TF-TRT Warning: Could not find TensorRT",
    r"absl::InitializeLog\(\) is called",
]))


@contextlib.contextmanager
def filtered_stderr(noise: re.Pattern = NOISE):
  """Catches what is written to file descriptor 2 (C++ logs included) while the
  block runs, then writes back every line that is not `noise`."""
  try:
    sys.stderr.flush()
    saved = os.dup(2)
  except (OSError, ValueError):  # no usable fd 2 (e.g. a closed stream)
    yield
    return
  with tempfile.TemporaryFile(mode="w+b") as caught:
    os.dup2(caught.fileno(), 2)
    try:
      yield
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      caught.seek(0)
      kept = [line for line in caught.read().decode(errors="replace").splitlines(True)
              if not noise.search(line)]
      if kept:
        sys.stderr.write("".join(kept))
        sys.stderr.flush()


class _QuietLoader(importlib.abc.Loader):
  def __init__(self, inner):
    self.inner = inner

  def create_module(self, spec):
    return self.inner.create_module(spec)

  def exec_module(self, module):
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _QuietTensorflow)]
    with filtered_stderr():
      self.inner.exec_module(module)
      try:  # data only: TensorFlow never takes a GPU from JAX
        module.config.set_visible_devices([], "GPU")
      except (AttributeError, RuntimeError, ValueError):
        pass


class _QuietTensorflow(importlib.abc.MetaPathFinder):
  """Wraps the first import of tensorflow in filtered_stderr (then steps aside)."""

  def __init__(self):
    self._looking = False

  def find_spec(self, name, path=None, target=None):
    del path, target
    if name != "tensorflow" or self._looking:  # (a probe's find_spec comes here too)
      return None
    self._looking = True
    try:
      spec = importlib.util.find_spec(name)
    finally:
      self._looking = False
    if spec is None or spec.loader is None:
      return None
    spec.loader = _QuietLoader(spec.loader)
    return spec


def _no_accelerator_devices() -> bool:
  if not sys.platform.startswith("linux"):
    return False
  return not any(glob.glob(p) for p in ("/dev/nvidia*", "/dev/kfd", "/dev/accel*",
                                        "/dev/vfio/[0-9]*"))


def setup() -> None:
  """Idempotent; call before jax or tensorflow is imported."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
  if ("JAX_PLATFORMS" not in os.environ and "jax" not in sys.modules
      and _no_accelerator_devices()
      and any(importlib.util.find_spec(p) for p in ("jax_cuda12_plugin", "jax_cuda13_plugin",
                                                  "libtpu"))):
    os.environ["JAX_PLATFORMS"] = "cpu"
  if "tensorflow" not in sys.modules and not any(
      isinstance(f, _QuietTensorflow) for f in sys.meta_path):
    sys.meta_path.insert(0, _QuietTensorflow())
