"""Data: text sources, vocabularies, the token store and batches."""

from __future__ import annotations

from scaling.data.errors import DataError
from scaling.data.sources import get_source
from scaling.data.store import Store, build_store
from scaling.data.vocab import get_vocab

__all__ = ["DataError", "Store", "build_store", "get_source", "get_vocab"]
