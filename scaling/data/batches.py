"""Training and evaluation batches as pure functions of (seed, step).

The token stream of a split is cut into chunks of seq_len + 1 tokens. Global
example g = step·B + b is chunk perm_e[g mod M] of epoch e = g div M, where
perm_e is a permutation drawn from (seed, e). A resumed run, or a run with any
number of processes, sees exactly the same global batch at every step.
"""

from __future__ import annotations

import functools

import numpy as np


class Batches:
  """Batches of (inputs, targets), each int32 of shape [rows, seq_len]."""

  def __init__(self, tokens: np.ndarray, seq_len: int, batch_size: int, seed: int):
    self.tokens = tokens
    self.seq_len = seq_len
    self.batch_size = batch_size
    self.seed = seed
    self.n_chunks = len(tokens) // (seq_len + 1)
    if self.n_chunks < 1:
      raise ValueError(f"split has {len(tokens)} tokens, fewer than one sequence of "
                       f"{seq_len + 1}; use more data or a shorter data.seq_len")

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
    per = self.batch_size // process_count
    rows = slice(process_index * per, (process_index + 1) * per)
    return self.gather(self.chunk_ids(step, rows))


def eval_batches(tokens: np.ndarray, seq_len: int, batch_size: int, n_batches: int):
  """A fixed set of validation batches (the same at every evaluation)."""
  source = Batches(tokens, seq_len, batch_size, seed=0)
  needed = n_batches * batch_size
  if needed > source.n_chunks:
    raise ValueError(
        f"eval.batches={n_batches} x train.batch_size={batch_size} needs {needed} "
        f"validation sequences, the split has {source.n_chunks}; lower eval.batches")
  order = source.permutation(0)
  return [source.gather(order[i * batch_size:(i + 1) * batch_size])
          for i in range(n_batches)]
