"""Batches: the dataset size D as a prefix of the training split, epochs,
the global batch for any number of processes, and synthetic tokens."""

import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO
from scaling.data.batches import Batches, eval_batches
from scaling.data.errors import DataError
from scaling.data.synthetic import SyntheticBatches, SyntheticData

SEQ, B = 15, 8


def _stream(n=50_000):
  return np.arange(n, dtype=np.uint32)  # token i is i: positions are readable


def _rows(batches, steps):
  return np.concatenate([np.concatenate([b["inputs"], b["targets"][:, -1:]], axis=1)
                         for b in (batches(s) for s in range(steps))])


def test_a_smaller_dataset_is_a_prefix_of_a_larger_one():
  tokens = _stream()
  small, large = (Batches(tokens, SEQ, B, seed=3, max_tokens=d) for d in (1000, 5000))
  assert small.tokens_available == (1000 // (SEQ + 1)) * (SEQ + 1)
  rows = _rows(small, 40)
  assert rows.max() < 1000  # only the first D tokens are ever seen
  starts = lambda r: set(r[:, 0].tolist())
  assert starts(rows) <= starts(_rows(large, 200))  # and they are chunks of the larger D


def test_a_run_longer_than_d_repeats_it_in_epochs():
  b = Batches(_stream(), SEQ, B, seed=1, max_tokens=1600)  # 100 chunks
  assert b.n_chunks == 100
  steps = 50  # 400 sequences: 4 epochs
  rows = _rows(b, steps)
  starts, counts = np.unique(rows[:, 0], return_counts=True)
  assert len(starts) == 100 and set(counts.tolist()) == {4}
  assert b.epoch(steps) == 4.0
  for e in range(4):  # each epoch sees every chunk once, in a new order
    epoch_rows = rows[e * 100:(e + 1) * 100, 0]
    assert len(set(epoch_rows.tolist())) == 100
  assert not np.array_equal(rows[:100, 0], rows[100:200, 0])


def test_d_larger_than_the_split_or_smaller_than_a_sequence_is_refused():
  with pytest.raises(DataError, match=r"max_train_tokens=60,000 .* has 50,000 tokens; use at most"):
    Batches(_stream(), SEQ, B, seed=0, max_tokens=60_000, source="text:x.txt")
  with pytest.raises(DataError, match="text:x.txt has 10 tokens, fewer than one sequence"):
    Batches(_stream(), SEQ, B, seed=0, max_tokens=10, source="text:x.txt")
  with pytest.raises(DataError, match="validation split of text:x.txt has 4"):
    eval_batches(_stream(64), SEQ, B, 2, source="text:x.txt")
  assert len(eval_batches(_stream(64 * 16), SEQ, B, 20, clip=True)) == 64 // B  # clipped


@pytest.mark.parametrize("make", [
    lambda: Batches(_stream(), SEQ, B, seed=7, max_tokens=700),  # crosses epochs quickly
    lambda: SyntheticBatches(1000, SEQ, B, seed=7),
])
def test_the_global_batch_is_the_same_for_1_2_and_4_processes(make):
  batches = make()
  for step in range(12):
    whole = batches(step)
    for count in (2, 4):
      parts = [make()(step, i, count) for i in range(count)]
      for key in ("inputs", "targets"):
        assert all(p[key].shape[0] == B // count for p in parts)
        np.testing.assert_array_equal(np.concatenate([p[key] for p in parts]), whole[key])
  sets = [eval_batches(_stream(), SEQ, B, 3, process_index=i, process_count=2) for i in (0, 1)]
  for whole, a, b in zip(eval_batches(_stream(), SEQ, B, 3), *sets):
    np.testing.assert_array_equal(np.concatenate([a["inputs"], b["inputs"]]), whole["inputs"])


def test_synthetic_tokens_are_a_pure_function_of_seed_and_step_without_tensorflow():
  code = ("import sys; from scaling.data.datasets import open_dataset; "
          "from scaling.config import base_config; d = base_config().data; d.source = 'synthetic'; "
          "data = open_dataset(d, vocab_size=321); b = data.train_batches(16, 4, 5); "
          "x = b(3)['inputs']; print(int(x.sum()), x.max() < 321, 'tensorflow' in sys.modules)")
  out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": REPO}, text=True,
                       capture_output=True, check=True).stdout.split()
  here = SyntheticData(321).train_batches(16, 4, 5)(3)["inputs"]
  assert out == [str(int(here.sum())), "True", "False"]
  b = SyntheticBatches(321, 16, 4, seed=5)
  assert np.array_equal(b(3)["targets"][:, :-1], b(3)["inputs"][:, 1:])
  assert not np.array_equal(b(3)["inputs"], b(4)["inputs"])
  assert b.epoch(10) is None and b.tokens_available is None
  evals = SyntheticData(321).eval_batches(16, 4, 2)
  assert not np.array_equal(evals[0]["inputs"], b(0)["inputs"])
