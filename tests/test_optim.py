"""The optimizers: Adafactor as the paper uses it, and which parameters decay."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from conftest import small_config
from scaling import config as configlib
from scaling.models import build_model
from scaling.train import optim
from scaling.train.loop import train


def _train_cfg(name, **kw):
  t = configlib.base_config().train
  t.optimizer, t.lr, t.steps, t.warmup_steps = name, 1e-3, 100, 5
  for k, v in kw.items():
    t[k] = v
  return t


def _params():
  k1, k2 = jax.random.split(jax.random.key(0))
  return {"dense": {"kernel": 0.02 * jax.random.normal(k1, (64, 96)),
                    "bias": jnp.zeros((96,))},
          "big": {"kernel": 0.02 * jax.random.normal(k2, (256, 384))},
          "ln": {"scale": jnp.ones((64,))}}


def _run(opt, params, grads_fn, steps):
  state = opt.init(params)

  @jax.jit
  def update(grads, state, params):
    updates, state = opt.update(grads, state, params)
    return optax_apply(params, updates), state

  for i in range(steps):
    params, state = update(grads_fn(i), state, params)
  return params


def optax_apply(params, updates):
  return jax.tree.map(lambda p, u: p + u, params, updates)


def test_zero_gradient_steps_decay_adafactor_weights_as_adamw_does():
  """Decoupled decay is lr_t·wd·W for both: 10 warmup steps barely move W."""
  params = _params()
  zeros = lambda _: jax.tree.map(jnp.zeros_like, params)
  got = {name: _run(optim.optimizer(_train_cfg(name, warmup_steps=10)), params, zeros, 10)
         for name in ("adamw", "adafactor")}
  for a, b in zip(jax.tree.leaves(got["adamw"]), jax.tree.leaves(got["adafactor"])):
    np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-6)
  ratio = float(jnp.abs(got["adafactor"]["dense"]["kernel"]).sum()
                / jnp.abs(params["dense"]["kernel"]).sum())
  assert 0.999 < ratio < 1.0


def test_adafactor_steps_are_absolute_like_adams():
  """Same lr and b2: the update size does not depend on the parameter's scale.

  Without momentum (b1=0) unfactored leaves (a dimension < 128) follow Adam's
  g/sqrt(v̂) to epsilon over several steps; with b1 the first step is Adam's
  sign(g)·lr everywhere, and the factored matrix's step has Adam's size.
  """
  params = _params()
  grads = lambda i: jax.tree.map(
      lambda p: jax.random.normal(jax.random.key(i + 1), p.shape), params)
  cfg = dict(weight_decay=0.0, warmup_steps=0, schedule="constant", grad_clip=0.0)
  adam = _run(optim.optimizer(_train_cfg("adam", b1=0.0, **cfg)), params, grads, 5)
  fact = _run(optim.optimizer(_train_cfg("adafactor", b1=0.0, **cfg)), params, grads, 5)
  for key in ("dense", "ln"):
    for a, b in zip(jax.tree.leaves(adam[key]), jax.tree.leaves(fact[key])):
      np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-7)
  adam = _run(optim.optimizer(_train_cfg("adam", **cfg)), params, grads, 1)
  fact = _run(optim.optimizer(_train_cfg("adafactor", **cfg)), params, grads, 1)
  for key in ("dense", "ln"):
    for a, b in zip(jax.tree.leaves(adam[key]), jax.tree.leaves(fact[key])):
      np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-7)
  step_rms = float(jnp.sqrt(jnp.mean((fact["big"]["kernel"] - params["big"]["kernel"]) ** 2)))
  assert 0.5e-3 < step_rms < 2e-3


def test_adafactor_keeps_factored_second_moments():
  state = optim.optimizer(_train_cfg("adafactor")).init(_params())
  shapes = {jax.tree_util.keystr(p): leaf.shape
            for p, leaf in jax.tree_util.tree_flatten_with_path(state)[0]}
  assert shapes["[1][0].v_row['big']['kernel']"] == (256,)
  assert shapes["[1][0].v_col['big']['kernel']"] == (384,)
  assert shapes["[1][0].v['big']['kernel']"] == (1,)
  assert shapes["[1][0].v['dense']['kernel']"] == (64, 96)


def _decayed(model_cfg):
  params = nnx.to_pure_dict(nnx.state(build_model(model_cfg, 0)))
  flat = jax.tree_util.tree_flatten_with_path(optim.decay_mask(params))[0]
  return sorted("/".join(str(getattr(k, "key", k)) for k in path)
                for path, on in flat if on)


def _model_cfg(kind="transformer", **kw):
  c = configlib.base_config()
  configlib.apply_size(c, "micro")
  c.model.kind = kind
  for k, v in kw.items():
    c.model[k] = v
  return configlib.resolve(c, vocab_size=259, platform="cpu").model


_BLOCK = ["attn_out/kernel", "mlp_in/kernel", "mlp_out/kernel", "qkv/kernel"]


def test_decay_mask_lists_exactly_the_weight_matrices():
  two_blocks = sorted([f"blocks/{i}/{p}" for i in (0, 1) for p in _BLOCK] + ["embed/embedding"])
  assert _decayed(_model_cfg()) == two_blocks
  assert _decayed(_model_cfg(scan_layers=True)) == sorted(
      [f"blocks/{p}" for p in _BLOCK] + ["embed/embedding"])
  assert _decayed(_model_cfg(share_layers=True)) == sorted(
      [f"blocks/0/{p}" for p in _BLOCK] + ["embed/embedding"])
  assert _decayed(_model_cfg(tie_embeddings=False)) == sorted(two_blocks + ["unembed/kernel"])
  assert _decayed(_model_cfg("lstm")) == [
      "embed/embedding", "layers/0/w_hh", "layers/0/w_ih", "layers/1/w_hh", "layers/1/w_ih"]


def test_an_unknown_parameter_name_is_refused_with_the_fix():
  with pytest.raises(ValueError, match="optim.DECAYED"):
    optim.decay_mask({"mystery": jnp.zeros((2, 2))})


@pytest.mark.slow
def test_adafactor_trains_within_5_percent_of_adamw(tmp_path):
  """nano widened to d_model 128, so that Adafactor factors its matrices."""
  losses = {}
  for name in ("adamw", "adafactor"):
    c = small_config("nano", **{"train.steps": 150, "train.warmup_steps": 15,
                                "train.optimizer": name, "train.log_every": 50,
                                "checkpoint.every_steps": 1000, "eval.every_steps": 1000,
                                "eval.batches": 4, "model.d_model": 128, "model.n_heads": 4})
    losses[name] = train(c, str(tmp_path / name), progress=False)["val_loss"]
  assert abs(losses["adafactor"] - losses["adamw"]) < 0.05 * losses["adamw"], losses
