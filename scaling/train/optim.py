"""Optimizers and learning-rate schedules (Kaplan et al. Section 2.3)."""

from __future__ import annotations

import jax
import optax

from scaling.config import OPTIMIZERS, SCHEDULES


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


def _decay_mask(params):
  """Weight decay on matrices only, not on biases, norms or position tables."""
  return jax.tree.map(lambda p: p.ndim >= 2, params)


def optimizer(train_cfg) -> optax.GradientTransformation:
  sched = schedule(train_cfg)
  name = train_cfg.optimizer
  if name == "adam":
    opt = optax.adam(sched, b1=train_cfg.b1, b2=train_cfg.b2, eps=1e-8)
  elif name == "adamw":
    opt = optax.adamw(sched, b1=train_cfg.b1, b2=train_cfg.b2, eps=1e-8,
                      weight_decay=train_cfg.weight_decay, mask=_decay_mask)
  elif name == "adafactor":
    opt = optax.adafactor(sched, weight_decay_rate=train_cfg.weight_decay or None,
                          weight_decay_mask=_decay_mask)
  else:
    raise ValueError(f"train.optimizer={name!r} is unknown; use one of {OPTIMIZERS}")
  if train_cfg.grad_clip and train_cfg.grad_clip > 0:
    opt = optax.chain(optax.clip_by_global_norm(train_cfg.grad_clip), opt)
  return opt
