"""The config validation table: every rule names its key and the fix.

`validate(config, n_devices)` runs on a resolved config before anything is
compiled or written and raises ConfigError with one line for the first broken
rule.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from scaling.config import OPTIMIZERS, SCHEDULES, SIZES
from scaling.config_formats import (data_parallel, eval_sets_of, mesh_data,
                                    parse_injection, parse_start_from, per_device_batch)
from scaling.data import sources, vocab
from scaling.models import KINDS
from scaling.errors import UserError

class ConfigError(UserError):
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

def _data_error(check):
  """A Rule's (ok, fix) pair from a function returning an error line or None."""
  def error(c):
    try:
      return check(c)
    except ValueError as e:  # DataError
      return str(e)
  return (lambda c, n: error(c) is None), (lambda c, n: error(c))

def _eval_datasets_error(c):
  if eval_sets_of(c.eval) and c.data.source == "synthetic":
    return "eval.datasets needs a text data.source for its vocabulary, not synthetic"
  return None

def _platform() -> str:
  import jax  # pylint: disable=g-import-not-at-top
  return jax.default_backend()

def _parses(parse, spec) -> bool:
  """Whether one of config_formats' parsers accepts `spec`."""
  try:
    parse(spec)
    return True
  except ValueError:
    return False

_GNS_RULES = (
    _positive_int("gns", "microbatches"),
    Rule("gns.microbatches", lambda c, n: c.train.batch_size % c.gns.microbatches == 0,
         lambda c, n: f"gns.microbatches={c.gns.microbatches} does not divide "
                      f"train.batch_size={c.train.batch_size}; choose a divisor of "
                      f"{c.train.batch_size}"),
    Rule("gns.microbatches", lambda c, n: per_device_batch(c, n) % c.gns.microbatches == 0,
         lambda c, n: f"gns.microbatches={c.gns.microbatches} does not divide the per-device "
                      f"batch of {per_device_batch(c, n)} (train.batch_size="
                      f"{c.train.batch_size} over {data_parallel(c, n)} data-parallel devices); "
                      f"choose a divisor of {per_device_batch(c, n)}"),
    Rule("gns.enabled", lambda c, n: not c.gns.enabled or c.gns.microbatches >= 2,
         lambda c, n: f"gns.enabled=True with gns.microbatches={c.gns.microbatches}: one "
                      "micro-batch cannot estimate noise; set gns.microbatches >= 2 "
                      "(e.g. 4) dividing train.batch_size"),
    Rule("gns.ema", lambda c, n: 0.0 <= c.gns.ema < 1.0,
         lambda c, n: f"gns.ema={c.gns.ema} must be in [0, 1) (e.g. 0.95)"),
)

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
    Rule("model.remat", lambda c, n: c.model.remat in ("none", "block"),
         lambda c, n: f"model.remat={c.model.remat!r} is unknown; use none or block"),
    Rule("model.loss_chunk", lambda c, n: c.model.loss_chunk >= 0
         and (c.model.loss_chunk == 0 or c.data.seq_len % c.model.loss_chunk == 0),
         lambda c, n: f"model.loss_chunk={c.model.loss_chunk} must be 0 or divide "
                      f"data.seq_len={c.data.seq_len}"),
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
    Rule("data.source", *_data_error(lambda c: sources.spec_error(c.data.source))),
    Rule("data.source", lambda c, n: not (c.data.source.startswith("nltk:")
                                          and c.data.source.endswith(":tune")),
         lambda c, n: f"data.source={c.data.source} is the tuning split, for an "
                      "eval.datasets entry only; train on it without ':tune'"),
    Rule("data.vocab", *_data_error(lambda c: None if c.data.source == "synthetic"
                                    else vocab.spec_error(c.data.vocab))),
    Rule("data.max_train_tokens", lambda c, n: isinstance(c.data.max_train_tokens, int)
         and c.data.max_train_tokens >= 0,
         lambda c, n: f"data.max_train_tokens={c.data.max_train_tokens!r} must be a whole "
                      "number of tokens >= 0 (0: the whole train split)"),
    Rule("data.text_documents", lambda c, n: c.data.text_documents in sources.TEXT_DOCUMENTS,
         lambda c, n: f"data.text_documents={c.data.text_documents!r} is unknown; use one of "
                      f"{', '.join(sources.TEXT_DOCUMENTS)}"),
    Rule("eval.datasets", *_data_error(_eval_datasets_error)),
    Rule("eval.position_stride", lambda c, n: isinstance(c.eval.position_stride, int)
         and 0 <= c.eval.position_stride <= c.data.seq_len,
         lambda c, n: f"eval.position_stride={c.eval.position_stride!r} must be a whole number "
                      f"from 0 (per-position loss from the regular evaluation) to data.seq_len="
                      f"{c.data.seq_len}"),
    Rule("data.seq_len", lambda c, n: c.data.seq_len <= c.model.n_ctx,
         lambda c, n: f"data.seq_len={c.data.seq_len} is longer than model.n_ctx="
                      f"{c.model.n_ctx}; set data.seq_len <= {c.model.n_ctx} or raise model.n_ctx"),
    _positive_int("train", "steps"),
    _positive_int("train", "batch_size"),
    Rule("train.optimizer", lambda c, n: c.train.optimizer in OPTIMIZERS,
         lambda c, n: f"train.optimizer={c.train.optimizer!r} is unknown; use one of "
                      f"{', '.join(OPTIMIZERS)}"),
    # stacked under scan, a block parameter's leading n_layer axis would change
    # which two dimensions Adafactor factors once n_layer reaches 128
    Rule("model.scan_layers", lambda c, n: not (c.train.optimizer == "adafactor"
                                                and c.model.scan_layers
                                                and not c.model.share_layers
                                                and c.model.n_layer >= 128),
         lambda c, n: f"train.optimizer=adafactor with model.scan_layers=True needs "
                      f"model.n_layer < 128 (it is {c.model.n_layer}); set "
                      "model.scan_layers=False"),
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
    Rule("train.nan_policy", lambda c, n: c.train.nan_policy in ("halt", "skip"),
         lambda c, n: f"train.nan_policy={c.train.nan_policy!r} is unknown; use halt or skip"),
    Rule("train.max_skipped", lambda c, n: isinstance(c.train.max_skipped, int)
         and c.train.max_skipped >= 0,
         lambda c, n: f"train.max_skipped={c.train.max_skipped!r} must be an integer >= 0"),
    Rule("train.inject_nonfinite", lambda c, n: _parses(parse_injection, c.train.inject_nonfinite),
         lambda c, n: f"train.inject_nonfinite={c.train.inject_nonfinite!r} must be '' or "
                      "look like loss@STEP or grad@STEP"),
    Rule("checkpoint.start_from", lambda c, n: _parses(parse_start_from, c.checkpoint.start_from),
         lambda c, n: f"checkpoint.start_from={c.checkpoint.start_from!r} must be '' or "
                      "look like RUN_DIR@STEP (a run directory and one of its checkpoints)"),
    _positive_int("checkpoint", "every_steps"),
    _positive_int("checkpoint", "keep"),
    _positive_int("eval", "every_steps"),
    _positive_int("eval", "batches"),
    Rule("mesh.fsdp", lambda c, n: c.mesh.fsdp >= 1 and c.mesh.model >= 1
         and n % (c.mesh.fsdp * c.mesh.model) == 0,
         lambda c, n: f"mesh.fsdp={c.mesh.fsdp} x mesh.model={c.mesh.model} must be >= 1 "
                      f"and divide the {n} devices"),
    Rule("mesh.data", lambda c, n: mesh_data(c, n) >= 1
         and mesh_data(c, n) * c.mesh.fsdp * c.mesh.model == n,
         lambda c, n: f"mesh.data={c.mesh.data} x mesh.fsdp={c.mesh.fsdp} x mesh.model="
                      f"{c.mesh.model} does not match the {n} devices; set mesh.data=-1 "
                      f"or make the product {n}"),
    Rule("train.batch_size", lambda c, n: c.train.batch_size % data_parallel(c, n) == 0,
         lambda c, n: f"train.batch_size={c.train.batch_size} is not divisible by the "
                      f"{data_parallel(c, n)} data-parallel devices (mesh.data x mesh.fsdp); use a "
                      f"multiple of {data_parallel(c, n)}"),
    *_GNS_RULES,
)

def validate(config, n_devices: int) -> None:
  for rule in RULES:
    try:
      ok = rule.ok(config, n_devices)
    except (TypeError, ValueError, KeyError, AttributeError):
      ok = False
    if not ok:
      raise ConfigError(rule.fix(config, n_devices))
