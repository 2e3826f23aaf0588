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
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import os
import sys
import sysconfig
from typing import Any, Callable, Iterator

from scaling.data.errors import DataError

SPLITS = ("train", "validation")
VALIDATION_EVERY = 20  # one document in 20 is held out
TEXT_DOCUMENTS = ("paragraph", "file", "line")
KINDS = ("embedded", "text:PATH", "tfds:NAME", "seqio:TASK", "nltk:CORPUS", "synthetic")
_MIN_DOC_CHARS = 100
_SKIP_DIRS = frozenset({"site-packages", "dist-packages", "test", "tests", "idlelib",
                        "__pycache__", "lib2to3", "turtledemo", "ensurepip"})


@dataclasses.dataclass(frozen=True)
class SourceOptions:
  """The `data.*` settings that shape how a source's documents are read."""

  text_documents: str = "paragraph"  # text: one document per paragraph, file or line
  feature: str = ""                  # tfds:/seqio: text feature ("": auto)
  train_split: str = "train"         # tfds:/seqio: split (or TFDS slice) for training
  validation_split: str = ""         # tfds:/seqio: "" = validation, else test
  tfds_data_dir: str = ""            # tfds: "" = $TFDS_DATA_DIR or ~/tensorflow_datasets
  nltk_data: str = ""                # nltk: "" = $NLTK_DATA, then ~/nltk_data, ...

  @classmethod
  def from_config(cls, data_cfg) -> "SourceOptions":
    fields = {f.name: data_cfg.get(f.name, f.default) if hasattr(data_cfg, "get")
              else getattr(data_cfg, f.name, f.default)
              for f in dataclasses.fields(cls)}
    return cls(**fields)


@dataclasses.dataclass(frozen=True)
class TextSource:
  """Documents of one named source, with a fingerprint of their content.

  `seqio_source`, when set, returns (seqio DataSource, preprocessors) yielding
  {"text": string} examples; otherwise seqio wraps `documents`. `stats` is
  filled while documents are read (e.g. invalid UTF-8 bytes per file).
  """

  name: str
  fingerprint: str
  documents: Callable[[str], Iterator[str]]  # split -> documents
  seqio_source: Callable[[], tuple[Any, list]] | None = None
  needs_seqio: bool = False
  split_hint: str = ""  # how to get a non-empty split, for error messages
  data_hint: str = ""   # how to make missing data available
  stats: dict = dataclasses.field(default_factory=dict, compare=False)


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


def is_validation(text: str) -> bool:
  digest = hashlib.sha1(text.encode("utf-8")).digest()
  return int.from_bytes(digest[:4], "little") % VALIDATION_EVERY == 0


def split_documents(docs: Iterator[str], split: str, *, dedupe: bool = True) -> Iterator[str]:
  """Yields the (stripped, non-empty) documents of `docs` that belong to `split`;
  with `dedupe`, each distinct text once."""
  if split not in SPLITS:
    raise ValueError(f"split {split!r} is unknown; use one of {SPLITS}")
  seen = set()
  for doc in docs:
    doc = doc.strip()
    if not doc:
      continue
    if dedupe:
      key = hashlib.sha1(doc.encode("utf-8")).digest()
      if key in seen:
        continue
      seen.add(key)
    if is_validation(doc) == (split == "validation"):
      yield doc


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
    from scaling.data import text_files  # pylint: disable=g-import-not-at-top
    return text_files.text_source(spec, options)
  if kind == "nltk":
    from scaling.data import nltk_source  # pylint: disable=g-import-not-at-top
    return nltk_source.nltk_source(spec, options)
  from scaling.data import seqio_source, tfds_source  # pylint: disable=g-import-not-at-top
  if kind == "tfds":
    return tfds_source.tfds_source(spec, options)
  return seqio_source.seqio_task_source(spec, options)
