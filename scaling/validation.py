"""The config validation table: every rule names its key and the fix.

`validate(config, n_devices)` runs on a resolved config before anything is
compiled or written and raises ConfigError with one line for the first broken
rule.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from scaling.config import OPTIMIZERS, SCHEDULES, SIZES
from scaling.models import KINDS


class ConfigError(ValueError):
  """A config value that cannot run; the message says what to change."""


@dataclasses.dataclass(frozen=True)
class Rule:
  key: str
  ok: Callable          # (config, n_devices) -> bool
  fix: Callable         # (config, n_devices) -> str


def _positive_int(section, key):
  return Rule(f"{section}.{key}",
              lambda c, n: isinstance(c[section][key], int) and c[section][key] > 0,
              lambda c, n: f"{section}.{key}={c[section][key]!r} must be a positive integer")


def _platform() -> str:
  import jax  # pylint: disable=g-import-not-at-top
  return jax.default_backend()


def _mesh_data(c, n):
  return c.mesh.data if c.mesh.data != -1 else n // max(c.mesh.model, 1)


RULES = (
    Rule("model.kind", lambda c, n: c.model.kind in KINDS,
         lambda c, n: f"model.kind={c.model.kind!r} is unknown; use one of {', '.join(KINDS)}"),
    Rule("model.size", lambda c, n: c.model.size in SIZES,
         lambda c, n: f"model.size={c.model.size!r} is unknown; use one of {', '.join(SIZES)}"),
    *(_positive_int("model", k) for k in
      ("n_layer", "d_model", "d_ff", "d_attn", "n_heads", "n_ctx", "vocab_size")),
    Rule("model.n_heads", lambda c, n: c.model.d_attn % c.model.n_heads == 0,
         lambda c, n: f"model.n_heads={c.model.n_heads} does not divide model.d_attn="
                      f"{c.model.d_attn}; choose n_heads dividing {c.model.d_attn}"),
    Rule("model.dtype", lambda c, n: c.model.dtype in ("float32", "bfloat16", "float16"),
         lambda c, n: f"model.dtype={c.model.dtype!r} is unknown; use auto, float32 or bfloat16"),
    Rule("model.param_dtype", lambda c, n: c.model.param_dtype in ("float32", "bfloat16"),
         lambda c, n: f"model.param_dtype={c.model.param_dtype!r} is unknown; use float32 or bfloat16"),
    Rule("model.attention", lambda c, n: c.model.attention in ("xla", "cudnn"),
         lambda c, n: f"model.attention={c.model.attention!r} is unknown; use auto, xla or cudnn"),
    Rule("model.dropout", lambda c, n: 0.0 <= c.model.dropout < 1.0,
         lambda c, n: f"model.dropout={c.model.dropout} must be in [0, 1)"),
    Rule("model.lstm_impl", lambda c, n: c.model.lstm_impl in ("scan", "cudnn"),
         lambda c, n: f"model.lstm_impl={c.model.lstm_impl!r} is unknown; use auto, scan or cudnn"),
    Rule("model.lstm_impl", lambda c, n: c.model.kind != "lstm"
         or c.model.lstm_impl != "cudnn" or _platform() == "gpu",
         lambda c, n: f"model.lstm_impl=cudnn needs a CUDA GPU but this run is on "
                      f"{_platform()}; use model.lstm_impl=scan (or auto)"),
    Rule("model.lstm_impl", lambda c, n: c.model.kind != "lstm"
         or c.model.lstm_impl != "cudnn" or not c.model.dropout,
         lambda c, n: f"model.lstm_impl=cudnn has no dropout (model.dropout="
                      f"{c.model.dropout}); use model.lstm_impl=scan or model.dropout=0"),
    _positive_int("model", "lstm_unroll"),
    Rule("model.share_layers", lambda c, n: c.model.kind == "transformer"
         or not c.model.share_layers,
         lambda c, n: f"model.share_layers=True applies to model.kind='transformer' only; "
                      f"set model.share_layers=False for model.kind={c.model.kind!r}"),
    _positive_int("data", "seq_len"),
    Rule("data.seq_len", lambda c, n: c.data.seq_len <= c.model.n_ctx,
         lambda c, n: f"data.seq_len={c.data.seq_len} is longer than model.n_ctx="
                      f"{c.model.n_ctx}; set data.seq_len <= {c.model.n_ctx} or raise model.n_ctx"),
    _positive_int("train", "steps"),
    _positive_int("train", "batch_size"),
    Rule("train.optimizer", lambda c, n: c.train.optimizer in OPTIMIZERS,
         lambda c, n: f"train.optimizer={c.train.optimizer!r} is unknown; use one of "
                      f"{', '.join(OPTIMIZERS)}"),
    Rule("train.schedule", lambda c, n: c.train.schedule in SCHEDULES,
         lambda c, n: f"train.schedule={c.train.schedule!r} is unknown; use one of "
                      f"{', '.join(SCHEDULES)}"),
    Rule("train.lr", lambda c, n: c.train.lr > 0,
         lambda c, n: f"train.lr={c.train.lr} must be positive (or 'kaplan')"),
    Rule("train.warmup_steps", lambda c, n: c.train.warmup_steps >= 0,
         lambda c, n: f"train.warmup_steps={c.train.warmup_steps} must be >= 0"),
    Rule("train.grad_clip", lambda c, n: c.train.grad_clip >= 0,
         lambda c, n: f"train.grad_clip={c.train.grad_clip} must be >= 0 (0 turns it off)"),
    Rule("train.weight_decay", lambda c, n: c.train.weight_decay >= 0,
         lambda c, n: f"train.weight_decay={c.train.weight_decay} must be >= 0"),
    _positive_int("train", "log_every"),
    _positive_int("checkpoint", "every_steps"),
    _positive_int("checkpoint", "keep"),
    _positive_int("eval", "every_steps"),
    _positive_int("eval", "batches"),
    Rule("mesh.model", lambda c, n: c.mesh.model >= 1 and n % c.mesh.model == 0,
         lambda c, n: f"mesh.model={c.mesh.model} must be >= 1 and divide the {n} devices"),
    Rule("mesh.data", lambda c, n: _mesh_data(c, n) >= 1
         and _mesh_data(c, n) * c.mesh.model == n,
         lambda c, n: f"mesh.data={c.mesh.data} x mesh.model={c.mesh.model} does not match "
                      f"the {n} devices; set mesh.data=-1 or so that the product is {n}"),
    Rule("train.batch_size", lambda c, n: c.train.batch_size % max(_mesh_data(c, n), 1) == 0,
         lambda c, n: f"train.batch_size={c.train.batch_size} is not divisible by the "
                      f"{_mesh_data(c, n)} data-parallel devices; use a multiple of "
                      f"{_mesh_data(c, n)}"),
)


def validate(config, n_devices: int) -> None:
  for rule in RULES:
    try:
      ok = rule.ok(config, n_devices)
    except (TypeError, ValueError, KeyError, AttributeError):
      ok = False
    if not ok:
      raise ConfigError(rule.fix(config, n_devices))
