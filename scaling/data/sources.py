"""Text sources: where documents come from, split into train and validation.

A source is named by a spec string (`data.source`, an `eval.datasets` entry):
  embedded                      English prose shipped with every Python
  text:PATH[,PATH...]           the user's own files, globs or directories (.gz too)
  tfds:NAME[/CONFIG][:VERSION]  a TFDS text dataset, read through seqio.TfdsDataSource
  seqio:[MODULE:]TASK           a registered seqio Task or Mixture (ours are in scaling/data/tasks.py)
  nltk:CORPUS[,CORPUS][:tune]   corpora of an NLTK data directory (nltk_source.py)
  synthetic                     random tokens for benchmarks (no documents; see synthetic.py)

`embedded` is the `pydoc_data` help topics and the standard library's
docstrings (read with `ast`, nothing imported or downloaded). For `embedded`
and `text:` each document goes to validation when a hash of its text says so,
so the splits never share a document; TFDS and seqio sources have their own
splits. Only `tfds:` and `seqio:` import TensorFlow, and only when their
documents are read (never to open an existing token store).

The types every source module shares (TextSource, SourceOptions, the splits)
are in text_source.py, so the source modules import that and this module, the
factory, imports them.
"""

from __future__ import annotations

import ast
import os
import sys
import sysconfig
from typing import Iterator

from scaling.data import nltk_source, seqio_source, text_files, tfds_source
from scaling.data.errors import DataError
from scaling.data.text_source import (SPLITS, TEXT_DOCUMENTS, VALIDATION_EVERY,  # pylint: disable=unused-import
                                      SourceOptions, TextSource, is_validation,
                                      split_documents)

KINDS = ("embedded", "text:PATH", "tfds:NAME", "seqio:TASK", "nltk:CORPUS", "synthetic")
_MIN_DOC_CHARS = 100
_SKIP_DIRS = frozenset({"site-packages", "dist-packages", "test", "tests", "idlelib",
                        "__pycache__", "lib2to3", "turtledemo", "ensurepip"})


def stdlib_docstrings() -> Iterator[str]:
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


def pydoc_topics() -> Iterator[str]:
  from pydoc_data import topics  # pylint: disable=g-import-not-at-top
  for key in sorted(topics.topics):
    yield topics.topics[key]


def embedded() -> TextSource:
  version = ".".join(map(str, sys.version_info[:3]))
  def documents(split):
    def all_docs():
      yield from pydoc_topics()
      yield from stdlib_docstrings()
    return split_documents(all_docs(), split)
  return TextSource(name="embedded", fingerprint=f"embedded-py{version}-v1",
                    documents=documents)


def spec_error(spec) -> str | None:
  """Why `spec` is not a source spec (checked before anything runs), or None."""
  if not isinstance(spec, str) or not spec.strip():
    return f"source {spec!r} is empty; use one of {', '.join(KINDS)}"
  if spec in ("embedded", "synthetic"):
    return None
  kind, sep, rest = spec.partition(":")
  if not sep or kind not in ("text", "tfds", "seqio", "nltk"):
    return f"source {spec!r} is unknown; use one of {', '.join(KINDS)}"
  if not rest.strip(" ,"):
    return f"source {spec!r} names nothing after '{kind}:'; e.g. {kind}:" + {
        "text": "book.txt", "tfds": "lm1b", "seqio": "scaling_pydoc_topics",
        "nltk": "brown,abc"}[kind]
  return None


def get_source(spec: str, options: SourceOptions | None = None) -> TextSource:
  """The TextSource named by `spec`; raises DataError for a bad one."""
  options = options or SourceOptions()
  error = spec_error(spec)
  if error:
    raise DataError(error)
  if spec == "embedded":
    return embedded()
  if spec == "synthetic":
    raise DataError("source 'synthetic' is random tokens without documents; it can "
                    "only be data.source of a run, not an evaluation or store source")
  kind = spec.partition(":")[0]
  if kind == "text":
    return text_files.text_source(spec, options)
  if kind == "nltk":
    return nltk_source.nltk_source(spec, options)
  if kind == "tfds":
    return tfds_source.tfds_source(spec, options)
  return seqio_source.seqio_task_source(spec, options)
