"""One error base: every error class of scaling/ is a UserError (one line, what
to fix), so each command line tool catches one type."""

import ast
import importlib
import os

from conftest import REPO, run_cli
from scaling.errors import UserError


def _error_classes():
  root = os.path.join(REPO, "scaling")
  for dirpath, _, files in os.walk(root):
    for f in sorted(files):
      if not f.endswith(".py"):
        continue
      path = os.path.join(dirpath, f)
      module = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".").removesuffix(".__init__")
      for node in ast.parse(open(path).read()).body:
        if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
          yield module, node.name


def test_every_error_class_of_the_library_is_a_user_error():
  found = list(_error_classes())
  assert len(found) >= 15
  for module, name in found:
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, UserError), f"{module}.{name} is not a scaling.errors.UserError"


def test_a_results_table_the_fit_cannot_read_is_one_line(tmp_path):
  bad = tmp_path / "results.jsonl"
  bad.write_text('{"name": "a"\n')
  out = run_cli("scaling.cli.fit", "law", "N", str(tmp_path))
  assert out.returncode == 2 and "Traceback" not in out.stderr
  assert out.stderr.startswith("error: ") and out.stderr.strip().count("\n") == 0
