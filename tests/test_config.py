"""Config variants, resolution, and the bad inputs that must stop a run early."""

import os

import pytest

from conftest import REPO, run_cli, small_config
from scaling import config as configlib
from scaling.train.loop import prepare
from scaling.validation import ConfigError, validate


def test_size_variants_span_orders_of_magnitude_of_n():
  from scaling.accounting import n_formula
  ns = [n_formula(l, d, d, 4 * d) for l, d, *_ in configlib.SIZES.values()]
  assert ns == sorted(ns) and ns[-1] / ns[0] > 1e4


def test_get_config_variants():
  c = configlib.load_config_file(os.path.join(REPO, "configs/transformer.py") + ":size=base,runlocal")
  assert (c.model.n_layer, c.model.d_model) == (12, 768)
  assert c.model.n_ctx == 128 and c.train.steps <= 100  # runlocal shrinks training only
  with pytest.raises(ValueError, match="size='huge' is unknown"):
    configlib.load_config_file(os.path.join(REPO, "configs/transformer.py") + ":size=huge")


def test_kaplan_learning_rate():
  c = small_config("tiny")
  r = configlib.resolve(c, vocab_size=259, platform="cpu")
  n = 12 * 2 * 128 ** 2
  assert r.train.lr == pytest.approx(0.003239 - 0.0001395 * __import__("math").log(n))
  c.train.lr = 1e-3
  assert configlib.resolve(c, vocab_size=259, platform="cpu").train.lr == 1e-3
  assert r.model.dtype == "float32" and r.model.d_ff == 512 and r.model.d_attn == 128


BAD = [
    ({"model.n_heads": 3}, "model.n_heads=3 does not divide model.d_attn=32"),
    ({"data.seq_len": 65}, "data.seq_len=65 is longer than model.n_ctx=64"),
    ({"train.optimizer": "sgd"}, "train.optimizer='sgd' is unknown"),
    ({"train.optimizer": "adafactor", "model.scan_layers": True, "model.n_layer": 128},
     "train.optimizer=adafactor with model.scan_layers=True needs model.n_layer < 128"),
    ({"train.schedule": "step"}, "train.schedule='step' is unknown"),
    ({"train.steps": 0}, "train.steps=0 must be a positive integer"),
    ({"train.steps": -5}, "train.steps=-5 must be a positive integer"),
    ({"eval.position_stride": 65}, "eval.position_stride=65 must be a whole number from 0"),
    ({"mesh.fsdp": 2}, "mesh.fsdp=2 x mesh.model=1 must be >= 1 and divide the 1 devices"),
    ({"mesh.data": 2}, "mesh.data=2 x mesh.fsdp=1 x mesh.model=1 does not match the 1 devices"),
    ({"mesh.model": 4}, "mesh.fsdp=1 x mesh.model=4 must be >= 1 and divide the 1 devices"),
    ({"checkpoint.start_from": "../ref"}, "checkpoint.start_from='../ref' must be '' or look "
     "like RUN_DIR@STEP"),
    ({"checkpoint.start_from": "../ref@0"}, "checkpoint.start_from='../ref@0' must be"),
]


@pytest.mark.parametrize("overrides,message", BAD)
def test_bad_config_is_refused_with_the_key_and_fix(overrides, message):
  with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
    prepare(small_config("nano", **overrides))


def test_batch_not_divisible_by_data_parallel_devices():
  r = configlib.resolve(small_config("nano", **{"train.batch_size": 12}), vocab_size=259,
                        platform="cpu")
  validate(r, n_devices=4)
  with pytest.raises(ConfigError, match="train.batch_size=12 is not divisible by the 8 "):
    validate(r, n_devices=8)


@pytest.mark.slow
def test_cli_bad_input_exits_2_with_one_line_and_keeps_the_checkpoint(tmp_path):
  workdir = str(tmp_path / "run")
  base = ["--config", "configs/transformer.py:size=nano", "--workdir", workdir,
          "--progress=false", "--config.train.steps=5", "--config.eval.batches=1"]
  ok = run_cli("scaling.cli.train", *base)
  assert ok.returncode == 0, ok.stderr[-2000:]
  ckpts = sorted(os.listdir(os.path.join(workdir, "checkpoints")))
  summary = open(os.path.join(workdir, "summary.json")).read()
  bad = run_cli("scaling.cli.train", *base, "--config.model.n_heads=3")
  assert bad.returncode == 2
  lines = [l for l in bad.stderr.strip().splitlines() if l.strip()]
  assert lines == ["error: model.n_heads=3 does not divide model.d_attn=32; "
                   "choose n_heads dividing 32"]
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ckpts
  assert open(os.path.join(workdir, "summary.json")).read() == summary
  unknown = run_cli("scaling.cli.train", *base, "--config.train.optimizer=sgd")
  assert unknown.returncode == 2 and "train.optimizer='sgd' is unknown" in unknown.stderr
