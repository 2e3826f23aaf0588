"""Training with the data options end to end: a plain-text book with its own
SentencePiece vocab and scaling-eval on another text, the dataset size D with
exact resume across an epoch boundary, no TensorFlow when the store exists,
synthetic tokens, and vocab mismatches."""

import json
import math
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, run_cli, small_config
from data_texts import book_text, other_text, write
from scaling.data import spm_train
from scaling.data.datasets import open_dataset
from scaling.data.errors import DataError
from scaling.data.sources import get_source
from scaling.data.vocab import get_vocab
from scaling.results import io as records
from scaling.train.checkpoint import ResumeError
from scaling.train.loop import train

pytestmark = pytest.mark.slow  # trains on a book

SPM = "spm:512"


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
  d = tmp_path_factory.mktemp("texts")
  return write(d / "book.txt", book_text(100_000)), write(d / "other.txt", other_text(200_000))


@pytest.fixture(scope="module")
def book_store(texts, store_cache):
  """The book's spm model and token store, built here (with TensorFlow) once."""
  c = small_config("nano", **{"data.source": f"text:{texts[0]}", "data.vocab": SPM})
  return open_dataset(c.data, progress=False)


def test_a_book_with_its_own_vocab_then_scaling_eval_on_another_text(texts, book_store, tmp_path):
  book, other = texts
  workdir = str(tmp_path / "run")
  result = run_cli(
      "scaling.cli.train", "--config", "configs/transformer.py:size=nano", "--workdir", workdir,
      f"--config.data.source=text:{book}", f"--config.data.vocab={SPM}",
      "--config.train.steps=20", "--config.eval.every_steps=10", "--config.eval.batches=2",
      "--config.checkpoint.every_steps=10", f"--config.eval.datasets=licences=text:{other}",
      "--progress=false")
  assert result.returncode == 0, result.stderr[-3000:]
  with open(os.path.join(workdir, "vocab.json")) as f:
    vocab = json.load(f)
  assert vocab["spec"] == SPM and vocab["vocab_size"] == 512 and vocab["file"] == "vocab.model"
  assert vocab["name"] == book_store.manifest["vocab"]  # the model the store was made with
  evals = records.read_jsonl(os.path.join(workdir, "eval.jsonl"))
  assert [e["step"] for e in evals] == [0, 10, 20]
  assert all(math.isfinite(e["val_loss/licences"]) and e["val_bpb/licences"] > 0 for e in evals)
  assert evals[-1]["val_loss/licences"] < evals[0]["val_loss/licences"]
  with open(os.path.join(workdir, "summary.json")) as f:
    summary = json.load(f)
  assert summary["val_loss/licences"] == evals[-1]["val_loss/licences"]

  result = run_cli("scaling.cli.eval", "--workdir", workdir, "--data", f"text:{other}")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "val_loss" in result.stdout and "eval_other.json" in result.stdout
  with open(os.path.join(workdir, "eval_other.json")) as f:
    evaluated = json.load(f)
  assert evaluated["step"] == 20 and evaluated["vocab"] == vocab["name"]
  # the same checkpoint, batches and eval step as the run's own last evaluation
  assert evaluated["val_loss"] == pytest.approx(summary["val_loss/licences"], rel=1e-5)
  assert evaluated["val_bpb"] == pytest.approx(summary["val_bpb/licences"], rel=1e-5)
  with open(os.path.join(workdir, "per_position_loss.json")) as f:
    per_position = json.load(f)
  assert len(per_position["per_position_loss"]) == 64  # nano's n_ctx
  assert sum(per_position["per_position_loss"]) / 64 == pytest.approx(evaluated["val_loss"], rel=1e-4)
  assert per_position["source"] == f"text:{other}"

  # A vocabulary that is not the run's is refused, with one line.
  other_model, _ = spm_train.train_model(get_source(f"text:{other}"), 512)
  with open(os.path.join(workdir, "vocab.model"), "wb") as f:
    f.write(other_model)
  result = run_cli("scaling.cli.eval", "--workdir", workdir, "--data", f"text:{other}")
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].startswith("error: ")
  assert "is not the vocabulary this run was trained with" in result.stderr


def test_training_from_an_existing_store_leaves_tensorflow_out(texts, book_store, tmp_path):
  code = f"""
import sys
sys.path.insert(0, {os.path.join(REPO, 'tests')!r})
from conftest import small_config
from scaling.train.loop import train
c = small_config("nano", **{{"data.source": "text:{texts[0]}", "data.vocab": "{SPM}",
                             "train.steps": 2, "eval.every_steps": 2}})
summary = train(c, {str(tmp_path / 'run')!r}, progress=False)
assert summary["steps"] == 2
print(sorted(m for m in ("tensorflow", "seqio", "tensorflow_datasets", "tensorflow_text")
             if m in sys.modules))
"""
  out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=REPO),
                       capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-3000:]
  assert out.stdout.strip().splitlines()[-1] == "[]"


def test_dataset_size_d_and_exact_resume_across_an_epoch_boundary(texts, book_store, tmp_path):
  # nano: 16 sequences of 65 tokens a step; D = 3000 tokens is 46 sequences, so an
  # epoch ends every 2.875 steps.
  # The book's model given by path: spm:SIZE would train on only the D tokens' text.
  model = get_vocab(SPM, source=get_source(f"text:{texts[0]}")).path
  data = {"data.source": f"text:{texts[0]}", "data.vocab": f"spm:{model}"}
  c = small_config("nano", **data, **{"train.steps": 8, "data.max_train_tokens": 3000,
                              "checkpoint.every_steps": 2, "checkpoint.keep": 5,
                              "eval.every_steps": 4, "train.log_every": 1})
  full = str(tmp_path / "full")
  summary = train(c, full, progress=False)
  assert summary["max_train_tokens"] == 3000
  assert summary["train_tokens_available"] == 46 * 65
  assert summary["epochs"] == pytest.approx(8 * 16 / 46)
  resumed = str(tmp_path / "resumed")
  shutil.copytree(full, resumed)
  for step in ("4", "6", "8"):  # as if it had died at step 2, before the first boundary
    shutil.rmtree(os.path.join(resumed, "checkpoints", step))
  train(c, resumed, progress=False)
  losses = lambda d: [(r["step"], r["loss"]) for r in
                      records.read_jsonl(os.path.join(d, "metrics.jsonl"))]
  assert losses(resumed) == losses(full)
  # Evaluating on the train split reads only the D tokens the run trained on:
  # 46 sequences are 2 batches of 16, whatever --batches asks for.
  from scaling.cli.eval import evaluate_run  # pylint: disable=g-import-not-at-top
  seen = evaluate_run(full, split="train", batches=50, progress=False, stride=0)
  assert seen["batches"] == 2
  other = small_config("nano", **data, **{"train.steps": 8, "data.max_train_tokens": 4000})
  with pytest.raises(ResumeError, match="data.max_train_tokens=4000"):
    train(other, full, progress=False)


def test_synthetic_tokens_train_without_a_store(store_cache, tmp_path):
  before = set(os.listdir(store_cache))
  c = small_config("nano", **{"data.source": "synthetic", "model.vocab_size": 1000,
                              "train.steps": 4, "eval.every_steps": 4})
  summary = train(c, str(tmp_path / "run"), progress=False)
  assert set(os.listdir(store_cache)) == before
  assert summary["epochs"] is None and summary["train_tokens_available"] is None
  assert summary["val_loss"] == pytest.approx(math.log(1000), rel=0.05)  # random tokens
  assert math.isnan(summary["val_bpb"])


def test_a_changed_spm_path_model_is_refused_on_resume(texts, book_store, tmp_path):
  trained = get_vocab(SPM, source=get_source(f"text:{texts[0]}"))
  model = shutil.copy(trained.path, str(tmp_path / "t5.model"))
  c = small_config("nano", **{"data.source": f"text:{texts[0]}", "data.vocab": f"spm:{model}",
                              "train.steps": 2, "eval.every_steps": 2, "checkpoint.every_steps": 2})
  workdir = str(tmp_path / "run")
  train(c, workdir, progress=False)
  other_model, _ = spm_train.train_model(get_source(f"text:{texts[1]}"), 512)
  with open(model, "wb") as f:
    f.write(other_model)
  c.train.steps = 4
  with pytest.raises(DataError, match="is not the SentencePiece model this run was trained with"):
    train(c, workdir, progress=False)
