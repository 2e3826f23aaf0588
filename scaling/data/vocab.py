"""Vocabularies. `byte` is seqio's ByteVocabulary; a pure-Python twin with the
same ids (pad 0, eos 1, unk 2, byte b -> b + 3) serves where seqio is absent."""

from __future__ import annotations

import dataclasses

BYTE_OFFSET = 3


@dataclasses.dataclass(frozen=True)
class ByteVocab:
  """UTF-8 bytes shifted past the three special ids, exactly as seqio's."""

  name: str = "byte"
  vocab_size: int = 256 + BYTE_OFFSET
  pad_id: int = 0
  eos_id: int = 1
  unk_id: int = 2

  def encode(self, text: str) -> list[int]:
    return [b + BYTE_OFFSET for b in text.encode("utf-8")]

  def decode(self, ids) -> str:
    data = bytes(i - BYTE_OFFSET for i in ids if BYTE_OFFSET <= i < self.vocab_size)
    return data.decode("utf-8", errors="replace")

  def seqio(self):
    import seqio  # pylint: disable=g-import-not-at-top
    return seqio.ByteVocabulary()


VOCABS = ("byte",)


def get_vocab(spec: str) -> ByteVocab:
  if spec == "byte":
    return ByteVocab()
  raise ValueError(f"data.vocab={spec!r} is unknown; use one of {', '.join(VOCABS)}")
