"""Vocabularies (`data.vocab`).

  byte        seqio's ByteVocabulary: pad 0, eos 1, unk 2, byte b -> b + 3; a
              pure-Python twin gives the same ids where seqio is absent
  spm:SIZE    a SentencePiece model trained on the training split (spm_train.py)
  spm:PATH    an existing SentencePiece model, e.g. T5's
  gpt2        GPT-2's BPE through tiktoken (50257 ids; gpt2_vocab.py)
  gpt2:PATH   a BPE file in tiktoken's format

A vocabulary's `name` identifies its ids (for spm, by a hash of the model
file), so token stores are keyed by content, not by path. Nothing here imports
TensorFlow: SpmVocab tokenises with the sentencepiece package; `seqio()` gives
the seqio twin for building stores through seqio.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os

from scaling.data import gpt2_vocab
from scaling.data import spm_train
from scaling.data.errors import DataError
from scaling.data.spm_train import MIN_SIZE

BYTE_OFFSET = 3
VOCABS = ("byte", "spm:SIZE", "spm:PATH", "gpt2", "gpt2:PATH")


@dataclasses.dataclass(frozen=True)
class ByteVocab:
  """UTF-8 bytes shifted past the three special ids, exactly as seqio's."""

  name: str = "byte"
  vocab_size: int = 256 + BYTE_OFFSET
  pad_id: int = 0
  eos_id: int = 1
  unk_id: int = 2
  spec: str = "byte"
  path: str | None = None
  sha256: str | None = None

  def encode(self, text: str) -> list[int]:
    return [b + BYTE_OFFSET for b in text.encode("utf-8")]

  def decode(self, ids) -> str:
    data = bytes(i - BYTE_OFFSET for i in ids if BYTE_OFFSET <= i < self.vocab_size)
    return data.decode("utf-8", errors="replace")

  def seqio(self):
    import seqio  # pylint: disable=g-import-not-at-top
    return seqio.ByteVocabulary()


class SpmVocab:
  """A SentencePiece model file, used through the sentencepiece package."""

  def __init__(self, path: str, spec: str | None = None):
    import sentencepiece as spm  # pylint: disable=g-import-not-at-top
    self.spec = spec or f"spm:{path}"
    if not os.path.isfile(path):
      raise DataError(f"data.vocab={self.spec}: SentencePiece model {path!r} does not "
                      "exist; check the path, or use spm:SIZE to train one")
    with open(path, "rb") as f:
      data = f.read()
    try:
      self._sp = spm.SentencePieceProcessor(model_proto=data)
    except (RuntimeError, OSError, TypeError):
      raise DataError(f"data.vocab={self.spec}: {path!r} is not a SentencePiece model; "
                      "give a .model file") from None
    self.path = path
    self.sha256 = hashlib.sha256(data).hexdigest()
    self.vocab_size = self._sp.get_piece_size()
    self.pad_id, self.eos_id, self.unk_id = (
        max(self._sp.pad_id(), 0), self._sp.eos_id(), self._sp.unk_id())
    if self.eos_id < 0:
      raise DataError(f"data.vocab={self.spec}: the model {path!r} has no end-of-text "
                      "piece (eos_id is -1); use a model trained with an eos id")
    self.name = f"spm{self.vocab_size}-{self.sha256[:12]}"

  def encode(self, text: str) -> list[int]:
    return self._sp.encode(text)

  def decode(self, ids) -> str:
    return self._sp.decode([int(i) for i in ids if 0 <= i < self.vocab_size])

  def seqio(self):
    import seqio  # pylint: disable=g-import-not-at-top
    return seqio.SentencePieceVocabulary(self.path)

  def __repr__(self):
    return f"SpmVocab({self.path!r}, name={self.name!r})"


def _spm_size(spec: str) -> int | None:
  arg = spec.partition(":")[2].strip()
  return int(arg) if arg.isdigit() else None


def spec_error(spec) -> str | None:
  """Why `spec` is not a vocab spec (checked before anything runs), or None."""
  if spec == "byte":
    return None
  if gpt2_vocab.is_gpt2(spec):
    return gpt2_vocab.spec_error(spec)
  if not isinstance(spec, str) or not spec.startswith("spm:") or not spec[4:].strip():
    return f"data.vocab={spec!r} is unknown; use one of {', '.join(VOCABS)}"
  size = _spm_size(spec)
  if size is not None and size < MIN_SIZE:
    return f"data.vocab={spec} is too small; a SentencePiece vocab needs at least {MIN_SIZE}"
  if size is None and not os.path.isfile(os.path.expanduser(spec[4:].strip())):
    return (f"data.vocab={spec}: SentencePiece model {spec[4:].strip()!r} does not exist; "
            "check the path, or use spm:SIZE to train one")
  return None


def vocab_size_of(spec: str) -> int:
  """The number of ids of `spec`, without training anything."""
  error = spec_error(spec)
  if error:
    raise DataError(error)
  if spec == "byte":
    return ByteVocab().vocab_size
  if gpt2_vocab.is_gpt2(spec):
    return gpt2_vocab.vocab_size_of(spec)
  size = _spm_size(spec)
  return size if size is not None else SpmVocab(os.path.expanduser(spec[4:].strip()), spec).vocab_size


def get_vocab(spec: str, *, source=None, cache_dir: str | None = None,
              progress: bool = False, max_train_tokens: int = 0):
  """The vocabulary of `spec`; spm:SIZE trains on (or reuses the model of)
  `source`, only on the text its first `max_train_tokens` tokens cover if > 0."""
  error = spec_error(spec)
  if error:
    raise DataError(error)
  if spec == "byte":
    return ByteVocab()
  if gpt2_vocab.is_gpt2(spec):
    return gpt2_vocab.Gpt2Vocab(spec)
  size = _spm_size(spec)
  if size is None:
    return SpmVocab(os.path.expanduser(spec[4:].strip()), spec)
  if source is None:
    raise DataError(f"data.vocab={spec} is trained on a source; none was given")
  return SpmVocab(spm_train.trained_model(source, size, cache_dir, progress=progress,
                                          max_bytes=max_train_tokens), spec)
