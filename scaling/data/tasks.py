"""The project's own seqio Tasks and Mixtures: use them as data.source=seqio:NAME.

Loaded by `seqio:` sources (scaling/data/seqio_source.py) before a task is
looked up. Each has one output feature, `text`, tokenised with seqio's byte
vocabulary; a run re-tokenises the text with its own data.vocab.

  scaling_pydoc_topics        the Python help topics (part of `embedded`)
  scaling_stdlib_docstrings   the standard library's docstrings (the rest)
  scaling_embedded_mix        both, mixed 1:3
  scaling_tiny_shakespeare, scaling_lm1b, scaling_c4_en, scaling_wiki40b_en,
  scaling_pg19                TFDS datasets (need prepared TFDS data: see docs/data.md)
"""

import functools

import seqio
import tensorflow as tf

from scaling.data import sources

_FEATURES = {"text": seqio.Feature(seqio.ByteVocabulary(), add_eos=True)}
_TOKENIZE = [seqio.preprocessors.tokenize, seqio.preprocessors.append_eos]


def _python_source(all_documents):
  """A FunctionDataSource over documents split like `embedded` (hash, 1 in 20)."""
  def dataset_fn(split, shuffle_files=False, seed=None):
    del shuffle_files, seed
    ds = tf.data.Dataset.from_generator(
        lambda: sources.split_documents(all_documents(), split),
        output_signature=tf.TensorSpec(shape=(), dtype=tf.string))
    return ds.map(lambda text: {"text": text})
  return seqio.FunctionDataSource(dataset_fn, splits=sources.SPLITS)


def _add_task(name, source, preprocessors=()):
  if name not in seqio.TaskRegistry.names():
    seqio.TaskRegistry.add(name, source=source, output_features=_FEATURES,
                           preprocessors=[*preprocessors, *_TOKENIZE])


def _add_tfds(name, tfds_name, validation="validation", feature="text"):
  _add_task(name, seqio.TfdsDataSource(
      tfds_name, splits={"train": "train", "validation": validation}),
            [functools.partial(seqio.preprocessors.rekey, key_map={"text": feature})])


_add_task("scaling_pydoc_topics", _python_source(sources.pydoc_topics))
_add_task("scaling_stdlib_docstrings", _python_source(sources.stdlib_docstrings))
if "scaling_embedded_mix" not in seqio.MixtureRegistry.names():
  seqio.MixtureRegistry.add("scaling_embedded_mix", [("scaling_pydoc_topics", 1.0),
                                                     ("scaling_stdlib_docstrings", 3.0)])

_add_tfds("scaling_tiny_shakespeare", "tiny_shakespeare:1.0.0")
_add_tfds("scaling_lm1b", "lm1b:1.1.0", validation="test")
_add_tfds("scaling_c4_en", "c4/en:3.1.0")
_add_tfds("scaling_wiki40b_en", "wiki40b/en:1.3.0")
_add_tfds("scaling_pg19", "pg19:0.1.1", feature="book_text")
