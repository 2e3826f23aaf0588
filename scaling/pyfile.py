"""Importing a Python file named on the command line: a config file
(configs/*.py), an experiment file (experiments/*.py) or a seqio task module
(seqio:PATH.py:TASK). The one loader all three go through."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from types import ModuleType


def load(path: str, kind: str, *, once: bool = False) -> ModuleType:
  """Executes `path` as a module registered under a name made from its path.

  `once`: a file already loaded is not executed again (seqio registries).
  FileNotFoundError if there is no such file; a failed import leaves nothing
  registered."""
  if not os.path.isfile(path):
    raise FileNotFoundError(f"{kind} file {path!r} does not exist")
  name = f"_scaling_{kind}_" + re.sub(r"\W", "_", os.path.abspath(path))
  if once and name in sys.modules:
    return sys.modules[name]
  module_spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(module_spec)
  sys.modules[name] = module
  try:
    module_spec.loader.exec_module(module)
  except BaseException:
    del sys.modules[name]
    raise
  return module
