"""Tokenisation through seqio: each (source, vocab) pair is a registered Task.

The Task's DataSource is the source's own (seqio.TfdsDataSource for `tfds:`,
the upstream Task for `seqio:`) or a FunctionDataSource over its documents;
its preprocessors end in seqio's tokenize and append_eos with the run's
vocabulary. Only store building imports seqio and TensorFlow; training reads
the store. Where seqio is not installed (e.g. an accelerator machine with just
JAX), the vocabulary's pure-Python encoder gives the same ids for the sources
that do not need seqio.
"""

from __future__ import annotations

import importlib.util
import re
from typing import Iterator

import numpy as np

from scaling.data.errors import DataError
from scaling.data.text_source import SPLITS, TextSource


INTERNAL_PREFIX = "scaling_store_"  # the per-(source, vocab) tasks made here


def seqio_available() -> bool:
  return importlib.util.find_spec("seqio") is not None


def task_name(source: TextSource, vocab) -> str:
  return INTERNAL_PREFIX + re.sub(r"[^0-9a-zA-Z_]", "_", f"{source.fingerprint}_{vocab.name}")


def register_task(source: TextSource, vocab) -> str:
  """Registers (once) and returns the seqio Task that tokenises `source`."""
  import seqio  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  name = task_name(source, vocab)
  if name in seqio.TaskRegistry.names():
    return name

  if source.seqio_source is not None:
    data_source, preprocessors = source.seqio_source()
  else:
    def documents(split):  # keeps a DataError that tf.data would wrap
      try:
        yield from source.documents(split)
      except DataError as e:
        source.stats["error"] = e
        raise

    def dataset_fn(split, shuffle_files=False, seed=None):
      del shuffle_files, seed  # documents keep their order; batches are shuffled later
      ds = tf.data.Dataset.from_generator(
          lambda: documents(split),
          output_signature=tf.TensorSpec(shape=(), dtype=tf.string))
      return ds.map(lambda text: {"text": text})
    data_source, preprocessors = seqio.FunctionDataSource(dataset_fn, splits=SPLITS), []

  seqio.TaskRegistry.add(
      name,
      source=data_source,
      preprocessors=[*preprocessors, seqio.preprocessors.tokenize,
                     seqio.preprocessors.append_eos],
      output_features={"text": seqio.Feature(vocab.seqio(), add_eos=True)})
  return name


def _seqio_documents(source: TextSource, vocab, split: str):
  import seqio  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    task = seqio.get_mixture_or_task(register_task(source, vocab))
    ds = task.get_dataset(sequence_length=None, split=split, shuffle=False, seed=0,
                          try_in_mem_cache=False)
    for example in ds.as_numpy_iterator():
      yield example["text"], len(example["text_pretokenized"])
  except (AssertionError, KeyError, tf.errors.OpError) as e:
    if isinstance(source.stats.get("error"), DataError):
      raise source.stats.pop("error") from None
    if not source.needs_seqio:
      raise
    first = str(e).strip(" \n\"").splitlines()[0] if str(e).strip() else type(e).__name__
    raise DataError(f"{source.name}: cannot read its {split} split ({first[:300]}); "
                    f"{source.data_hint}") from None


def tokenized_documents(source: TextSource, vocab, split: str, *,
                        use_seqio: bool | None = None) -> Iterator[tuple[np.ndarray, int]]:
  """Yields (token ids ending in EOS, UTF-8 bytes of the text) per document."""
  if use_seqio is None:
    use_seqio = seqio_available()
  if source.needs_seqio and not use_seqio:
    raise DataError(f"{source.name}: needs seqio and tensorflow-datasets to be read; "
                    "pip install 'scaling[data]'")
  if use_seqio:
    yield from _seqio_documents(source, vocab, split)
  else:
    for doc in source.documents(split):
      ids = vocab.encode(doc) + [vocab.eos_id]
      yield np.asarray(ids, dtype=np.int32), len(doc.encode("utf-8"))
