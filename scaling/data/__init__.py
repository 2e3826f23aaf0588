"""Data: text sources, vocabularies, the token store and batches."""

from __future__ import annotations

from scaling.data.sources import get_source
from scaling.data.store import Store, build_store
from scaling.data.vocab import get_vocab


def open_dataset(data_cfg, *, progress: bool = True) -> Store:
  """The token store for `data.source` and `data.vocab`, built on first use."""
  return build_store(get_source(data_cfg.source), get_vocab(data_cfg.vocab),
                     data_cfg.cache_dir or None, progress=progress)
