"""Tokenisation through seqio: each (source, vocab) pair is a registered Task.

Only store building imports seqio and TensorFlow; training reads the store.
Where seqio is not installed (e.g. an accelerator machine with just JAX), the
vocabulary's pure-Python encoder gives the same ids.
"""

from __future__ import annotations

import importlib.util
import re
from typing import Iterator

import numpy as np

from scaling.data.sources import SPLITS, TextSource


def seqio_available() -> bool:
  return importlib.util.find_spec("seqio") is not None


def task_name(source: TextSource, vocab) -> str:
  return "scaling_" + re.sub(r"[^0-9a-zA-Z_]", "_", f"{source.fingerprint}_{vocab.name}")


def register_task(source: TextSource, vocab) -> str:
  """Registers (once) and returns the seqio Task that tokenises `source`."""
  import seqio  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  name = task_name(source, vocab)
  if name in seqio.TaskRegistry.names():
    return name

  def dataset_fn(split, shuffle_files=False, seed=None):
    del shuffle_files, seed  # documents keep their order; batches are shuffled later
    ds = tf.data.Dataset.from_generator(
        lambda: source.documents(split),
        output_signature=tf.TensorSpec(shape=(), dtype=tf.string))
    return ds.map(lambda text: {"text": text})

  seqio.TaskRegistry.add(
      name,
      source=seqio.FunctionDataSource(dataset_fn, splits=SPLITS),
      preprocessors=[seqio.preprocessors.tokenize, seqio.preprocessors.append_eos],
      output_features={"text": seqio.Feature(vocab.seqio(), add_eos=True)})
  return name


def tokenized_documents(source: TextSource, vocab, split: str, *,
                        use_seqio: bool | None = None) -> Iterator[tuple[np.ndarray, int]]:
  """Yields (token ids ending in EOS, UTF-8 bytes of the text) per document."""
  if use_seqio is None:
    use_seqio = seqio_available()
  if use_seqio:
    import seqio  # pylint: disable=g-import-not-at-top
    task = seqio.get_mixture_or_task(register_task(source, vocab))
    ds = task.get_dataset(sequence_length=None, split=split, shuffle=False, seed=0)
    for example in ds.as_numpy_iterator():
      yield example["text"], len(example["text_pretokenized"])
  else:
    for doc in source.documents(split):
      ids = vocab.encode(doc) + [vocab.eos_id]
      yield np.asarray(ids, dtype=np.int32), len(doc.encode("utf-8"))
