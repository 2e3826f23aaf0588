"""tfds: sources under tfds.testing.mock_data (nothing is downloaded), and
seqio: sources (the project's tasks in scaling/data/tasks.py, a task module named in the spec,
a Mixture)."""

import numpy as np
import pytest

tfds = pytest.importorskip("tensorflow_datasets")
seqio = pytest.importorskip("seqio")

from scaling.data import store as storelib  # pylint: disable=g-import-not-at-top
from scaling.data.errors import DataError  # pylint: disable=g-import-not-at-top
from scaling.data.sources import SourceOptions, get_source, pydoc_topics, split_documents  # pylint: disable=g-import-not-at-top
from scaling.data.vocab import ByteVocab  # pylint: disable=g-import-not-at-top


def _texts(tfds_name, split, feature="text"):
  ds = tfds.builder(tfds_name).as_dataset(split=split, shuffle_files=False)
  return [ex[feature].decode() for ex in ds.as_numpy_iterator()]


def _store_documents(store, split):
  """The documents of a byte-vocab store, split at EOS."""
  tokens = np.asarray(store.tokens(split))
  docs, start = [], 0
  for end in np.flatnonzero(tokens == ByteVocab().eos_id):
    docs.append(ByteVocab().decode(tokens[start:end]))
    start = end + 1
  return docs


def test_tfds_source_under_mock_data(tmp_path):
  with tfds.testing.mock_data(num_examples=12):
    source = get_source("tfds:lm1b")
    store = storelib.build_store(source, ByteVocab(), str(tmp_path), progress=False)
    assert _store_documents(store, "train") == _texts("lm1b", "train")
    # lm1b has no validation split: its test split is used
    assert _store_documents(store, "validation") == _texts("lm1b", "test")
    assert store.manifest["splits"]["train"]["documents"] == 12
    assert store.manifest["tokenizer"] == "seqio"
    assert list(source.documents("train")) == _texts("lm1b", "train")


def test_tfds_text_feature_is_found_or_named(tmp_path):
  with tfds.testing.mock_data(num_examples=5):
    docs = list(get_source("tfds:pg19:0.1.1").documents("validation"))
    assert docs == _texts("pg19:0.1.1", "validation", "book_text")
    titles = get_source("tfds:pg19", SourceOptions(feature="book_title"))
    assert list(titles.documents("train")) == _texts("pg19", "train", "book_title")
    with pytest.raises(DataError, match="has no feature 'txt'.*book_text.*set data.feature"):
      list(get_source("tfds:pg19", SourceOptions(feature="txt")).documents("train"))
    with pytest.raises(DataError, match="'book_id' .* is not text"):
      list(get_source("tfds:pg19", SourceOptions(feature="book_id")).documents("train"))


def test_unknown_or_unprepared_tfds_datasets(tmp_path):
  with pytest.raises(DataError, match="tfds:no_such_set: TFDS has no dataset 'no_such_set'"):
    list(get_source("tfds:no_such_set").documents("train"))
  with tfds.testing.mock_data(num_examples=2):
    with pytest.raises(DataError, match="tfds:lm1b:9.9.9: .*cannot be loaded at version 9.9.9"):
      list(get_source("tfds:lm1b:9.9.9").documents("train"))
    with pytest.raises(DataError, match="tfds:c4/xx: .*BuilderConfig xx not found"):
      list(get_source("tfds:c4/xx").documents("train"))
  source = get_source("tfds:lm1b", SourceOptions(tfds_data_dir=str(tmp_path)))
  with pytest.raises(DataError, match="tfds:lm1b: cannot read its train split.*tfds_data_dir"):
    storelib.build_store(source, ByteVocab(), str(tmp_path / "cache"), progress=False)


def test_a_project_seqio_task(tmp_path):
  store = storelib.build_store(get_source("seqio:scaling_pydoc_topics"), ByteVocab(),
                               str(tmp_path), progress=False)
  for split in ("train", "validation"):
    assert _store_documents(store, split) == list(split_documents(pydoc_topics(), split))


_TASK_MODULE = '''
import seqio
import tensorflow as tf

def _source(texts):
  def fn(split, shuffle_files=False, seed=None):
    return tf.data.Dataset.from_tensor_slices({"targets": [f"{split} {t}" for t in texts]})
  return seqio.FunctionDataSource(fn, splits=["train", "validation"])

features = {"targets": seqio.Feature(seqio.ByteVocabulary())}
for name, texts in (("test_letters", ["alpha", "beta", "gamma"] + [f"letter{i}" for i in range(57)]),
                    ("test_numbers", ["one", "two"] + [f"number{i}" for i in range(28)])):
  if name not in seqio.TaskRegistry.names():
    seqio.TaskRegistry.add(name, _source(texts), output_features=features,
                           preprocessors=[seqio.preprocessors.tokenize])
if "test_mixture" not in seqio.MixtureRegistry.names():
  seqio.MixtureRegistry.add("test_mixture", [("test_letters", 1.0), ("test_numbers", 1.0)])
'''


def test_a_seqio_mixture_from_a_task_module(tmp_path):
  module = tmp_path / "my_tasks.py"
  module.write_text(_TASK_MODULE)
  letters = get_source(f"seqio:{module}:test_letters")
  assert list(letters.documents("validation"))[:4] == [
      "validation alpha", "validation beta", "validation gamma", "validation letter0"]
  mixture = get_source(f"seqio:{module}:test_mixture")
  store = storelib.build_store(mixture, ByteVocab(), str(tmp_path), progress=False)
  docs = _store_documents(store, "train")
  # Sampled 1:1 until a task runs out, the same on every build.
  letters = [d for d in docs if d.startswith(("train alpha", "train beta", "train gamma",
                                               "train letter"))]
  numbers = [d for d in docs if d not in letters]
  assert all(d.startswith(("train one", "train two", "train number")) for d in numbers)
  assert len(docs) == len(set(docs)) and (len(numbers) == 30 or len(letters) == 60)
  assert min(len(letters), len(numbers)) > 10
  again = storelib.build_store(get_source(f"seqio:{module}:test_mixture"), ByteVocab(),
                               str(tmp_path / "again"), progress=False)
  assert _store_documents(again, "train") == docs
  with pytest.raises(DataError, match="no seqio Task or Mixture is named 'nope'.*scaling_pydoc_topics"):
    list(get_source("seqio:nope").documents("train"))
