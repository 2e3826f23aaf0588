"""The speed options compute the same function as the plain path."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from scaling import config as configlib
from scaling.models import build_model
from scaling.train.loss import chunked_token_losses, token_losses


def _cfg(**kw):
  c = configlib.base_config()
  configlib.apply_size(c, "micro")
  c.model.dropout = 0.0
  for k, v in kw.items():
    c.model[k] = v
  return configlib.resolve(c, vocab_size=259, platform="cpu").model


def _tokens():
  return jax.random.randint(jax.random.key(3), (2, 33), 0, 259)


def test_scan_over_layers_equals_the_layer_loop_with_the_same_weights():
  loop_model = build_model(_cfg(), seed=0)
  scan_model = build_model(_cfg(scan_layers=True), seed=0)
  loop_params = nnx.to_pure_dict(nnx.split(loop_model)[1])
  scan_graph, scan_state = nnx.split(scan_model)
  scan_params = nnx.to_pure_dict(scan_state)
  # stack the loop's per-layer weights into the scan's [n_layer, ...] arrays
  blocks = [loop_params["blocks"][i] for i in range(len(loop_params["blocks"]))]
  scan_params = {**loop_params, "blocks": jax.tree.map(lambda *xs: jnp.stack(xs), *blocks)}
  tokens = _tokens()[:, :-1]
  want = loop_model(tokens)
  got = nnx.merge(scan_graph, scan_params)(tokens)
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kw", [{"remat": "block"}, {"remat": "block", "scan_layers": True}])
def test_remat_gives_the_same_gradients(kw):
  tokens = _tokens()
  plain = build_model(_cfg(scan_layers=kw.get("scan_layers", False)), seed=0)
  remat = build_model(_cfg(**kw), seed=0)
  def grads(model):
    graph, state = nnx.split(model)
    loss = lambda p: token_losses(nnx.merge(graph, p)(tokens[:, :-1]), tokens[:, 1:], 259).mean()
    return jax.jit(jax.grad(loss))(nnx.to_pure_dict(state))
  for a, b in zip(jax.tree.leaves(grads(plain)), jax.tree.leaves(grads(remat))):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)


def test_chunked_loss_equals_the_full_loss_and_its_gradient():
  model = build_model(_cfg(), seed=0)
  graph, state = nnx.split(model)
  params = nnx.to_pure_dict(state)
  tokens = jax.random.randint(jax.random.key(4), (2, 65), 0, 259)

  def full(p):
    return token_losses(nnx.merge(graph, p)(tokens[:, :-1]), tokens[:, 1:], 259)

  def chunked(p):
    m = nnx.merge(graph, p)
    return chunked_token_losses(m.hidden(tokens[:, :-1]), m.logits, tokens[:, 1:], 259, 16)

  # jitted, as the train step runs them (eagerly, each op compiles on its own)
  np.testing.assert_allclose(np.asarray(jax.jit(chunked)(params)),
                             np.asarray(jax.jit(full)(params)), rtol=1e-6)
  g_full = jax.jit(jax.grad(lambda p: full(p).mean()))(params)
  g_chunk = jax.jit(jax.grad(lambda p: chunked(p).mean()))(params)
  for a, b in zip(jax.tree.leaves(g_full), jax.tree.leaves(g_chunk)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-7)


def test_scan_program_size_does_not_grow_with_depth():
  def hlo_size(n_layer, scan):
    c = configlib.base_config()
    configlib.apply_size(c, "nano")
    c.model.n_layer, c.model.scan_layers = n_layer, scan
    graph, state = nnx.split(nnx.eval_shape(
        lambda: build_model(configlib.resolve(c, vocab_size=259, platform="cpu").model, 0)))
    fwd = jax.jit(lambda p, t: nnx.merge(graph, p)(t))
    return len(fwd.lower(nnx.to_pure_dict(state), jnp.zeros((1, 8), jnp.int32)).as_text())
  assert hlo_size(16, True) < 1.1 * hlo_size(4, True)
  assert hlo_size(16, False) > 2.5 * hlo_size(4, False)  # the loop unrolls


@pytest.mark.parametrize("loss_chunk", [0, 16])
def test_logits_bf16_computes_the_same_loss_and_gradient(loss_chunk):
  """model.logits_bf16 is speed only: same loss, same gradient within bf16 rounding."""
  from scaling.train.step import _model_losses  # pylint: disable=g-import-not-at-top
  model = build_model(_cfg(dtype="bfloat16"), seed=0)
  graph, state = nnx.split(model)
  params = nnx.to_pure_dict(state)
  tokens = jax.random.randint(jax.random.key(5), (2, 65), 0, 259)
  batch = {"inputs": tokens[:, :-1], "targets": tokens[:, 1:]}

  def loss(p, lowp):
    return _model_losses(graph, p, batch, 259, loss_chunk=loss_chunk, logits_bf16=lowp).mean()

  value_and_grad = jax.jit(jax.value_and_grad(loss), static_argnums=1)
  (want, g_want), (got, g_got) = (value_and_grad(params, lowp) for lowp in (False, True))
  np.testing.assert_allclose(float(got), float(want), rtol=1e-3)
  for a, b in zip(jax.tree.leaves(g_want), jax.tree.leaves(g_got)):
    scale = float(jnp.abs(a).max()) + 1e-12
    assert float(jnp.abs(a - b).max()) / scale < 2e-2


def test_lowp_token_losses_gradient_is_softmax_minus_onehot_in_the_logits_dtype():
  from scaling.train.loss import lowp_token_losses  # pylint: disable=g-import-not-at-top
  logits = (3 * jax.random.normal(jax.random.key(6), (2, 7, 384))).astype(jnp.bfloat16)
  targets = jax.random.randint(jax.random.key(7), (2, 7), 0, 300)
  f32 = lambda x: token_losses(x.astype(jnp.float32), targets, 300).sum()
  lowp = lambda x: lowp_token_losses(x, targets, 300).sum()
  np.testing.assert_allclose(float(lowp(logits)), float(f32(logits)), rtol=1e-5)
  g = jax.grad(lowp)(logits)
  assert g.dtype == jnp.bfloat16
  np.testing.assert_allclose(np.asarray(g, np.float32), np.asarray(jax.grad(f32)(logits)),
                             atol=1e-2)
  assert float(jnp.abs(g[..., 300:].astype(jnp.float32)).max()) == 0.0  # padding: no gradient


def _unstacked(params, n_layer):
  blocks = params["blocks"]
  return {**params, "blocks": {i: jax.tree.map(lambda x: x[i], blocks) for i in range(n_layer)}}


def test_the_same_seed_gives_the_same_initial_weights_with_scan():
  loop_params = nnx.to_pure_dict(nnx.state(build_model(_cfg(), seed=7)))
  scan_params = nnx.to_pure_dict(nnx.state(build_model(_cfg(scan_layers=True), seed=7)))
  got = _unstacked(scan_params, 2)
  assert jax.tree.structure(got) == jax.tree.structure(loop_params)
  for a, b in zip(jax.tree.leaves(loop_params), jax.tree.leaves(got)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.slow
def test_scan_and_unrolled_runs_with_weight_decay_give_the_same_losses(tmp_path):
  """Through the real loop: same init, same decay mask, same per-step losses."""
  from conftest import small_config  # pylint: disable=g-import-not-at-top
  from scaling.results import io as records  # pylint: disable=g-import-not-at-top
  from scaling.train.loop import train  # pylint: disable=g-import-not-at-top
  losses = {}
  for scan in (False, True):
    c = small_config("nano", **{"train.steps": 24, "train.log_every": 1, "train.lr": 3e-3,
                                "train.weight_decay": 0.1, "model.n_layer": 2,
                                "model.scan_layers": scan, "checkpoint.every_steps": 100,
                                "eval.every_steps": 100, "eval.batches": 1})
    workdir = str(tmp_path / str(scan))
    train(c, workdir, progress=False)
    losses[scan] = np.array([r["loss"] for r in records.read_jsonl(f"{workdir}/metrics.jsonl")])
  assert losses[True].shape == (24,)
  np.testing.assert_allclose(losses[True], losses[False], rtol=1e-5)


def test_lstm_unroll_computes_the_same_function():
  c = configlib.base_config()
  configlib.apply_size(c, "micro")
  c.model.kind = "lstm"
  tokens = _tokens()
  def loss_and_grads(unroll):
    c.model.lstm_unroll = unroll
    graph, state = nnx.split(build_model(configlib.resolve(c, vocab_size=259,
                                                           platform="cpu").model, seed=0))
    loss = lambda p: token_losses(nnx.merge(graph, p)(tokens[:, :-1]), tokens[:, 1:], 259).mean()
    return jax.value_and_grad(loss)(nnx.to_pure_dict(state))
  (l1, g1), (l8, g8) = loss_and_grads(1), loss_and_grads(8)
  np.testing.assert_allclose(float(l8), float(l1), rtol=1e-6)
  for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g8)):
    np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("scan,remat", [(True, "none"), (False, "block"), (True, "block")])
def test_scan_and_remat_draw_the_same_dropout_masks_as_the_plain_loop(scan, remat):
  tokens = _tokens()[:, :-1]
  def out(**kw):
    model = build_model(_cfg(dropout=0.1, **kw), seed=0)
    return np.asarray(model(tokens, nnx.Rngs(dropout=5)))
  plain = out()
  assert not np.allclose(plain, np.asarray(build_model(_cfg(dropout=0.1), seed=0)(tokens)))
  np.testing.assert_allclose(out(scan_layers=scan, remat=remat), plain, rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(jax.default_backend() != "gpu", reason="cuDNN attention needs a CUDA GPU")
def test_cudnn_attention_agrees_with_xla_on_gpu():
  tokens = _tokens()[:, :-1]
  def out(attention):
    c = configlib.base_config()
    configlib.apply_size(c, "micro")
    c.model.attention, c.model.dtype = attention, "bfloat16"
    model = build_model(configlib.resolve(c, vocab_size=259, platform="gpu").model, seed=0)
    return np.asarray(model(tokens).astype(jnp.float32))
  np.testing.assert_allclose(out("cudnn"), out("xla"), atol=3e-2, rtol=3e-2)
