"""The LSTM language model: parameters, causality, the two paths, config rules."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from scaling import accounting
from scaling import config as configlib
from scaling.models import build_model, family, lstm_shape, padded_vocab
from scaling.models.lstm import LSTM, pack_cudnn_weights
from scaling.train.loss import token_losses
from scaling.validation import ConfigError, validate

V = 259


def _model_cfg(size="nano", platform="cpu", **kw):
  c = configlib.base_config()
  configlib.apply_size(c, size)
  c.model.kind = "lstm"
  for k, v in kw.items():
    c.model[k] = v
  return configlib.resolve(c, vocab_size=V, platform=platform)


def _params(model):
  return nnx.to_pure_dict(nnx.split(model)[1])


def _with_impl(model_cfg, impl, seed=0):
  return LSTM(dataclasses.replace(lstm_shape(model_cfg), impl=impl),
              rngs=nnx.Rngs(params=seed))


def _tokens(b, t, seed=1):
  return jax.random.randint(jax.random.key(seed), (b, t), 0, V)


@pytest.mark.parametrize("n_layer,d_model", [(1, 32), (2, 64), (4, 48)])
def test_n_counts_the_lstm_weights_biases_and_final_norm_exactly(n_layer, d_model):
  cfg = _model_cfg(n_layer=n_layer, d_model=d_model).model
  params = _params(build_model(cfg, seed=0))
  counts = accounting.count_params(params)
  weights = sum(x.size for p, x in jax.tree_util.tree_leaves_with_path(params)
                if x.ndim == 2 and p[0].key == "layers")
  assert weights == accounting.lstm_n_formula(n_layer, d_model) == 8 * n_layer * d_model ** 2
  assert counts["nonembedding"] == n_layer * (8 * d_model ** 2 + 4 * d_model) + 2 * d_model
  assert counts["embedding"] == padded_vocab(V) * d_model
  untied = accounting.count_params(
      _params(build_model(_model_cfg(n_layer=n_layer, d_model=d_model,
                                     tie_embeddings=False).model, seed=0)))
  assert untied["nonembedding"] == counts["nonembedding"]
  assert untied["embedding"] == 2 * counts["embedding"]


def test_flops_per_token_are_6n_and_do_not_grow_with_context():
  short, long_ = _model_cfg(n_ctx=64).model, _model_cfg(n_ctx=1024).model
  params = _params(build_model(short, seed=0))
  n = accounting.count_params(params)["nonembedding"]
  f_short = family(short).flops(short, params)
  assert f_short == family(long_).flops(long_, params)
  assert f_short["flops_per_token"] == 6 * n and f_short["c_forward_per_token"] == 2 * n
  assert f_short["n_params_formula"] == 8 * short.n_layer * short.d_model ** 2


@pytest.mark.parametrize("impl", ["scan", "reference"])
def test_causality_later_tokens_do_not_change_earlier_logits(impl):
  cfg = _model_cfg("micro").model
  model = _with_impl(cfg, impl)
  tokens = _tokens(2, 32)
  t = 11
  changed = tokens.at[:, t + 1:].set((tokens[:, t + 1:] + 7) % V)
  a, b = model(tokens), model(changed)
  np.testing.assert_array_equal(np.asarray(a[:, :t + 1]), np.asarray(b[:, :t + 1]))
  assert np.all(np.abs(np.asarray(a[:, t + 1] - b[:, t + 1])).max(axis=-1) > 0)

  # No gradient flows from the future: with an untied unembedding the token
  # embedding gets gradient only through the inputs it feeds.
  untied = _with_impl(_model_cfg("micro", tie_embeddings=False).model, impl)
  graphdef, params = nnx.split(untied)
  def loss_at_t(p):
    return token_losses(nnx.merge(graphdef, p)(tokens[:, :-1]), tokens[:, 1:], V)[:, t].sum()
  grads = nnx.to_pure_dict(jax.jit(jax.grad(loss_at_t))(params))
  grad_VxD = np.asarray(grads["embed"]["embedding"])
  seen = set(np.asarray(tokens[:, :t + 1]).ravel().tolist())
  later = set(np.asarray(tokens[:, t + 1:-1]).ravel().tolist()) - seen
  assert later and all(not grad_VxD[v].any() for v in later)
  assert all(grad_VxD[v].any() for v in seen)


def _naive_forward(params, tokens, n_layer, tie=True):
  """A per-position float64 numpy LSTM, written from the equations."""
  p = jax.tree.map(lambda x: np.asarray(x, np.float64), params)
  sig = lambda z: 1.0 / (1.0 + np.exp(-z))
  x = p["embed"]["embedding"][np.asarray(tokens)]           # B x T x D
  b, t, d = x.shape
  for layer in range(n_layer):
    w = p["layers"][layer]
    h, c = np.zeros((b, d)), np.zeros((b, d))
    out = np.zeros_like(x)
    for pos in range(t):
      z = x[:, pos] @ w["w_ih"] + h @ w["w_hh"] + w["bias"]
      i, f, g, o = sig(z[:, :d]), sig(z[:, d:2 * d]), np.tanh(z[:, 2 * d:3 * d]), sig(z[:, 3 * d:])
      c = f * c + i * g
      h = o * np.tanh(c)
      out[:, pos] = h
    x = out
  mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
  x = (x - mu) / np.sqrt(var + 1e-5) * p["ln_f"]["scale"] + p["ln_f"]["bias"]
  return x @ (p["embed"]["embedding"].T if tie else p["unembed"]["kernel"])


@pytest.mark.parametrize("tie", [True, False])
def test_scan_matches_a_naive_per_position_reference(tie):
  cfg = _model_cfg("micro", tie_embeddings=tie, n_layer=3).model
  model = build_model(cfg, seed=3)
  assert model.shape.impl == "scan"
  tokens = _tokens(3, 40)
  want = _naive_forward(_params(model), tokens, cfg.n_layer, tie)
  np.testing.assert_allclose(np.asarray(model(tokens)), want, atol=2e-5, rtol=1e-4)


def test_cudnn_data_path_agrees_with_scan_in_values_and_gradients():
  """The cudnn path's packing through jax.experimental.rnn's reference kernel.

  rnn.lstm itself needs a CUDA GPU (see the next test); lstm_ref takes the
  same cuDNN-layout weights and runs on the CPU.
  """
  cfg = _model_cfg("micro", n_layer=2).model
  scan, ref = _with_impl(cfg, "scan", seed=5), _with_impl(cfg, "reference", seed=5)
  tokens = _tokens(4, 48)
  np.testing.assert_allclose(np.asarray(scan(tokens)), np.asarray(ref(tokens)),
                             atol=1e-5, rtol=1e-5)

  def grads(model):
    graphdef, params = nnx.split(model)
    loss = lambda p: token_losses(nnx.merge(graphdef, p)(tokens[:, :-1]), tokens[:, 1:], V).mean()
    return nnx.to_pure_dict(jax.jit(jax.grad(loss))(params))
  g_scan, g_ref = grads(scan), grads(ref)
  for a, b in zip(jax.tree.leaves(g_scan), jax.tree.leaves(g_ref)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6, rtol=1e-4)


def test_packing_follows_cudnn_layout():
  cfg = _model_cfg(n_layer=2, d_model=8).model
  model = build_model(cfg, seed=0)
  from jax.experimental import rnn  # pylint: disable=g-import-not-at-top
  flat = pack_cudnn_weights(model.layers)
  assert flat.shape == (rnn.get_num_params_in_lstm(8, 8, 2, False),)
  w_ih, w_hh, b_ih, b_hh = rnn.unpack_lstm_weights(flat, 8, 8, 2, False)
  for i, layer in enumerate(model.layers):
    np.testing.assert_array_equal(np.asarray(w_ih[i]), np.asarray(layer.w_ih[...]).T)
    np.testing.assert_array_equal(np.asarray(w_hh[i]), np.asarray(layer.w_hh[...]).T)
    np.testing.assert_array_equal(np.asarray(b_ih[i]), np.asarray(layer.bias[...]))
    assert not np.any(np.asarray(b_hh[i]))


@pytest.mark.skipif(jax.default_backend() != "gpu", reason="cuDNN LSTM needs a CUDA GPU")
def test_cudnn_and_scan_agree_on_gpu():
  cfg = _model_cfg("micro", platform="gpu", dtype="float32").model
  assert cfg.lstm_impl == "cudnn"
  scan, cudnn = _with_impl(cfg, "scan", seed=5), _with_impl(cfg, "cudnn", seed=5)
  tokens = _tokens(4, 64)
  with jax.default_matmul_precision("highest"):
    np.testing.assert_allclose(np.asarray(scan(tokens)), np.asarray(cudnn(tokens)),
                               atol=1e-3, rtol=1e-3)


@pytest.mark.skipif(jax.default_backend() == "gpu", reason="checks the off-GPU fallback")
def test_a_cudnn_model_evaluates_off_gpu_with_the_scan():
  """A config written on a GPU (lstm_impl=cudnn) still evaluates on a CPU."""
  cfg = _model_cfg("micro").model
  tokens = _tokens(2, 16)
  np.testing.assert_array_equal(np.asarray(_with_impl(cfg, "cudnn")(tokens)),
                                np.asarray(_with_impl(cfg, "scan")(tokens)))


def test_untrained_loss_is_about_ln_vocab():
  model = build_model(_model_cfg("micro").model, seed=0)
  tokens = _tokens(8, 65, seed=2)
  loss = token_losses(model(tokens[:, :-1]), tokens[:, 1:], V).mean()
  assert abs(float(loss) - math.log(V)) < 0.05


def test_dropout_only_with_rngs():
  model = build_model(_model_cfg("micro", dropout=0.3).model, seed=0)
  tokens = _tokens(2, 16)
  a, b = model(tokens), model(tokens)
  np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  c = model(tokens, nnx.Rngs(dropout=0))
  assert float(jnp.abs(a - c).max()) > 1e-3


def test_longer_than_n_ctx_is_refused():
  cfg = _model_cfg().model
  with pytest.raises(ValueError, match="n_ctx"):
    build_model(cfg, seed=0)(jnp.zeros((1, cfg.n_ctx + 1), jnp.int32))


def test_impl_auto_picks_cudnn_only_on_gpu_without_dropout():
  assert _model_cfg(platform="cpu").model.lstm_impl == "scan"
  assert _model_cfg(platform="tpu").model.lstm_impl == "scan"
  assert _model_cfg(platform="gpu").model.lstm_impl == "cudnn"
  assert _model_cfg(platform="gpu", dropout=0.1).model.lstm_impl == "scan"
  assert _model_cfg(platform="gpu", lstm_impl="scan").model.lstm_impl == "scan"


@pytest.mark.parametrize("overrides,match", [
    ({"lstm_impl": "fast"}, "model.lstm_impl='fast' is unknown"),
    ({"lstm_impl": "cudnn"}, "model.lstm_impl=cudnn needs a CUDA GPU"),
    ({"lstm_unroll": 0}, "model.lstm_unroll"),
    ({"share_layers": True}, "model.share_layers=True applies to model.kind='transformer'"),
])
def test_bad_lstm_settings_are_refused_with_the_key_and_fix(overrides, match):
  if jax.default_backend() == "gpu" and overrides.get("lstm_impl") == "cudnn":
    pytest.skip("cudnn is valid on a GPU")
  with pytest.raises(ConfigError, match=match):
    validate(_model_cfg(**overrides), jax.device_count())


def test_kaplan_lr_uses_the_lstm_n():
  cfg = _model_cfg("tiny")
  assert cfg.train.lr == pytest.approx(configlib.kaplan_lr(accounting.lstm_n_formula(2, 128)))


@pytest.mark.slow
def test_lstm_trains_through_the_cli_and_resumes(tmp_path):
  import json  # pylint: disable=g-import-not-at-top
  import os  # pylint: disable=g-import-not-at-top
  from conftest import run_cli  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path / "lstm")
  args = ["--config", "configs/lstm.py:size=nano", "--workdir", workdir, "--progress=false",
          "--config.train.lr=3e-3", "--config.train.warmup_steps=5",
          "--config.checkpoint.every_steps=15", "--config.eval.every_steps=15",
          "--config.eval.batches=2"]
  first = run_cli("scaling.cli.train", *args, "--config.train.steps=30")
  assert first.returncode == 0, first.stderr[-2000:]
  with open(os.path.join(workdir, "summary.json")) as f:
    s = json.load(f)
  assert s["model_kind"] == "lstm" and s["status"] == "completed"
  assert s["n_params_nonembedding"] == 8 * 32 * 32 + 4 * 32 + 2 * 32   # 1 x 32 (nano)
  assert s["flops_per_token"] == 6 * s["n_params_nonembedding"]
  assert s["n_params_formula"] == 8 * 32 * 32
  assert len(s["per_position_loss"]) == 64
  assert np.mean(s["per_position_loss"]) == pytest.approx(s["val_loss"], rel=1e-6)
  with open(os.path.join(workdir, "eval.jsonl")) as f:
    evals = [json.loads(line) for line in f]
  assert evals[-1]["val_loss"] < 0.75 * evals[0]["val_loss"]
  with open(os.path.join(workdir, "config.json")) as f:
    assert json.load(f)["model"]["lstm_impl"] == ("cudnn" if jax.default_backend() == "gpu"
                                                  else "scan")

  other = run_cli("scaling.cli.train", *args, "--config.train.steps=45",
                  "--config.model.kind=transformer")
  assert other.returncode == 2 and "model.kind='transformer'" in other.stderr
  more = run_cli("scaling.cli.train", *args, "--config.train.steps=45")
  assert more.returncode == 0, more.stderr[-2000:]
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    steps = [json.loads(line)["step"] for line in f]
  assert steps == list(range(1, 46))   # resumed at 30, each step once
