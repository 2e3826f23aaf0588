"""Training and evaluation batches as pure functions of (seed, step).

The token stream of a split (or its first `max_tokens` tokens, the dataset size
D) is cut into chunks of seq_len + 1 tokens. Global example g = step·B + b is
chunk perm_e[g mod M] of epoch e = g div M, where perm_e is a permutation drawn
from (seed, e). A resumed run, or a run with any number of processes, sees
exactly the same global batch at every step, and a run with a smaller D sees a
prefix of the tokens of a run with a larger one.
"""

from __future__ import annotations

import functools

import numpy as np

from scaling.data.errors import DataError


class Batches:
  """Batches of (inputs, targets), each int32 of shape [rows, seq_len]."""

  def __init__(self, tokens: np.ndarray, seq_len: int, batch_size: int, seed: int, *,
               max_tokens: int = 0, source: str = "the data", split: str = "train"):
    if max_tokens:
      if max_tokens > len(tokens):
        raise DataError(
            f"data.max_train_tokens={max_tokens:,} but the {split} split of {source} has "
            f"{len(tokens):,} tokens; use at most {len(tokens):,} (or 0 for all of it)")
      tokens = tokens[:max_tokens]
    self.tokens = tokens
    self.seq_len = seq_len
    self.batch_size = batch_size
    self.seed = seed
    self.n_chunks = len(tokens) // (seq_len + 1)
    if self.n_chunks < 1:
      raise DataError(f"the {split} split of {source} has {len(tokens):,} tokens, fewer "
                      f"than one sequence of {seq_len + 1}; use more text"
                      + (", a larger data.max_train_tokens" if max_tokens else "")
                      + " or a shorter data.seq_len")

  @property
  def tokens_available(self) -> int:
    """Tokens that batches are drawn from (whole chunks of the prefix)."""
    return self.n_chunks * (self.seq_len + 1)

  @functools.lru_cache(maxsize=2)
  def permutation(self, epoch: int) -> np.ndarray:
    return np.random.default_rng([self.seed, epoch]).permutation(self.n_chunks)

  def chunk_ids(self, step: int, rows: slice | None = None) -> np.ndarray:
    g = step * self.batch_size + np.arange(self.batch_size)[rows or slice(None)]
    epochs, within = np.divmod(g, self.n_chunks)
    return np.array([self.permutation(e)[i] for e, i in zip(epochs, within)])

  def epoch(self, step: int) -> float:
    """Epochs completed after `step` steps (fractional)."""
    return step * self.batch_size / self.n_chunks

  def gather(self, chunk_ids: np.ndarray) -> dict[str, np.ndarray]:
    width = self.seq_len + 1
    rows = np.stack([np.asarray(self.tokens[c * width:(c + 1) * width]) for c in chunk_ids])
    rows = rows.astype(np.int32)
    return {"inputs": rows[:, :-1], "targets": rows[:, 1:]}

  def __call__(self, step: int, process_index: int = 0, process_count: int = 1):
    """The rows of global batch `step` that belong to this process."""
    return self.gather(self.chunk_ids(step, process_rows(self.batch_size, process_index,
                                                         process_count)))


def process_rows(batch_size: int, process_index: int, process_count: int) -> slice:
  """This process's rows of a global batch: contiguous, equal shares."""
  per = batch_size // process_count
  return slice(process_index * per, (process_index + 1) * per)


def eval_batches(tokens: np.ndarray, seq_len: int, batch_size: int, n_batches: int, *,
                 process_index: int = 0, process_count: int = 1, clip: bool = False,
                 source: str = "the data", split: str = "validation"):
  """A fixed set of evaluation batches (the same at every evaluation), each
  this process's rows. With `clip`, fewer batches where the split is short."""
  try:
    chunks = Batches(tokens, seq_len, batch_size, seed=0, source=source, split=split)
  except DataError:
    chunks = None
  available = chunks.n_chunks // batch_size if chunks else 0
  if available < 1 or (available < n_batches and not clip):
    have = chunks.n_chunks if chunks else 0
    fix = "lower eval.batches" if available >= 1 else (
        "use more text, a smaller train.batch_size or a shorter data.seq_len")
    needed = batch_size if clip else n_batches * batch_size
    raise DataError(
        f"{'one batch' if clip else f'eval.batches={n_batches}'} x train.batch_size="
        f"{batch_size} needs {needed} sequences of {seq_len + 1} tokens, the {split} split "
        f"of {source} has {have}; {fix}")
  order = chunks.permutation(0)
  rows = process_rows(batch_size, process_index, process_count)
  return [chunks.gather(order[i * batch_size:(i + 1) * batch_size][rows])
          for i in range(min(n_batches, available))]


def window_batches(tokens: np.ndarray, seq_len: int, batch_size: int, stride: int,
                   span: int, *, process_index: int = 0, process_count: int = 1,
                   source: str = "the data", split: str = "validation"):
  """Batches of overlapping windows for per-position loss: a window of
  seq_len + 1 tokens starts every `stride` tokens of the split's first `span`
  tokens. Each position T then scores nearly the same target tokens as every
  other, so differences between positions measure context, not which tokens
  happened to land there. Whole batches only; each batch holds this process's rows.
  Raises DataError at once if there is not one batch; yields the batches lazily."""
  span = min(span, len(tokens))
  starts = np.arange(0, span - seq_len, stride)
  n_batches = len(starts) // batch_size
  if n_batches < 1:
    raise DataError(
        f"eval.position_stride={stride} gives {len(starts)} windows of {seq_len + 1} tokens in "
        f"the {split} split of {source}, fewer than one batch of {batch_size}; use a smaller "
        "eval.position_stride or more evaluation text")
  rows = process_rows(batch_size, process_index, process_count)

  def batches():  # built as they are read: windows overlap, so they outweigh the text
    for i in range(n_batches):
      batch = np.stack([np.asarray(tokens[s:s + seq_len + 1])
                        for s in starts[i * batch_size:(i + 1) * batch_size][rows]])
      batch = batch.astype(np.int32)
      yield {"inputs": batch[:, :-1], "targets": batch[:, 1:]}

  return batches()
