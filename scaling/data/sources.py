"""Text sources: where documents come from, split into train and validation.

`embedded` is English prose shipped with every Python: the `pydoc_data` help
topics and the standard library's docstrings (read with `ast`, nothing imported
or downloaded). Documents are de-duplicated, then each goes to validation when
a hash of its text says so, so the splits never share a document.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import os
import sys
import sysconfig
from typing import Callable, Iterator

SPLITS = ("train", "validation")
VALIDATION_EVERY = 20  # one document in 20 is held out
_MIN_DOC_CHARS = 100
_SKIP_DIRS = frozenset({"site-packages", "dist-packages", "test", "tests", "idlelib",
                        "__pycache__", "lib2to3", "turtledemo", "ensurepip"})


@dataclasses.dataclass(frozen=True)
class TextSource:
  """Documents of one named source, with a fingerprint of their content."""

  name: str
  fingerprint: str
  documents: Callable[[str], Iterator[str]]  # split -> documents


def _stdlib_docstrings() -> Iterator[str]:
  root = sysconfig.get_paths()["stdlib"]
  for dirpath, dirnames, filenames in os.walk(root):
    dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
    for filename in sorted(filenames):
      if not filename.endswith(".py"):
        continue
      try:
        with open(os.path.join(dirpath, filename), encoding="utf-8") as f:
          tree = ast.parse(f.read())
      except (SyntaxError, UnicodeDecodeError, ValueError):
        continue
      for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                             ast.AsyncFunctionDef)):
          doc = ast.get_docstring(node)
          if doc and len(doc) >= _MIN_DOC_CHARS:
            yield doc


def _pydoc_topics() -> Iterator[str]:
  from pydoc_data import topics  # pylint: disable=g-import-not-at-top
  for key in sorted(topics.topics):
    yield topics.topics[key]


def is_validation(text: str) -> bool:
  digest = hashlib.sha1(text.encode("utf-8")).digest()
  return int.from_bytes(digest[:4], "little") % VALIDATION_EVERY == 0


def split_documents(docs: Iterator[str], split: str) -> Iterator[str]:
  """De-duplicates `docs` and yields those that belong to `split`."""
  if split not in SPLITS:
    raise ValueError(f"split {split!r} is unknown; use one of {SPLITS}")
  seen = set()
  for doc in docs:
    doc = doc.strip()
    key = hashlib.sha1(doc.encode("utf-8")).digest()
    if not doc or key in seen:
      continue
    seen.add(key)
    if is_validation(doc) == (split == "validation"):
      yield doc


def embedded() -> TextSource:
  version = ".".join(map(str, sys.version_info[:3]))
  def documents(split):
    def all_docs():
      yield from _pydoc_topics()
      yield from _stdlib_docstrings()
    return split_documents(all_docs(), split)
  return TextSource(name="embedded", fingerprint=f"embedded-py{version}-v1",
                    documents=documents)


SOURCES = ("embedded",)


def get_source(spec: str) -> TextSource:
  if spec == "embedded":
    return embedded()
  raise ValueError(f"data.source={spec!r} is unknown; use one of {', '.join(SOURCES)}")
