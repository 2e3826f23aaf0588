"""seqio's view of a Gpt2Vocab, for building token stores through seqio (TFDS
sources); the tf ops call the same tiktoken encoder, so both paths agree."""

from __future__ import annotations

import numpy as np
import seqio
import tensorflow as tf


class SeqioGpt2(seqio.Vocabulary):
  """Wraps a Gpt2Vocab; EOS is <|endoftext|>, there is no UNK."""

  def __init__(self, vocab):
    self._vocab = vocab
    super().__init__(extra_ids=0)

  @property
  def eos_id(self) -> int:
    return self._vocab.eos_id

  @property
  def unk_id(self):
    return None

  @property
  def _base_vocab_size(self) -> int:
    return self._vocab.vocab_size

  def _encode(self, s):
    return self._vocab.encode(s)

  def _decode(self, ids):
    return self._vocab.decode(ids)

  def _encode_tf(self, s):
    def encode(text):
      text = text.item() if isinstance(text, np.ndarray) else text  # eager: a 0-d array
      return np.asarray(self._vocab.encode(text.decode("utf-8", errors="replace")), np.int32)
    ids = tf.numpy_function(encode, [s], tf.int32, stateful=False)
    ids.set_shape([None])
    return ids

  def _decode_tf(self, ids):
    def decode(values):
      return self._vocab.decode(values.tolist()).encode("utf-8")
    text = tf.numpy_function(decode, [ids], tf.string, stateful=False)
    text.set_shape([])
    return text

  def __eq__(self, other):
    return isinstance(other, SeqioGpt2) and other._vocab.sha256 == self._vocab.sha256

  def __hash__(self):
    return hash(self._vocab.sha256)
