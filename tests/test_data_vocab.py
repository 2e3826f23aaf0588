"""Vocabularies: SentencePiece trained offline on a small text (cached,
deterministic, the same ids through seqio and through sentencepiece), spm:PATH,
and the bad vocab inputs."""

import json
import os
import shutil

import numpy as np
import pytest

from data_texts import book_text, write
from scaling.data import spm_train, store as storelib
from scaling.data.errors import DataError
from scaling.data.sources import get_source
from scaling.data.vocab import SpmVocab, get_vocab, spec_error, vocab_size_of

SIZE = 512


@pytest.fixture(scope="module")
def book(tmp_path_factory):
  return write(tmp_path_factory.mktemp("book") / "book.txt", book_text(60_000))


@pytest.fixture(scope="module")
def spm_vocab(book, store_cache):
  return get_vocab(f"spm:{SIZE}", source=get_source(f"text:{book}"))


def test_spm_size_is_trained_on_the_training_split_and_cached(book, spm_vocab, store_cache):
  assert spm_vocab.vocab_size == SIZE and spm_vocab.eos_id == 1 and spm_vocab.pad_id == 0
  assert spm_vocab.path.startswith(os.path.join(store_cache, "spm"))
  mtime = os.stat(spm_vocab.path).st_mtime_ns
  again = get_vocab(f"spm:{SIZE}", source=get_source(f"text:{book}"))
  assert again.path == spm_vocab.path and os.stat(again.path).st_mtime_ns == mtime  # reused
  assert again.name == spm_vocab.name
  # Pieces come from text: fewer tokens than bytes, and decoding gives the text back.
  text = "The import statement\n\n  def f(x):\n    return x"
  ids = spm_vocab.encode(text)
  assert len(ids) < len(text.encode()) and spm_vocab.decode(ids) == text


def test_spm_training_is_deterministic(book):
  source = get_source(f"text:{book}")
  first, _ = spm_train.train_model(source, SIZE)
  second, _ = spm_train.train_model(source, SIZE)
  assert first == second  # every host of a multi-host run trains the same model


def test_seqio_and_sentencepiece_give_the_same_ids(book, spm_vocab, tmp_path):
  source = get_source(f"text:{book}")
  via_seqio = storelib.build_store(source, spm_vocab, str(tmp_path / "a"), use_seqio=True,
                                   progress=False)
  via_python = storelib.build_store(source, spm_vocab, str(tmp_path / "b"), use_seqio=False,
                                    progress=False)
  # The two implementations break ties between equally likely segmentations
  # differently ('***' as '*','**' or '**','*'), so the stores are kept apart.
  assert via_seqio.path != via_python.path
  assert via_seqio.manifest["tokenizer"] == "seqio" != via_python.manifest["tokenizer"]
  for split in ("train", "validation"):
    a, b = np.asarray(via_seqio.tokens(split)), np.asarray(via_python.tokens(split))
    assert a.shape == b.shape and np.mean(a != b) < 0.005
    assert spm_vocab.decode(a) == spm_vocab.decode(b)
    assert via_seqio.manifest["splits"][split]["bytes"] == via_python.manifest["splits"][split]["bytes"]
  assert via_seqio.manifest["vocab"] == spm_vocab.name
  assert via_seqio.tokens_per_byte("train") < 0.6  # pieces, not bytes


def test_spm_path_is_named_by_content(spm_vocab, tmp_path):
  copy = shutil.copy(spm_vocab.path, tmp_path / "t5ish.model")
  vocab = get_vocab(f"spm:{copy}")
  assert isinstance(vocab, SpmVocab) and vocab.name == spm_vocab.name
  assert vocab_size_of(f"spm:{copy}") == SIZE and vocab_size_of(f"spm:{SIZE}") == SIZE


def test_bad_vocabularies(book, tmp_path):
  assert "unknown" in spec_error("bpe")
  assert "too small" in spec_error("spm:100")
  assert "does not exist" in spec_error(f"spm:{tmp_path}/none.model")
  junk = write(tmp_path / "junk.model", "not a model")
  with pytest.raises(DataError, match="is not a SentencePiece model"):
    get_vocab(f"spm:{junk}")
  with pytest.raises(DataError, match=r"spm:\d+ or less"):
    get_vocab("spm:60000", source=get_source(f"text:{book}"), cache_dir=str(tmp_path))
  with pytest.raises(DataError, match=r"characters of .* need \(\d+\); use spm:\d+ or more"):
    get_vocab("spm:262", source=get_source(f"text:{book}"), cache_dir=str(tmp_path))


def test_spm_of_a_data_limited_run_sees_only_the_text_its_d_tokens_cover(tmp_path):
  # A word that appears only after the first D bytes of the training split: a
  # model trained on the whole split learns it as a piece, one trained on what
  # a run with data.max_train_tokens=D sees cannot.
  late = "\n\n".join(f"quetzalcoatl {i} zyzzogeton quetzalcoatl zyzzogeton."
                     for i in range(2000))
  path = write(tmp_path / "limited.txt", book_text(40_000) + "\n\n" + late)
  source = get_source(f"text:{path}")
  d = 30_000
  whole = get_vocab(f"spm:{SIZE}", source=source, cache_dir=str(tmp_path / "c"))
  seen = get_vocab(f"spm:{SIZE}", source=source, cache_dir=str(tmp_path / "c"),
                   max_train_tokens=d)
  assert seen.path != whole.path  # cached apart: the model depends on D
  pieces = lambda v: {v._sp.id_to_piece(i) for i in range(v.vocab_size)}  # pylint: disable=protected-access
  assert "\u2581zyzzogeton" in pieces(whole)
  assert not any("zyzz" in p for p in pieces(seen))
  # Whatever the model, the text it trained on lies inside the run's first D tokens.
  info = json.load(open(seen.path + ".json"))
  assert info["max_train_bytes"] == d and 0 < info["train_chars"] <= d
  covered = sum(len(seen.encode(doc)) + 1 for doc in spm_train._seen_text(source, d))  # pylint: disable=protected-access
  assert covered <= d
