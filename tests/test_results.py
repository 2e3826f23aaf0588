"""The results layer reads today's and older run directories, and writes them whole."""

import os
import shutil

import pytest

from conftest import REPO, small_config
from scaling import config as configlib
from scaling.laws import load_curves, read_rows
from scaling.results import ResultsError, RunDir, Summary, SweepDir
from scaling.results import io

OLD_RUN = os.path.join(REPO, "tests", "fixtures", "old_run")


def test_an_older_run_directory_still_reads():
  run = RunDir(OLD_RUN)
  summary = run.summary()
  assert summary.completed and summary.n_params_nonembedding == 12768
  assert summary.model_kind is None and summary.position_stride is None  # written later
  cfg = run.config()  # keys the older config.json lacks take today's defaults
  assert cfg.model.d_model == 32 and cfg.model.lstm_impl == "auto"
  assert cfg.mesh.fsdp == 1 and not cfg.gns.enabled and cfg.eval.position_stride == 0
  assert cfg.data.max_train_tokens == 0 and cfg.eval.datasets == "" and not cfg.eval.sets
  assert [r["step"] for r in run.evals()] == [0, 3, 6]
  assert run.vocab_info()["spec"] == "byte"


def test_summary_keeps_every_key_it_reads():
  row = RunDir(OLD_RUN).summary_dict()
  row["val_loss/wiki"] = 1.5
  out = Summary.from_dict(row).to_dict()
  assert {k: out[k] for k in row} == row
  assert "diverged_step" not in out and out["val_loss/wiki"] == 1.5


def test_laws_read_older_runs(tmp_path):
  for name in ("a", "b"):
    shutil.copytree(OLD_RUN, tmp_path / name)
  rows = read_rows(str(tmp_path))
  assert [r["n_params_nonembedding"] for r in rows] == [12768, 12768]
  curves = load_curves(str(tmp_path), source="train")
  assert len(curves) == 2 and curves[0].tokens[-1] == 6 * 1024


def test_sweep_results_are_rewritten_whole(tmp_path):
  sweep = SweepDir(str(tmp_path))
  with pytest.raises(ResultsError, match="no results.jsonl"):
    sweep.results()
  shutil.copytree(OLD_RUN, tmp_path / "m0")
  os.makedirs(tmp_path / "m1")  # not finished: no summary
  rows = sweep.collect([("m0", {"train.lr": 1e-3}), ("m1", {})])
  assert [r["name"] for r in rows] == ["m0"] and sweep.results() == rows
  assert rows[0]["overrides"] == {"train.lr": 1e-3}


def test_jsonl_skips_a_torn_line_unless_strict(tmp_path):
  path = str(tmp_path / "m.jsonl")
  io.JsonlWriter(path).write([{"step": 1, "loss": float("nan")}, {"step": 2}])
  with open(path, "a") as f:
    f.write('{"step": 3, "lo')
  assert [r["step"] for r in io.read_jsonl(path)] == [1, 2]
  assert io.read_jsonl(path)[0]["loss"] == "nan"
  with pytest.raises(ResultsError, match=r"m.jsonl:3 is not valid JSON"):
    io.read_jsonl(path, strict=True)
  io.JsonlWriter(path).truncate_after(1)
  assert [r["step"] for r in io.read_jsonl(path, strict=True)] == [1]


def test_run_config_is_resolved_once_with_its_derived_values():
  from scaling.train import engine  # pylint: disable=g-import-not-at-top
  c = small_config("nano", **{"train.batch_size": 8})
  c.eval.datasets = "wiki=text:a.txt"
  c.eval.sets.docs = "text:b.txt"
  cfg = engine.prepare(c)
  assert cfg.batch_tokens == 8 * 64 and cfg.padded_vocab == 384 and cfg.data_parallel == 1
  assert cfg.eval_sets == (("wiki", "text:a.txt"), ("docs", "text:b.txt"))
  assert cfg.family.kind == "transformer" and cfg["model"]["d_ff"] == 128
  assert cfg.to_dict()["train"]["lr"] == cfg.train.lr
  with pytest.raises(AttributeError):
    cfg.model.d_model = 64  # frozen


def test_a_saved_config_is_runnable_for_evaluation():
  from scaling.train import engine  # pylint: disable=g-import-not-at-top
  cfg = engine.for_evaluation(RunDir(OLD_RUN).config())
  assert cfg.batch_tokens == 16 * 64 and cfg.mesh.data == -1
  assert configlib.from_saved(cfg.to_dict()).to_dict() == cfg.to_dict()
