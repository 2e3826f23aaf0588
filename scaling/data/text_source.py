"""What every text source is: a TextSource, its SourceOptions, the two splits.

The source modules (text_files.py, tfds_source.py, seqio_source.py) build
TextSources; sources.py names them by spec. Both import this module, so the
factory can import the sources at the top.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Callable, Iterator

SPLITS = ("train", "validation")
VALIDATION_EVERY = 20  # one document in 20 is held out
TEXT_DOCUMENTS = ("paragraph", "file", "line")


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
