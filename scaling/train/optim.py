"""Optimizers and learning-rate schedules (Kaplan et al. Section 2.3)."""

from __future__ import annotations

import jax
import optax

from scaling.config import OPTIMIZERS, SCHEDULES

# What each parameter is, by its name (the last key of its path), decides its
# weight decay: the same with and without model.scan_layers, where stacking
# the blocks gives every block parameter an extra leading axis.
DECAYED = ("kernel", "embedding", "w_ih", "w_hh")   # weight matrices, token embedding
NOT_DECAYED = ("bias", "scale", "pos_embed")        # biases, LayerNorm scales, positions


def schedule(train_cfg) -> optax.Schedule:
  """Linear warmup to train.lr, then cosine to zero, constant, or linear to zero."""
  lr, warmup, steps = float(train_cfg.lr), train_cfg.warmup_steps, train_cfg.steps
  decay_steps = max(steps - warmup, 1)
  if train_cfg.schedule == "cosine":
    after = optax.cosine_decay_schedule(lr, decay_steps, alpha=0.0)
  elif train_cfg.schedule == "linear":
    after = optax.linear_schedule(lr, 0.0, decay_steps)
  elif train_cfg.schedule == "constant":
    after = optax.constant_schedule(lr)
  else:
    raise ValueError(f"train.schedule={train_cfg.schedule!r} is unknown; use one of {SCHEDULES}")
  if warmup <= 0:
    return after
  return optax.join_schedules([optax.linear_schedule(0.0, lr, warmup), after], [warmup])


def applied_updates(opt_state):
  """How many updates the optimizer has applied: optax's step `count`.

  It equals the train state's step except under train.nan_policy="skip",
  where a skipped step leaves the optimizer state, count included, as it
  was; the schedule follows this count.
  """
  for path, leaf in jax.tree_util.tree_flatten_with_path(opt_state)[0]:
    if path and getattr(path[-1], "name", None) == "count":
      return leaf
  raise ValueError("the optimizer state holds no step count")


def _leaf_name(path) -> str:
  last = path[-1]
  return str(getattr(last, "key", getattr(last, "name", last)))


def decay_mask(params):
  """True for the parameters weight decay applies to (see DECAYED)."""
  def decayed(path, _):
    name = _leaf_name(path)
    if name in DECAYED:
      return True
    if name in NOT_DECAYED:
      return False
    raise ValueError(f"parameter {jax.tree_util.keystr(path)} is in neither "
                     "optim.DECAYED nor optim.NOT_DECAYED; add its name to one")
  return jax.tree_util.tree_map_with_path(decayed, params)


def _debiased_decay(b2: float):
  """The factored statistics' decay at update t (count t-1) that makes their
  running average equal to Adam's bias-corrected v̂_t = v_t / (1 - b2^t)."""
  def rate(count, _):
    t = count + 1.0
    return b2 * (1.0 - b2 ** (t - 1.0)) / (1.0 - b2 ** t)
  return rate


def adafactor(lr_schedule, b1: float, b2: float, weight_decay: float):
  """Adam with Adafactor's factored second moments (Kaplan et al. above 1B).

  Per update: v̂ = Adam's bias-corrected EMA (rate b2) of g², kept as row and
  column means for matrices whose two largest dimensions are both >= 128
  (Shazeer & Stern 2018), in full otherwise; u = g / sqrt(v̂) (epsilon 1e-30
  inside the square root); m̂ = bias-corrected EMA (rate b1) of u;
  Δθ = -lr_t·(m̂ + wd·θ) with the decay masked as AdamW's. No relative step
  size, no parameter scaling, no update clipping.
  """
  parts = [optax.scale_by_factored_rms(decay_rate=b2, decay_rate_fn=_debiased_decay(b2))]
  if b1:
    parts.append(optax.ema(b1, debias=True))
  if weight_decay:
    parts.append(optax.add_decayed_weights(weight_decay, decay_mask))
  parts.append(optax.scale_by_learning_rate(lr_schedule))
  return optax.chain(*parts)


def optimizer(train_cfg, sched: optax.Schedule | None = None) -> optax.GradientTransformation:
  """The optimizer `train_cfg` names, on the learning-rate schedule `sched`
  (default: schedule(train_cfg); the engine builds it once for both)."""
  sched = sched or schedule(train_cfg)
  name = train_cfg.optimizer
  if name == "adam":
    opt = optax.adam(sched, b1=train_cfg.b1, b2=train_cfg.b2, eps=1e-8)
  elif name == "adamw":
    opt = optax.adamw(sched, b1=train_cfg.b1, b2=train_cfg.b2, eps=1e-8,
                      weight_decay=train_cfg.weight_decay, mask=decay_mask)
  elif name == "adafactor":
    opt = adafactor(sched, train_cfg.b1, train_cfg.b2, train_cfg.weight_decay)
  else:
    raise ValueError(f"train.optimizer={name!r} is unknown; use one of {OPTIMIZERS}")
  if train_cfg.grad_clip and train_cfg.grad_clip > 0:
    opt = optax.chain(optax.clip_by_global_norm(train_cfg.grad_clip), opt)
  return opt
