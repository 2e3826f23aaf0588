"""data.vocab=gpt2: GPT-2's BPE through tiktoken, here with a small encoding
file in tiktoken's format that the test writes (no download): ids, EOS, the
one-line error when no encoding is at hand, seqio agreeing with Python, and a
run end to end, then scaling-eval from the run's own copy of the file."""

import base64
import json
import os
import urllib.error

import pytest

from conftest import run_cli, small_config
from data_texts import book_text, write
from scaling.data import gpt2_vocab
from scaling.data.datasets import model_vocab_size
from scaling.data.errors import DataError
from scaling.data.gpt2_vocab import Gpt2Vocab
from scaling.data.vocab import get_vocab, spec_error, vocab_size_of
from scaling.train.vocab_files import load_run_vocab, run_vocab

MERGES = [b"th", b"he", b"the", b" t", b" the", b"in", b"er", b"an", b" a", b"on", b"re",
          b"ing", b" s", b"es", b"en", b"at"]


def write_bpe(path, merges=MERGES) -> str:
  """A byte-level BPE in tiktoken's format: all 256 bytes, then `merges`."""
  tokens = [bytes([b]) for b in range(256)] + list(merges)
  with open(path, "wb") as f:
    f.writelines(base64.b64encode(t) + b" " + str(rank).encode() + b"\n"
                 for rank, t in enumerate(tokens))
  return str(path)


@pytest.fixture()
def bpe(tmp_path, monkeypatch):
  path = write_bpe(tmp_path / "small.tiktoken")
  monkeypatch.setenv(gpt2_vocab.ENV, path)
  return path


def test_ids_eos_and_round_trip(bpe):
  vocab = get_vocab("gpt2")
  n = 256 + len(MERGES)
  assert (vocab.vocab_size, vocab.eos_id, vocab.path) == (n + 1, n, bpe)
  assert vocab_size_of("gpt2") == vocab_size_of(f"gpt2:{bpe}") == n + 1
  text = "the thing in the end <|endoftext|> é"
  ids = vocab.encode(text)
  assert vocab.decode(ids) == text and n not in ids  # a literal EOT is just text
  assert ids[:1] == [256 + MERGES.index(b"the")]
  assert vocab.name.startswith(f"gpt2bpe{n + 1}-") and Gpt2Vocab(f"gpt2:{bpe}").name == vocab.name


def test_gpt2_itself_is_50257_ids_without_loading(monkeypatch):
  monkeypatch.delenv(gpt2_vocab.ENV, raising=False)
  assert vocab_size_of("gpt2") == 50257 and spec_error("gpt2") is None


def test_no_encoding_and_no_network_is_one_line_saying_how(tmp_path, monkeypatch):
  monkeypatch.delenv(gpt2_vocab.ENV, raising=False)
  monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "empty"))

  def offline(url):
    raise urllib.error.URLError("no network")
  monkeypatch.setattr(gpt2_vocab, "_download", offline)
  with pytest.raises(DataError) as e:
    get_vocab("gpt2")
  message = str(e.value)
  assert "\n" not in message and gpt2_vocab.ENV in message and gpt2_vocab.URL in message
  assert "no network" in message
  assert "does not exist" in spec_error(f"gpt2:{tmp_path}/missing.tiktoken")
  with pytest.raises(DataError, match="single-byte"):
    Gpt2Vocab(f"gpt2:{_no_bytes(tmp_path)}")


def _no_bytes(tmp_path) -> str:
  path = tmp_path / "nobytes.tiktoken"
  path.write_bytes(base64.b64encode(b"ab") + b" 0\n")
  return str(path)


def test_seqio_encodes_like_python(bpe):
  pytest.importorskip("seqio")
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  vocab = get_vocab("gpt2")
  text = "the answer is in the ending\nrest"
  seqio_vocab = vocab.seqio()
  assert seqio_vocab.encode_tf(tf.constant(text)).numpy().tolist() == vocab.encode(text)
  assert seqio_vocab.eos_id == vocab.eos_id and seqio_vocab.vocab_size == vocab.vocab_size


@pytest.mark.slow
def test_a_run_end_to_end_then_eval_from_its_own_copy(bpe, tmp_path, monkeypatch):
  book = write(tmp_path / "book.txt", book_text(40_000))
  workdir = str(tmp_path / "run")
  result = run_cli(
      "scaling.cli.train", "--config", "configs/transformer.py:size=nano", "--workdir", workdir,
      f"--config.data.source=text:{book}", "--config.data.vocab=gpt2",
      "--config.train.steps=6", "--config.eval.every_steps=3", "--config.eval.batches=1",
      "--config.checkpoint.every_steps=3", "--config.train.log_every=3", "--progress=false")
  assert result.returncode == 0, result.stderr[-3000:]
  with open(os.path.join(workdir, "vocab.json")) as f:
    saved = json.load(f)
  assert saved["spec"] == "gpt2" and saved["file"] == "vocab.tiktoken"
  assert saved["vocab_size"] == 256 + len(MERGES) + 1
  with open(os.path.join(workdir, "config.json")) as f:
    assert json.load(f)["model"]["vocab_size"] >= saved["vocab_size"]

  # Resume and evaluation use the workdir's copy: the original file may be gone.
  os.unlink(bpe)
  c = small_config("nano", **{"data.source": f"text:{book}", "data.vocab": "gpt2"})
  assert run_vocab(c.data, workdir).sha256 == saved["sha256"]
  assert load_run_vocab(workdir, c.data).name == saved["name"]
  monkeypatch.delenv(gpt2_vocab.ENV)
  result = run_cli("scaling.cli.eval", "--workdir", workdir, env={gpt2_vocab.ENV: ""})
  assert result.returncode == 0, result.stderr[-3000:]
  assert model_vocab_size(c) == 50257  # without the file: GPT-2's own size

