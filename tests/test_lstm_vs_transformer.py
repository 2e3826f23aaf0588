"""experiments/lstm_vs_transformer.py: config, members and the analysis."""

import importlib.util
import json
import os

import jax
import numpy as np
import pytest

from conftest import REPO
from scaling import config as configlib
from scaling.validation import validate

PATH = os.path.join(REPO, "experiments", "lstm_vs_transformer.py")


@pytest.fixture(scope="module")
def exp():
  spec = importlib.util.spec_from_file_location("lstm_vs_transformer", PATH)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.mark.parametrize("variant", ["tiny", "cpu", "full"])
def test_every_member_is_a_valid_run(exp, variant):
  members = exp.sweep(variant)
  names = [m["name"] for m in members]
  assert len(set(names)) == len(names)
  lstm_layers = {m["overrides"]["model.n_layer"] for m in members
                 if m["overrides"]["model.kind"] == "lstm"}
  if variant != "cpu":  # the cpu variant is one matched pair
    assert lstm_layers == {1, 2, 4}
    assert sum(m["overrides"]["model.kind"] == "transformer" for m in members) >= 3
  for member in members:
    c = exp.get_config(variant)
    for key, value in member["overrides"].items():
      section, name = key.split(".")
      c[section][name] = value
    r = configlib.resolve(c, vocab_size=259, platform="cpu")
    validate(r, jax.device_count())
    assert r.model.kind == member["overrides"]["model.kind"]


def test_unknown_variant_is_refused(exp):
  with pytest.raises(ValueError, match="variant 'huge' is unknown"):
    exp.get_config("huge")


def _write_run(root, name, kind, n_layer, d_model, n, curve):
  os.makedirs(os.path.join(root, name))
  with open(os.path.join(root, name, "summary.json"), "w") as f:
    json.dump({"model_kind": kind, "n_layer": n_layer, "d_model": d_model,
               "n_params_nonembedding": n, "val_loss": float(np.mean(curve)),
               "per_position_loss": list(map(float, curve)), "status": "completed"}, f)


def test_analyze_pairs_by_n_finds_where_the_lstm_falls_behind_and_draws(exp, tmp_path):
  t = np.arange(1, 129, dtype=float)
  root = str(tmp_path)
  for n, level in ((50_000, 2.2), (200_000, 2.0)):          # transformers keep improving
    _write_run(root, f"transformer-{n}", "transformer", 2, 64, n, level + 1.5 * t ** -0.5)
  for n_layer, n, stop in ((1, 40_000, 12), (4, 180_000, 24)):  # LSTMs stop at `stop`
    tf = (2.2 if n < 100_000 else 2.0) + 1.5 * t ** -0.5
    _write_run(root, f"lstm-{n_layer}", "lstm", n_layer, 64, n, np.minimum.accumulate(
        np.where(t <= stop, tf, tf[stop - 1])))
  os.makedirs(os.path.join(root, "unfinished"))              # no summary: skipped

  result = exp.analyze(root, "tiny")
  pairs = {p["lstm"]: p for p in result["pairs"]}
  assert pairs["lstm-1"]["transformer"] == "transformer-50000"
  assert pairs["lstm-4"]["transformer"] == "transformer-200000"
  for name, stop in (("lstm-1", 12), ("lstm-4", 24)):
    p = pairs[name]
    assert stop < p["falls_behind_at"] < 3 * stop
    assert p["flattens_at_lstm"] < p["flattens_at_transformer"]
    assert p["lstm_flattens_earlier"] and p["late_gain_lstm"] < p["late_gain_transformer"]
  assert result["lstm_flattens_earlier"] == "2/2 pairs"
  fits = {r["name"]: r["fit"] for r in result["runs"]}
  if "error" not in fits["transformer-50000"]:                # scaling.laws present
    assert fits["transformer-50000"]["c"] == pytest.approx(0.5, rel=0.05)
  for png in result["figures"].values():
    assert os.path.getsize(png) > 10_000
  with open(os.path.join(root, "analysis.json")) as f:
    assert json.load(f)["pairs"] == json.loads(json.dumps(result["pairs"]))


def test_analyze_needs_both_architectures(exp, tmp_path):
  _write_run(str(tmp_path), "t", "transformer", 1, 32, 1000, [3.0, 2.0, 1.9, 1.8])
  with pytest.raises(ValueError, match="needs finished LSTM and Transformer runs"):
    exp.analyze(str(tmp_path))


def test_matched_pairs_pair_by_nearest_log_n_in_one_library_copy():
  from scaling.findings.checks import position  # pylint: disable=g-import-not-at-top
  from scaling.laws import perposition  # pylint: disable=g-import-not-at-top
  assert not hasattr(position, "matched_pairs")  # the check uses the library's
  runs = [{"name": "t1", "kind": "transformer", "N": 1000},
          {"name": "t2", "kind": "transformer", "N": 100_000},
          {"name": "l1", "kind": "lstm", "N": 9000},    # log-nearer 1000 than 100,000
          {"name": "l2", "kind": "lstm", "N": 11_000}]
  assert [(a["name"], b["name"]) for a, b in perposition.matched_pairs(runs)] == \
      [("l1", "t1"), ("l2", "t2")]
  assert perposition.matched_pairs(runs[2:]) == []


def test_position_runs_reads_member_directories_through_the_results_layer(tmp_path):
  from scaling.laws import readers  # pylint: disable=g-import-not-at-top
  from scaling.results import SweepDir  # pylint: disable=g-import-not-at-top
  root = str(tmp_path)
  _write_run(root, "b-lstm", "lstm", 2, 64, 500, [3.0, 2.0, 1.9, 1.8])
  _write_run(root, "a-tf", "transformer", 2, 64, 400, [3.0, 2.0, 1.8, 1.7])
  os.makedirs(os.path.join(root, "unfinished"))      # no summary.json: skipped
  with open(os.path.join(root, "analysis.json"), "w") as f:  # a file, not a member
    f.write("{}")
  assert SweepDir(root).member_names() == ["a-tf", "b-lstm", "unfinished"]
  runs = readers.position_runs(root)
  assert [(r["name"], r["kind"], r["N"], r["status"]) for r in runs] == \
      [("a-tf", "transformer", 400, "completed"), ("b-lstm", "lstm", 500, "completed")]
  assert runs[1]["per_position_loss"] == [3.0, 2.0, 1.9, 1.8]
