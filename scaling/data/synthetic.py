"""`synthetic`: uniformly random tokens for benchmarks.

No documents, no TensorFlow, no token store: global batch `step` is drawn from
a generator seeded with (seed, step), so it is the same for any number of
processes and on resume. Ids are in [0, model.vocab_size) (default
SYNTHETIC_VOCAB_SIZE, GPT-2's 50257, as in the paper). Bits per byte are not
defined for it and are reported as NaN.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from scaling.data.batches import process_rows

SYNTHETIC_VOCAB_SIZE = 50257
_EVAL_STREAM = 1 << 30  # eval batches come from another stream than training's


class SyntheticBatches:
  """The same interface as Batches, over an endless stream of random tokens."""

  tokens_available = None  # unlimited
  n_chunks = None

  def __init__(self, vocab_size: int, seq_len: int, batch_size: int, seed: int):
    self.vocab_size, self.seq_len = vocab_size, seq_len
    self.batch_size, self.seed = batch_size, seed

  def epoch(self, step: int) -> None:
    del step
    return None

  def global_batch(self, step: int) -> np.ndarray:
    rng = np.random.default_rng([self.seed, step])
    return rng.integers(0, self.vocab_size, size=(self.batch_size, self.seq_len + 1),
                        dtype=np.int32)

  def __call__(self, step: int, process_index: int = 0, process_count: int = 1):
    rows = self.global_batch(step)[process_rows(self.batch_size, process_index,
                                                process_count)]
    return {"inputs": rows[:, :-1], "targets": rows[:, 1:]}


@dataclasses.dataclass(frozen=True)
class SyntheticData:
  """What open_dataset returns for `synthetic` (in place of a Store)."""

  vocab_size: int
  source: str = "synthetic"

  def tokens_per_byte(self, split: str) -> float:
    del split
    return math.nan

  def train_batches(self, seq_len, batch_size, seed) -> SyntheticBatches:
    return SyntheticBatches(self.vocab_size, seq_len, batch_size, seed)

  def eval_batches(self, seq_len, batch_size, n_batches, process_index=0, process_count=1):
    stream = SyntheticBatches(self.vocab_size, seq_len, batch_size, _EVAL_STREAM)
    return [stream(i, process_index, process_count) for i in range(n_batches)]
