"""The token store: each split tokenised once into a flat array on disk.

Layout of one store (a directory under the cache dir):
  manifest.json    source, fingerprint, vocab, dtype, per split: tokens,
                   documents, bytes, sha256 of the array file
  train.bin        uint16/uint32 token ids, documents joined, each ending in EOS
  validation.bin

A store is built in a temporary directory and renamed into place, under a file
lock, so two processes never both build it and a reader never sees half of
one. Reading needs only NumPy (no TensorFlow). The manifest also reports the
invalid UTF-8 bytes that were replaced while reading the source.
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

from scaling.data import seqio_tokenize
from scaling.data.errors import DataError
from scaling.data.sources import SPLITS, TextSource

FORMAT = 1
_MAX_LISTED_FILES = 20


class StoreError(DataError):
  """A store on disk that does not match its manifest, or that cannot be built."""


def default_cache_dir() -> str:
  return os.environ.get("SCALING_CACHE") or os.path.join(
      os.path.expanduser("~"), ".cache", "scaling")


def tokenizer_name(vocab, use_seqio: bool | None = None) -> str:
  """Which implementation tokenises: seqio's (TF) or the vocab's own Python one."""
  if use_seqio is None:
    use_seqio = seqio_tokenize.seqio_available()
  return "seqio" if use_seqio else "python"


def store_dirname(source: TextSource, vocab, use_seqio: bool | None = None) -> str:
  """The store's directory name. For SentencePiece the tokenizer is part of the
  key: seqio's (tensorflow-text) and the sentencepiece package break ties
  between equally likely segmentations differently (e.g. '***' as '*','**' or
  '**','*'), so their ids can differ in a few places."""
  slug = re.sub(r"[^0-9a-zA-Z_.-]", "_", source.name)[:40]
  key = f"{source.fingerprint}|{vocab.name}"
  if vocab.name != "byte":
    key += "|" + tokenizer_name(vocab, use_seqio)
  key = hashlib.sha256(key.encode()).hexdigest()[:12]
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

  @property
  def source(self) -> str:
    return self.manifest["source"]

  def verify(self, *, checksums: bool = True) -> None:
    """Raises StoreError if an array file is truncated or altered."""
    itemsize = np.dtype(self.manifest["dtype"]).itemsize
    what = f"the token store of {self.manifest['source']} ({self.manifest['vocab']})"
    fix = f"delete {self.path} (or run scaling-data build --force) to rebuild it"
    for split, info in self.manifest["splits"].items():
      path = os.path.join(self.path, f"{split}.bin")
      size = os.path.getsize(path) if os.path.exists(path) else -1
      if size != info["tokens"] * itemsize:
        state = "is missing" if size < 0 else f"has {size:,} bytes"
        raise StoreError(f"{what} is truncated: {split}.bin {state}, its manifest says "
                         f"{info['tokens'] * itemsize:,}; {fix}")
      if checksums and _sha256(path) != info["sha256"]:
        raise StoreError(f"{what} fails its checksum: {split}.bin was altered; {fix}")


def _write_split(directory, source, vocab, split, dtype, progress, use_seqio):
  path = os.path.join(directory, f"{split}.bin")
  h = hashlib.sha256()
  tokens = docs = n_bytes = 0
  start = last = time.time()
  tty = sys.stderr.isatty()
  cr = "\r" if tty else ""
  with open(path, "wb") as f:
    for ids, doc_bytes in seqio_tokenize.tokenized_documents(
        source, vocab, split, use_seqio=use_seqio):
      data = np.asarray(ids, dtype=dtype).tobytes()
      f.write(data)
      h.update(data)
      tokens += len(ids)
      docs += 1
      n_bytes += doc_bytes
      if progress and docs % 500 == 0 and (tty or time.time() - last >= 30):
        last = time.time()
        rate = tokens / max(last - start, 1e-9)
        print(f"{cr}  {split}: {docs:,} documents, {tokens:,} tokens "
              f"({rate / 1e3:.0f}K tok/s)", end="" if tty else "\n", file=sys.stderr,
              flush=True)
  if progress:
    print(f"{cr}  {split}: {docs:,} documents, {tokens:,} tokens "
          f"in {time.time() - start:.1f}s", file=sys.stderr)
  return {"tokens": tokens, "documents": docs, "bytes": n_bytes, "sha256": h.hexdigest()}


def store_path(source: TextSource, vocab, cache_dir: str | None = None,
               use_seqio: bool | None = None) -> str:
  return os.path.join(cache_dir or default_cache_dir(),
                      store_dirname(source, vocab, use_seqio))


def find_store(source: TextSource, vocab, cache_dir: str | None = None) -> Store | None:
  """The store of (source, vocab) if it is built, else None (builds nothing)."""
  path = store_path(source, vocab, cache_dir)
  return open_store(path) if os.path.exists(os.path.join(path, "manifest.json")) else None


def _invalid_utf8_report(source: TextSource) -> dict:
  files = source.stats.get("invalid_utf8_bytes", {})
  top = sorted(files.items(), key=lambda kv: -kv[1])[:_MAX_LISTED_FILES]
  return {"invalid_utf8_bytes": sum(files.values()), "invalid_utf8_files": dict(top)}


def build_store(source: TextSource, vocab, cache_dir: str | None = None, *,
                progress: bool = True, use_seqio: bool | None = None,
                force: bool = False) -> Store:
  """Opens the store of (source, vocab), building it first if needed (or if
  `force`). Another process building the same store is waited for, not raced."""
  cache_dir = cache_dir or default_cache_dir()
  os.makedirs(cache_dir, exist_ok=True)
  if use_seqio is None:
    use_seqio = seqio_tokenize.seqio_available() or source.needs_seqio
  final = store_path(source, vocab, cache_dir, use_seqio)
  manifest_path = os.path.join(final, "manifest.json")
  with locked(final + ".lock"):
    if force and os.path.exists(final):
      shutil.rmtree(final)
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
            raise StoreError(f"{source.name} has no {split} documents"
                             + (f": {source.split_hint}" if source.split_hint else
                                "; use a source with more text"))
        report = _invalid_utf8_report(source)
        if report["invalid_utf8_bytes"] and progress:
          print(f"warning: {source.name}: {report['invalid_utf8_bytes']:,} bytes of invalid "
                f"UTF-8 replaced with U+FFFD (worst: "
                f"{', '.join(f'{k} ({v})' for k, v in list(report['invalid_utf8_files'].items())[:3])})",
                file=sys.stderr)
        manifest = {
            "format": FORMAT, "source": source.name, "fingerprint": source.fingerprint,
            "vocab": vocab.name, "vocab_spec": getattr(vocab, "spec", vocab.name),
            "vocab_size": vocab.vocab_size, "eos_id": vocab.eos_id,
            "dtype": dtype, "splits": splits, **report,
            "tokenizer": tokenizer_name(vocab, use_seqio),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        with open(os.path.join(tmp, "manifest.json"), "w") as f:
          json.dump(manifest, f, indent=1)
        os.rename(tmp, final)
      except OSError as e:  # a full disk or a file-size limit: nothing half-built is kept
        shutil.rmtree(tmp, ignore_errors=True)
        raise StoreError(f"cannot build the token store {final}: {e.strerror or e}; free space "
                         f"in {cache_dir} (or set data.cache_dir / SCALING_CACHE elsewhere) "
                         "and rerun") from None
      except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
  return open_store(final)


# Stores up to this size are checksummed every time they are opened (about a
# second per GiB); larger ones get the size check, and `scaling-data info
# --checksums` on demand.
CHECKSUM_ON_OPEN_BYTES = 1 << 30


def open_store(path: str, *, checksums: bool | None = None) -> Store:
  """Opens a store, refusing one whose files disagree with its manifest.

  checksums: True/False, or None for "when the store is small enough"."""
  manifest_path = os.path.join(path, "manifest.json")
  if not os.path.exists(manifest_path):
    raise StoreError(f"{path} is not a token store (no manifest.json); give the path of "
                     "one that `scaling-data list` shows")
  try:
    with open(manifest_path) as f:
      manifest = json.load(f)
  except (json.JSONDecodeError, UnicodeDecodeError):
    raise StoreError(f"the token store {path} has a damaged manifest.json; delete {path} "
                     "to rebuild it") from None
  store = Store(path=path, manifest=manifest)
  if checksums is None:
    size = sum(info["tokens"] for info in manifest["splits"].values()) * \
        np.dtype(manifest["dtype"]).itemsize
    checksums = size <= CHECKSUM_ON_OPEN_BYTES
  store.verify(checksums=checksums)
  return store


def list_stores(cache_dir: str | None = None) -> list[tuple[str, dict | None]]:
  """(path, manifest or None if unreadable) of every store in the cache dir."""
  cache_dir = cache_dir or default_cache_dir()
  if not os.path.isdir(cache_dir):
    return []
  out = []
  for name in sorted(os.listdir(cache_dir)):
    path = os.path.join(cache_dir, name)
    if name.startswith(".") or name == "spm" or not os.path.isdir(path):
      continue
    try:
      with open(os.path.join(path, "manifest.json")) as f:
        out.append((path, json.load(f)))
    except (OSError, json.JSONDecodeError):
      out.append((path, None))
  return out


class LockBusy(RuntimeError):
  """`locked(..., wait=S)` found the lock still held after S seconds."""

  def __init__(self, lock_path: str, holder: str):
    super().__init__(f"{lock_path} is held by {holder or 'another process'}")
    self.holder = holder


@contextlib.contextmanager
def locked(lock_path: str, *, wait: float | None = None, holder: str = ""):
  """An exclusive advisory lock on `lock_path`, held while the block runs.

  flock: the kernel releases it when the holder exits or is killed, so a dead
  process never blocks the next one. wait=None waits for as long as it takes;
  otherwise LockBusy (naming the holder) after `wait` seconds. `holder` (who
  holds it: pid, host) is written into the file while held.
  """
  with open(lock_path, "a") as lock:
    deadline = None if wait is None else time.monotonic() + wait
    while True:
      try:
        fcntl.flock(lock, fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
        break
      except BlockingIOError:
        if time.monotonic() >= deadline:
          with open(lock_path, errors="replace") as f:
            raise LockBusy(lock_path, f.read().strip()) from None
        time.sleep(0.2)
    try:
      if holder:
        lock.truncate(0)
        lock.write(holder)
        lock.flush()
      yield
    finally:
      if holder:
        lock.truncate(0)
      fcntl.flock(lock, fcntl.LOCK_UN)
