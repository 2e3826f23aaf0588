"""The suite's own scheduling: the longest test files start first (tests/conftest.py)."""

import os

import conftest


class _Item:
  def __init__(self, nodeid):
    self.nodeid = nodeid


def test_longest_files_first_unknown_files_as_long_as_the_longest(monkeypatch):
  monkeypatch.setattr(conftest, "_file_costs", lambda: {"tests/a.py": 1.0, "tests/b.py": 5.0})
  items = [_Item(n) for n in ("tests/a.py::x", "tests/new.py::y", "tests/b.py::z", "tests/a.py::w")]
  conftest.pytest_collection_modifyitems(items)
  # b (5 s) and the unknown file (taken as 5 s) before a; a file's tests keep their order
  assert [i.nodeid for i in items] == ["tests/new.py::y", "tests/b.py::z", "tests/a.py::x",
                                       "tests/a.py::w"]


def test_the_recorded_durations_name_only_files_that_exist():
  costs = conftest._file_costs()  # pylint: disable=protected-access
  assert costs and all(os.path.exists(os.path.join(conftest.REPO, path)) for path in costs)
