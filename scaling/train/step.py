"""The jitted train and eval steps, with explicit shardings.

`make_train_step` / `make_eval_step` return plain functions of (state, batch)
that tests can call directly; `jit_train_step` / `jit_eval_step` compile them
with in/out shardings and a donated state.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec as P

from scaling import sharding as shardlib
from scaling.config_formats import parse_injection
from scaling.gns import estimator as gnslib
from scaling.train import optim
from scaling.train.loss import chunked_token_losses, token_losses
from scaling.train.state import Setup


def _model_losses(graphdef, params, batch, vocab_size, dropout_key=None, loss_chunk=0,
                  logits_bf16=False):
  model = nnx.merge(graphdef, params)
  rngs = nnx.Rngs(dropout=dropout_key) if dropout_key is not None else None
  if loss_chunk:
    return chunked_token_losses(model.hidden(batch["inputs"], rngs), model.logits,
                                batch["targets"], vocab_size, loss_chunk, logits_bf16)
  logits_BxTxV = model(batch["inputs"], rngs)
  return token_losses(logits_BxTxV, batch["targets"], vocab_size, logits_bf16)


def _poison(inject, step, loss, grads):
  """A fault drill (train.inject_nonfinite): a NaN in one step's loss or gradients."""
  what, at_step = inject
  poison = jnp.where(step == at_step, jnp.nan, 0.0)
  if what == "loss":
    return loss + poison, grads
  return loss, jax.tree.map(lambda g: g + poison.astype(g.dtype), grads)


def _unless_finite(finite, new_state, state):
  """nan_policy=skip: a non-finite step leaves everything but the step count."""
  return {key: value if key == "step" else jax.tree.map(
      lambda new, old: jnp.where(finite, new, old), value, state[key])
          for key, value in new_state.items()}


def make_train_step(setup: Setup, model_cfg, train_cfg, lr_schedule, gns_cfg=None):
  """gns_cfg: the config's `gns` section (micro-batches and the noise scale), or None."""
  vocab_size = model_cfg.vocab_size
  use_dropout = model_cfg.dropout > 0
  seed = train_cfg.seed
  k = gns_cfg.microbatches if gns_cfg is not None else 1
  gns_on = gns_cfg is not None and gns_cfg.enabled

  def loss_fn(params, batch, step):
    key = jax.random.fold_in(jax.random.key(seed + 1), step) if use_dropout else None
    return _model_losses(setup.graphdef, params, batch, vocab_size, key,
                         model_cfg.loss_chunk, model_cfg.logits_bf16).mean()

  def grads_and_gns(state, batch):
    """Mean loss and gradient over k micro-batches; the noise-scale EMA and metrics."""
    if k == 1 and not gns_on:
      return (*jax.value_and_grad(loss_fn)(state["params"], batch, state["step"]), None, {})
    micro_loss = lambda p, mb, i: loss_fn(p, mb, state["step"] * k + i)
    sharding = NamedSharding(setup.mesh, P(None, ("data", "fsdp")))
    loss, grads, stats = gnslib.accumulate_gradients(micro_loss, state["params"], batch, k,
                                                     sharding=sharding)
    if not gns_on:
      return loss, grads, None, {}
    b, t = batch["inputs"].shape
    ema, metrics = gnslib.step_update(state["gns"], stats, b, k, gns_cfg.ema, t)
    return loss, grads, ema, metrics

  nan_policy = train_cfg.nan_policy
  inject = parse_injection(train_cfg.inject_nonfinite)

  def train_step(state, batch):
    loss, grads, ema, gns_metrics = grads_and_gns(state, batch)
    # named for the HLO's metadata: scaling.aot.hlo_stats splits its FLOPs out
    with jax.named_scope("optimizer"):
      if inject:
        loss, grads = _poison(inject, state["step"] + 1, loss, grads)
      grad_norm = optax.global_norm(grads)
      finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
      updates, opt_state = setup.optimizer.update(grads, state["opt_state"], state["params"])
      new_state = {
          "step": state["step"] + 1,
          "params": optax.apply_updates(state["params"], updates),
          "opt_state": opt_state,
      }
      if ema is not None:
        new_state["gns"] = ema
      if nan_policy == "skip":
        new_state = _unless_finite(finite, new_state, state)
    metrics = {"loss": loss, "grad_norm": grad_norm,
               # the rate this step applied (behind the step after skipped steps)
               "lr": jnp.asarray(lr_schedule(optim.applied_updates(state["opt_state"])),
                                 jnp.float32),
               "nonfinite": (~finite).astype(jnp.float32), **gns_metrics}
    return new_state, metrics

  return train_step


def make_eval_step(setup: Setup, model_cfg):
  vocab_size = model_cfg.vocab_size

  def eval_step(params, batch):
    loss_BxT = _model_losses(setup.graphdef, params, batch, vocab_size)
    return {"loss_sum": loss_BxT.sum(), "count": jnp.asarray(loss_BxT.size, jnp.float32),
            "per_position_sum": loss_BxT.sum(axis=0)}

  return eval_step


def _under_mesh(fn, mesh):
  """Traces `fn` with activation constraints (scaling.sharding.constrain) on `mesh`."""
  @functools.wraps(fn)
  def wrapped(*args):
    with shardlib.activation_mesh(mesh):
      return fn(*args)
  return wrapped


def jit_train_step(setup: Setup, train_step):
  rep = shardlib.replicated(setup.mesh)
  batch = {"inputs": shardlib.batch_sharding(setup.mesh),
           "targets": shardlib.batch_sharding(setup.mesh)}
  return jax.jit(_under_mesh(train_step, setup.mesh), in_shardings=(setup.state_shardings, batch),
                 out_shardings=(setup.state_shardings, rep), donate_argnums=0)


def jit_eval_step(setup: Setup, eval_step):
  rep = shardlib.replicated(setup.mesh)
  batch = {"inputs": shardlib.batch_sharding(setup.mesh),
           "targets": shardlib.batch_sharding(setup.mesh)}
  return jax.jit(_under_mesh(eval_step, setup.mesh), in_shardings=(setup.state_shardings["params"], batch),
                 out_shardings=rep)
