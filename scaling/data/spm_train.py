"""SentencePiece models trained offline on a source's training split.

`spm:SIZE` trains a unigram model of SIZE pieces on (up to MAX_TRAIN_CHARS of)
the training split, once, and caches it under the cache dir keyed by the
source's fingerprint and SIZE; later runs and every sweep member reuse it.
A data-limited run (data.max_train_tokens = D) trains its model only on text
the run will see: the documents' first D bytes, counting one per document for
its EOS. Every token other than EOS covers at least one byte, so the run's
first D tokens cover all of that text whatever the model turns out to be. The
model keeps text as it is (identity normalisation, whitespace and newlines
kept, unknown characters as bytes), and uses T5's ids: pad 0, eos 1, unk 2.
Training is deterministic (its sentences are taken in order and the thread
count is fixed), so every host of a multi-host run trains the same model.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sys
import tempfile
import time
from typing import Iterator

from scaling.data.errors import DataError
from scaling.data.sources import TextSource
from scaling.data.store import default_cache_dir, locked

FORMAT = "spm-v1"
MAX_TRAIN_CHARS = 50_000_000
NUM_THREADS = 4        # fixed: the model depends on the thread count
_MAX_LINE_CHARS = 4096
MIN_SIZE = 260         # 256 bytes, pad/eos/unk and "\n"


def model_path(source: TextSource, size: int, cache_dir: str | None = None,
               max_bytes: int = 0) -> str:
  slug = re.sub(r"[^0-9a-zA-Z_.-]", "_", source.name)[:40]
  limit = f"|bytes={max_bytes}" if max_bytes else ""
  key = hashlib.sha256(f"{FORMAT}|{source.fingerprint}|{size}{limit}".encode()).hexdigest()[:12]
  name = f"{slug}-{size}" + (f"-d{max_bytes}" if max_bytes else "")
  return os.path.join(cache_dir or default_cache_dir(), "spm", f"{name}-{key}.model")


def _seen_text(source: TextSource, max_bytes: int) -> Iterator[str]:
  """The training split's documents, cut to the first `max_bytes` bytes (one
  per document for its EOS) when max_bytes > 0."""
  left = max_bytes
  for doc in source.documents("train"):
    if max_bytes:
      left -= 1  # the document's EOS token
      if left <= 0:
        return
      data = doc.encode("utf-8")
      doc = data[:left].decode("utf-8", errors="ignore")
      left -= len(data)
    yield doc


def _sentences(source: TextSource, stats: dict, max_bytes: int = 0) -> Iterator[str]:
  chars = 0
  for doc in _seen_text(source, max_bytes):
    for line in doc.split("\n"):
      for i in range(0, len(line), _MAX_LINE_CHARS):
        piece = line[i:i + _MAX_LINE_CHARS]
        if not piece.strip():
          continue
        chars += len(piece)
        stats["sentences"] = stats.get("sentences", 0) + 1
        stats["chars"] = chars
        yield piece
        if chars >= MAX_TRAIN_CHARS:
          return


def train_model(source: TextSource, size: int, max_bytes: int = 0) -> tuple[bytes, dict]:
  """Trains a model on `source`'s training split (its first `max_bytes` bytes if
  > 0); returns (model bytes, stats)."""
  import sentencepiece as spm  # pylint: disable=g-import-not-at-top
  stats: dict = {}
  out = io.BytesIO()
  try:
    spm.SentencePieceTrainer.train(
        sentence_iterator=_sentences(source, stats, max_bytes), model_writer=out,
        vocab_size=size, model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        byte_fallback=True, normalization_rule_name="identity",
        remove_extra_whitespaces=False, user_defined_symbols=["\n"],
        character_coverage=0.9995, input_sentence_size=0,
        max_sentence_length=4 * _MAX_LINE_CHARS, num_threads=NUM_THREADS, minloglevel=2)
  except RuntimeError as e:
    most = re.search(r"value <= (\d+)", str(e))
    if most:
      seen = (f"the first {max_bytes:,} bytes (data.max_train_tokens) of "
              if max_bytes else "")
      raise DataError(f"data.vocab=spm:{size} is more pieces than {seen}the training split "
                      f"of {source.name} supports (at most {most.group(1)}); use "
                      f"spm:{most.group(1)} or less, or more text") from None
    least = re.search(r"smaller than required_chars\. \d+ vs (\d+)", str(e))
    if least:
      raise DataError(f"data.vocab=spm:{size} is fewer pieces than the characters of "
                      f"{source.name} need ({least.group(1)}); use spm:{least.group(1)} "
                      "or more") from None
    if not stats.get("sentences"):
      raise DataError(f"data.vocab=spm:{size}: the training split of {source.name} has "
                      "no text to train SentencePiece on; use more text") from None
    raise DataError(f"data.vocab=spm:{size} on {source.name}: SentencePiece training "
                    f"failed ({str(e).splitlines()[0]}); try another size") from None
  return out.getvalue(), stats


def trained_model(source: TextSource, size: int, cache_dir: str | None = None, *,
                  progress: bool = False, max_bytes: int = 0) -> str:
  """The cached model of (source, size, max_bytes), trained first if needed; its path."""
  path = model_path(source, size, cache_dir, max_bytes)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with locked(path + ".lock"):
    if os.path.exists(path):
      return path
    if progress:
      seen = f" (its first {max_bytes:,} bytes: data.max_train_tokens)" if max_bytes else ""
      print(f"training SentencePiece spm:{size} on {source.name}{seen} -> {path}",
            file=sys.stderr, flush=True)
    start = time.time()
    data, stats = train_model(source, size, max_bytes)
    info = {"format": FORMAT, "source": source.name, "fingerprint": source.fingerprint,
            "size": size, "max_train_bytes": max_bytes or None, "sha256": hashlib.sha256(data).hexdigest(),
            "train_sentences": stats.get("sentences", 0), "train_chars": stats.get("chars", 0),
            "seconds": round(time.time() - start, 2),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    directory = os.path.dirname(path)
    for suffix, content in ((".json", json.dumps(info, indent=1).encode()), ("", data)):
      fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
      with os.fdopen(fd, "wb") as f:
        f.write(content)
      os.replace(tmp, path + suffix)  # the model last: its presence means complete
    if progress:
      print(f"  {stats.get('sentences', 0):,} lines, {stats.get('chars', 0):,} characters, "
            f"{time.time() - start:.1f}s", file=sys.stderr, flush=True)
  return path
