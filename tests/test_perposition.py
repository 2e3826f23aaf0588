"""Per-position loss, the Universal Transformer's accounting, the L(T) fit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from conftest import small_config
from scaling import accounting
from scaling import config as configlib
from scaling.laws import perposition as pp
from scaling import sharding as shardlib
from scaling.models import build_model, family
from scaling.train import optim
from scaling.train import state as statelib
from scaling.train import step as steplib
from scaling.train.loop import evaluate, train
from scaling.train.loss import token_losses

V = 259


def _cfg(kind="transformer", **model):
  c = configlib.base_config()
  configlib.apply_size(c, "nano")
  c.model.kind = kind
  c.model.n_ctx = 24
  for k, v in model.items():
    c.model[k] = v
  return configlib.resolve(c, vocab_size=V, platform="cpu")


@pytest.mark.parametrize("kind,model", [("transformer", {}), ("lstm", {}),
                                        ("transformer", {"share_layers": True, "n_layer": 3})])
def test_per_position_loss_has_n_ctx_entries_and_its_mean_is_the_eval_loss(kind, model):
  cfg = _cfg(kind, **model)
  mesh = shardlib.make_mesh(cfg.mesh)
  setup = statelib.make_setup(cfg.model, optim.optimizer(cfg.train), mesh, seed=0)
  state = statelib.init_state(cfg.model, setup, seed=0)
  eval_step = steplib.jit_eval_step(setup, steplib.make_eval_step(setup, cfg.model))
  rng = np.random.default_rng(0)
  n_ctx = cfg.model.n_ctx
  batches = [{"inputs": rng.integers(0, V, (4, n_ctx)).astype(np.int32),
              "targets": rng.integers(0, V, (4, n_ctx)).astype(np.int32)} for _ in range(3)]
  out = evaluate(eval_step, state["params"], batches, mesh, tokens_per_byte=1.0)
  per_position = np.asarray(out["per_position_loss"])
  assert per_position.shape == (n_ctx,)
  assert per_position.mean() == pytest.approx(out["val_loss"], rel=1e-6)

  model = nnx.merge(setup.graphdef, jax.device_get(state["params"]))  # independently
  losses = np.concatenate([np.asarray(token_losses(model(b["inputs"]), b["targets"], V))
                           for b in batches])
  np.testing.assert_allclose(per_position, losses.mean(axis=0), rtol=1e-5)


def _params(cfg):
  return nnx.to_pure_dict(nnx.split(build_model(cfg, seed=0))[1])


def test_universal_transformer_counts_shared_params_once_and_flops_every_application():
  shared = _cfg(share_layers=True, n_layer=4).model
  one_block, four_blocks = _cfg(n_layer=1).model, _cfg(n_layer=4).model
  n_shared = accounting.count_params(_params(shared))["nonembedding"]
  assert n_shared == accounting.count_params(_params(one_block))["nonembedding"]
  assert n_shared < accounting.count_params(_params(four_blocks))["nonembedding"]
  # Four applications of one block cost what four distinct blocks cost.
  f_shared = family(shared).flops(shared, _params(shared))
  f_four = family(four_blocks).flops(four_blocks, _params(four_blocks))
  assert f_shared["flops_per_token"] == f_four["flops_per_token"]
  assert f_shared["c_forward_per_token"] == f_four["c_forward_per_token"]
  assert f_shared["n_params_formula"] == accounting.n_formula(1, 32, 32, 128)
  final_ln = 2 * shared.d_model
  assert f_shared["n_applied"] == 4 * (n_shared - final_ln) + final_ln


def test_shared_block_is_applied_n_layer_times():
  model = build_model(_cfg(share_layers=True, n_layer=3).model, seed=0)
  assert len(model.blocks) == 1
  tokens = jax.random.randint(jax.random.key(0), (2, 16), 0, V)
  x = model.embed(tokens) + model.pos_embed[...][:16]
  for _ in range(3):
    x = model.blocks[0](x)
  np.testing.assert_allclose(np.asarray(model.hidden(tokens)), np.asarray(model.ln_f(x)),
                             rtol=1e-6, atol=1e-6)
  once = nnx.merge(nnx.split(build_model(_cfg(n_layer=1).model, seed=0))[0],
                   nnx.split(model)[1])  # the same parameters applied once
  assert float(jnp.abs(once.hidden(tokens) - model.hidden(tokens)).max()) > 1e-3


@pytest.mark.slow
def test_a_shared_layer_run_summary(tmp_path):
  c = small_config("nano", **{"model.share_layers": True, "model.n_layer": 3,
                              "train.steps": 4, "eval.every_steps": 4, "data.seq_len": 32})
  s = train(c, str(tmp_path / "ut"), progress=False)
  params = _params(configlib.resolve(c, vocab_size=V, platform="cpu").model)
  n = accounting.count_params(params)["nonembedding"]
  assert s["n_params_nonembedding"] == n
  assert s["n_params_applied"] == 3 * (n - 2 * 32) + 2 * 32
  assert s["flops_per_token"] == 6 * s["n_params_applied"]
  assert s["compute_flops"] == s["flops_per_token"] * s["tokens_seen"]
  assert len(s["per_position_loss"]) == 32
  assert np.mean(s["per_position_loss"]) == pytest.approx(s["val_loss"], rel=1e-6)


@pytest.mark.parametrize("a,b,c", [(2.9, 4.5, 0.56), (1.2, 2.0, 0.9), (3.5, 1.0, 0.3)])
def test_position_fit_recovers_a_b_c_from_synthetic_curves(a, b, c):
  pytest.importorskip("scaling.laws")
  t = np.arange(1, 513)
  rng = np.random.default_rng(1)
  curve = (a + b * t ** -c) * np.exp(rng.normal(0, 0.003, t.size))
  fit = pp.fit(curve, bootstrap=40, seed=0)
  for name, true in (("a", a), ("b", b), ("c", c)):
    assert fit[name] == pytest.approx(true, rel=0.05), name
    lo, hi = fit["ci95"][name]
    assert lo <= fit[name] <= hi and hi - lo < 0.2 * true
  assert fit["n_points"] == 512 and fit["r2"] > 0.95
  later = pp.fit(curve, bootstrap=0, t_min=4)
  assert later["n_points"] == 509 and later["ci95"] is None


def test_position_fit_refuses_unusable_curves():
  with pytest.raises(pp.PositionFitError, match="at least 4"):
    pp.fit([2.0, 1.9])
  with pytest.raises(pp.PositionFitError, match="finite positive"):
    pp.fit([2.0, 1.9, float("nan"), 1.8, 1.7])


def test_flattening_and_falling_behind_on_known_curves():
  t = np.arange(1, 257, dtype=float)
  transformer = 2.0 + 2.0 * t ** -0.5                      # keeps improving
  lstm = np.where(t <= 20, transformer, transformer[19])   # stops improving at 20
  assert 15 <= pp.flattening_position(lstm, tol=0.01) <= 25   # smoothing: T ± T/4
  assert pp.flattening_position(transformer, tol=0.01) > 100
  behind = pp.falls_behind_position(lstm, transformer, tol=0.02)
  gap = lstm - transformer
  assert 20 < behind < 40 and gap[behind - 1] > 0.02 and gap[behind - 3] < 0.03
  assert pp.falls_behind_position(transformer, transformer) is None
  assert pp.late_gain(transformer, 64) > pp.late_gain(lstm, 64) == pytest.approx(0.0)


def test_position_windows_start_every_stride_tokens_and_split_across_processes():
  from scaling.data.batches import window_batches
  from scaling.data.errors import DataError
  tokens = np.arange(1000, dtype=np.uint16)
  seq_len, stride = 16, 3
  batches = list(window_batches(tokens, seq_len, 4, stride, span=200))
  starts = [int(b["inputs"][i, 0]) for b in batches for i in range(4)]
  assert starts == list(range(0, 3 * len(starts), 3))  # every window, in order
  assert starts[-1] + seq_len + 1 <= 200 < starts[-1] + seq_len + 1 + 4 * stride
  for b in batches:
    np.testing.assert_array_equal(b["targets"], b["inputs"] + 1)
    assert b["inputs"].shape == (4, seq_len) and b["inputs"].dtype == np.int32
  # two processes each take their half of every global batch
  halves = [list(window_batches(tokens, seq_len, 4, stride, 200, process_index=p,
                                process_count=2)) for p in range(2)]
  for whole, a, b in zip(batches, *halves):
    np.testing.assert_array_equal(whole["inputs"], np.concatenate([a["inputs"], b["inputs"]]))
  with pytest.raises(DataError, match="eval.position_stride=64 gives 2 windows"):
    window_batches(tokens, seq_len, 4, 64, span=100)


@pytest.mark.slow
def test_a_run_with_position_stride_scores_overlapping_windows(tmp_path):
  from scaling.cli.eval import evaluate_run
  c = small_config("nano", **{"train.steps": 4, "eval.every_steps": 4, "data.seq_len": 32,
                              "eval.position_stride": 4})
  s = train(c, str(tmp_path / "run"), progress=False)
  assert s["position_stride"] == 4 and len(s["per_position_loss"]) == 32
  # the curve averages its own windows, not the regular evaluation's sequences
  assert np.mean(s["per_position_loss"]) == pytest.approx(s["per_position_val_loss"], rel=1e-6)
  assert s["per_position_val_loss"] != pytest.approx(s["val_loss"], rel=1e-6)
  # scaling-eval measures the same curve from the checkpoint, or the plain one with stride 0
  again = evaluate_run(str(tmp_path / "run"), progress=False)
  np.testing.assert_allclose(again["per_position_loss"], s["per_position_loss"], rtol=1e-5)
  plain = evaluate_run(str(tmp_path / "run"), progress=False, stride=0)
  assert np.mean(plain["per_position_loss"]) == pytest.approx(plain["val_loss"], rel=1e-6)
  with pytest.raises(ValueError, match="--stride=33 must be from 0"):
    evaluate_run(str(tmp_path / "run"), progress=False, stride=33)
