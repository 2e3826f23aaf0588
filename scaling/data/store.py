"""The token store: each split tokenised once into a flat array on disk.

Layout of one store (a directory under the cache dir):
  manifest.json    source, fingerprint, vocab, dtype, per split: tokens,
                   documents, bytes, sha256 of the array file
  train.bin        uint16/uint32 token ids, documents joined, each ending in EOS
  validation.bin

A store is built in a temporary directory and renamed into place, under a file
lock, so two processes never both build it and a reader never sees half of
one. Reading needs only NumPy (no TensorFlow).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time

import numpy as np

from scaling.data import seqio_tasks
from scaling.data.sources import SPLITS, TextSource

FORMAT = 1


class StoreError(ValueError):
  """A store on disk that does not match its manifest."""


def default_cache_dir() -> str:
  return os.environ.get("SCALING_CACHE") or os.path.join(
      os.path.expanduser("~"), ".cache", "scaling")


def store_dirname(source: TextSource, vocab) -> str:
  slug = re.sub(r"[^0-9a-zA-Z_.-]", "_", source.name)[:40]
  key = hashlib.sha256(f"{source.fingerprint}|{vocab.name}".encode()).hexdigest()[:12]
  return f"{slug}-{vocab.name}-{key}"


def _sha256(path: str) -> str:
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 22), b""):
      h.update(chunk)
  return h.hexdigest()


@dataclasses.dataclass
class Store:
  """An opened token store."""

  path: str
  manifest: dict

  @property
  def vocab_size(self) -> int:
    return self.manifest["vocab_size"]

  def tokens(self, split: str) -> np.ndarray:
    """The split's token ids, memory-mapped (read-only)."""
    info = self.manifest["splits"][split]
    return np.memmap(os.path.join(self.path, f"{split}.bin"),
                     dtype=self.manifest["dtype"], mode="r", shape=(info["tokens"],))

  def tokens_per_byte(self, split: str) -> float:
    info = self.manifest["splits"][split]
    return info["tokens"] / max(info["bytes"], 1)

  def verify(self, *, checksums: bool = True) -> None:
    """Raises StoreError if an array file is truncated or altered."""
    itemsize = np.dtype(self.manifest["dtype"]).itemsize
    for split, info in self.manifest["splits"].items():
      path = os.path.join(self.path, f"{split}.bin")
      size = os.path.getsize(path) if os.path.exists(path) else -1
      if size != info["tokens"] * itemsize:
        raise StoreError(
            f"token store {path} has {size} bytes, its manifest says "
            f"{info['tokens'] * itemsize}; delete {self.path} to rebuild it")
      if checksums and _sha256(path) != info["sha256"]:
        raise StoreError(
            f"token store {path} fails its checksum; delete {self.path} to rebuild it")


def _write_split(directory, source, vocab, split, dtype, progress, use_seqio):
  path = os.path.join(directory, f"{split}.bin")
  h = hashlib.sha256()
  tokens = docs = n_bytes = 0
  start = time.time()
  with open(path, "wb") as f:
    for ids, doc_bytes in seqio_tasks.tokenized_documents(
        source, vocab, split, use_seqio=use_seqio):
      data = np.asarray(ids, dtype=dtype).tobytes()
      f.write(data)
      h.update(data)
      tokens += len(ids)
      docs += 1
      n_bytes += doc_bytes
      if progress and docs % 500 == 0:
        rate = tokens / max(time.time() - start, 1e-9)
        print(f"\r  {split}: {docs} documents, {tokens:,} tokens "
              f"({rate / 1e3:.0f}K tok/s)", end="", file=sys.stderr, flush=True)
  if progress:
    print(f"\r  {split}: {docs} documents, {tokens:,} tokens", file=sys.stderr)
  return {"tokens": tokens, "documents": docs, "bytes": n_bytes, "sha256": h.hexdigest()}


def build_store(source: TextSource, vocab, cache_dir: str | None = None, *,
                progress: bool = True, use_seqio: bool | None = None) -> Store:
  """Opens the store of (source, vocab), building it first if needed."""
  cache_dir = cache_dir or default_cache_dir()
  os.makedirs(cache_dir, exist_ok=True)
  final = os.path.join(cache_dir, store_dirname(source, vocab))
  manifest_path = os.path.join(final, "manifest.json")
  with _locked(final + ".lock"):
    if not os.path.exists(manifest_path):
      if os.path.exists(final):  # a directory without manifest is not a store
        shutil.rmtree(final)
      dtype = "uint16" if vocab.vocab_size <= 1 << 16 else "uint32"
      tmp = tempfile.mkdtemp(prefix=".building-", dir=cache_dir)
      try:
        if progress:
          print(f"building token store {final}", file=sys.stderr)
        splits = {s: _write_split(tmp, source, vocab, s, dtype, progress, use_seqio)
                  for s in SPLITS}
        for split, info in splits.items():
          if info["tokens"] == 0:
            raise StoreError(f"data.source={source.name!r} has no {split} documents")
        manifest = {
            "format": FORMAT, "source": source.name, "fingerprint": source.fingerprint,
            "vocab": vocab.name, "vocab_size": vocab.vocab_size, "eos_id": vocab.eos_id,
            "dtype": dtype, "splits": splits,
            "tokenizer": "seqio" if (use_seqio if use_seqio is not None
                                     else seqio_tasks.seqio_available()) else "python",
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        with open(os.path.join(tmp, "manifest.json"), "w") as f:
          json.dump(manifest, f, indent=1)
        os.rename(tmp, final)
      except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
  return open_store(final)


def open_store(path: str, *, checksums: bool = False) -> Store:
  manifest_path = os.path.join(path, "manifest.json")
  if not os.path.exists(manifest_path):
    raise StoreError(f"{path} is not a token store (no manifest.json)")
  with open(manifest_path) as f:
    manifest = json.load(f)
  store = Store(path=path, manifest=manifest)
  store.verify(checksums=checksums)
  return store


@contextlib.contextmanager
def _locked(lock_path: str):
  with open(lock_path, "a") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(lock, fcntl.LOCK_UN)
