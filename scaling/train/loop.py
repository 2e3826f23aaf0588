"""The training loop: from a config and a workdir to a finished, resumable run."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import time

import jax
import numpy as np

from scaling import accounting
from scaling import config as configlib
from scaling import sharding as shardlib
from scaling.data import datasets as datalib
from scaling.train import optim
from scaling.train import records
from scaling.train.runlock import one_writer
from scaling.train import state as statelib
from scaling.train import step as steplib
from scaling.train.checkpoint import Checkpointer
from scaling.train.progress import Progress
from scaling.validation import validate

EXIT_PREEMPTED = 75  # EX_TEMPFAIL: run the same command again to resume
EXIT_DIVERGED = 3


class Preempted(Exception):
  """Raised after a SIGTERM/SIGINT once the checkpoint is safely on disk."""

  def __init__(self, step: int):
    super().__init__(f"preempted at step {step}; checkpoint saved, rerun to resume")
    self.step = step


def prepare(config):
  """Resolves and validates a config; raises ConfigError. Writes nothing."""
  from scaling.data.errors import DataError  # pylint: disable=g-import-not-at-top
  from scaling.validation import ConfigError  # pylint: disable=g-import-not-at-top
  try:
    vocab_size = datalib.model_vocab_size(config)
  except DataError as e:
    raise ConfigError(str(e)) from None
  resolved = configlib.resolve(config, vocab_size=vocab_size,
                               platform=jax.default_backend())
  validate(resolved, jax.device_count())
  return resolved


class Diverged(Exception):
  """A non-finite loss or gradient under train.nan_policy (see Health)."""

  def __init__(self, step: int):
    super().__init__(f"diverged at step {step}: non-finite loss or gradient; the last "
                     "good checkpoint is kept (lower train.lr, or nan_policy=skip)")
    self.step = step


class Health:
  """Screens logged steps for non-finite loss or gradients (train.nan_policy).

  halt: the first non-finite step ends the run. skip: the step already left
  the state unchanged (in the jitted step); count it, and end the run after
  train.max_skipped consecutive ones. Counts carry over a resume through the
  metrics rows.
  """

  def __init__(self, train_cfg, earlier_rows):
    self.policy, self.max_skipped = train_cfg.nan_policy, train_cfg.max_skipped
    self.skipped = self.consecutive = 0
    for row in earlier_rows:
      self._count(row)

  def _count(self, row) -> bool:
    bad = bool(row.get("nonfinite"))
    self.skipped += bad
    self.consecutive = self.consecutive + 1 if bad else 0
    return bad

  def screen(self, rows):
    """(rows up to and including a diverged step, that step or None)."""
    for i, row in enumerate(rows):
      bad = self._count(row)
      if self.policy == "skip":
        row["skipped_steps"] = self.skipped
      if bad and (self.policy == "halt" or self.consecutive > self.max_skipped):
        return rows[:i + 1], row["step"]
    return rows, None


@dataclasses.dataclass
class _Signals:
  """Turns SIGTERM/SIGINT into a flag the loop checks after each step."""

  received: int | None = None
  # Multi-process: SIGTERM is left to JAX's preemption service, which agrees on
  # one step for every process (see Checkpointer.reached_preemption).
  multiprocess: bool = False

  def __enter__(self):
    self._old = {}
    for sig in (signal.SIGINT,) if self.multiprocess else (signal.SIGTERM, signal.SIGINT):
      try:
        self._old[sig] = signal.signal(sig, self._handle)
      except ValueError:  # not the main thread
        pass
    return self

  def _handle(self, signum, frame):
    del frame
    self.received = signum

  def __exit__(self, *exc):
    for sig, handler in self._old.items():
      signal.signal(sig, handler)


def evaluate(eval_fn, params, eval_sets, mesh, tokens_per_byte: float) -> dict:
  """Mean loss (nats/token), bits per byte and per-position loss over eval_sets
  (each batch holds this process's rows of the global batch)."""
  totals = None
  for batch in eval_sets:
    out = eval_fn(params, _device_batch(batch, mesh))
    totals = out if totals is None else jax.tree.map(lambda a, b: a + b, totals, out)
  totals = jax.device_get(totals)
  loss = float(totals["loss_sum"] / totals["count"])
  per_position = totals["per_position_sum"] / (totals["count"] / len(totals["per_position_sum"]))
  return {"val_loss": loss, "val_bpb": loss * tokens_per_byte / math.log(2),
          "per_position_loss": [float(x) for x in per_position]}


def _device_batch(batch, mesh):
  sharding = shardlib.batch_sharding(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in batch.items()}


def _summary(cfg, counts, state_step, train_loss, last_eval, best_val, wall, tps,
             status, batches):
  n = counts["nonembedding"]
  m = cfg.model
  flops_per_token = counts["flops_per_token"]  # accounting.model_flops, per model.kind
  batch_tokens = cfg.train.batch_size * cfg.data.seq_len
  tokens = state_step * batch_tokens
  return {
      "name": cfg.name, "status": status,
      "n_layer": m.n_layer, "d_model": m.d_model, "n_ctx": m.n_ctx,
      "n_params_nonembedding": n, "n_params_embedding": counts["embedding"],
      "model_kind": m.kind, "n_params_applied": counts["n_applied"],
      "n_params_formula": counts["n_params_formula"],
      "flops_per_token": flops_per_token,
      "c_forward_per_token": counts["c_forward_per_token"],
      "steps": state_step, "batch_size": cfg.train.batch_size,
      "batch_tokens": batch_tokens, "tokens_seen": tokens,
      "compute_flops": float(flops_per_token) * tokens,
      "compute_pf_days": float(flops_per_token) * tokens / accounting.PF_DAY,
      "epochs": batches.epoch(state_step),
      "train_tokens_available": batches.tokens_available,
      "max_train_tokens": cfg.data.get("max_train_tokens", 0) or None,
      "lr": cfg.train.lr, "train_loss": train_loss,
      "val_loss": last_eval.get("val_loss"), "best_val_loss": best_val,
      "val_bpb": last_eval.get("val_bpb"),
      "per_position_loss": last_eval.get("per_position_loss"),
      "per_position_val_loss": last_eval.get("per_position_val_loss",
                                              last_eval.get("val_loss")),
      "position_stride": cfg.eval.get("position_stride", 0),
      "wallclock_s": wall, "tokens_per_sec": tps,
  }


def _finished_summary(workdir: str, resume_step, steps: int) -> dict | None:
  """The summary of a run that already completed all `steps`, else None."""
  path = os.path.join(workdir, "summary.json")
  if resume_step != steps or not os.path.isfile(path):
    return None
  try:
    with open(path) as f:
      summary = json.load(f)
  except (OSError, ValueError):
    return None  # unreadable: evaluate again and rewrite it
  return summary if (summary.get("status") == "completed"
                     and summary.get("steps") == steps) else None


def train(config, workdir: str, *, progress: bool = True, lock_wait: float = 0.0) -> dict:
  """Trains (or resumes) the run `config` in `workdir`; returns its summary.
  Raises WorkdirBusy if another trainer still holds `workdir` after
  `lock_wait` seconds."""
  t_start = time.time()
  cfg = prepare(config)
  os.makedirs(workdir, exist_ok=True)
  with one_writer(workdir, lock_wait):
    return _train(cfg, workdir, progress, t_start)


def _train(cfg, workdir: str, progress: bool, t_start: float) -> dict:
  is_main = jax.process_index() == 0
  ckpt = Checkpointer(workdir, keep=cfg.checkpoint.keep)
  resume_step = ckpt.check_compatible(cfg)
  done = _finished_summary(workdir, resume_step, cfg.train.steps)
  if jax.process_count() > 1:  # every process follows process 0's summary.json
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    if not multihost_utils.broadcast_one_to_all(np.int32(done is not None)):
      done = None
    elif done is None:
      done = {"status": "completed", "steps": cfg.train.steps}
  if done is not None:  # nothing to do: keep the summary the run wrote when it finished
    ckpt.close()
    return done

  data_progress = progress and is_main
  vocab = datalib.run_vocab(cfg.data, workdir, progress=data_progress)
  store = datalib.open_dataset(cfg.data, vocab=vocab, progress=data_progress,
                               vocab_size=cfg.model.vocab_size)
  batches = datalib.train_batches(store, cfg)
  procs = {"process_index": jax.process_index(), "process_count": jax.process_count()}
  eval_sets = datalib.evaluation_batches(store, cfg, n_batches=cfg.eval.batches,
                                        progress=data_progress, **procs)
  tokens_per_byte = store.tokens_per_byte("validation")
  if cfg.eval.position_stride:  # a stride too coarse for the split fails now, not at the end
    datalib.position_batches(store, cfg, **procs)
  extra_sets = datalib.extra_eval_sets(cfg, vocab, progress=data_progress, **procs)
  if is_main:
    datalib.save_run_vocab(workdir, vocab)

  mesh = shardlib.make_mesh(cfg.mesh)
  lr_schedule = optim.schedule(cfg.train)
  setup = statelib.make_setup(cfg.model, optim.optimizer(cfg.train), mesh, cfg.train.seed,
                              gns=cfg.gns.enabled)
  train_step = steplib.jit_train_step(
      setup, steplib.make_train_step(setup, cfg.model, cfg.train, lr_schedule, cfg.gns))
  eval_step = steplib.jit_eval_step(setup, steplib.make_eval_step(setup, cfg.model))

  paths = {k: os.path.join(workdir, f"{k}.jsonl") for k in ("metrics", "eval")}
  writers = {k: records.JsonlWriter(p) for k, p in paths.items()}
  if resume_step is None:
    state = statelib.init_state(cfg.model, setup, cfg.train.seed)
    start = 0
  else:
    start, state = ckpt.restore(resume_step, setup.abstract_state)  # the newest intact one
  if is_main:
    records.write_json(os.path.join(workdir, "config.json"), cfg.to_dict())
    for w in writers.values():
      w.truncate_after(start)
  tb = records.TensorBoard(os.path.join(workdir, "tb")) if is_main else None
  counts = accounting.count_params(state["params"])
  counts.update(accounting.model_flops(cfg.model, state["params"]))
  batch_tokens = cfg.train.batch_size * cfg.data.seq_len
  bar = Progress(cfg.train.steps, start, enabled=progress and is_main)
  bar.message(f"{cfg.name}: N={counts['nonembedding']:,} non-embedding params, "
              f"{cfg.train.steps} steps of {batch_tokens:,} tokens, "
              f"{'resuming at step %d' % start if start else 'from scratch'} on "
              f"{jax.device_count()} {jax.default_backend()} device(s)")

  eval_rows = records.read_jsonl(paths["eval"])
  best_val = min((r["val_loss"] for r in eval_rows), default=float("inf"))
  last_eval = eval_rows[-1] if eval_rows else {}

  def run_eval(step, final=False):
    nonlocal best_val, last_eval
    last_eval = evaluate(eval_step, state["params"], eval_sets, mesh, tokens_per_byte)
    if final and cfg.eval.position_stride:  # summary's per_position_loss: overlapping windows
      windows = datalib.position_batches(store, cfg, **procs)
      positions = evaluate(eval_step, state["params"], windows, mesh, tokens_per_byte)
      last_eval["per_position_loss"] = positions["per_position_loss"]
      last_eval["per_position_val_loss"] = positions["val_loss"]
    best_val = min(best_val, last_eval["val_loss"])
    row = {"step": step, "tokens": step * batch_tokens,
           "val_loss": last_eval["val_loss"], "val_bpb": last_eval["val_bpb"]}
    for name, (sets, tpb) in extra_sets.items():  # eval.datasets
      extra = evaluate(eval_step, state["params"], sets, mesh, tpb)
      row[f"val_loss/{name}"], row[f"val_bpb/{name}"] = extra["val_loss"], extra["val_bpb"]
    last_eval.update(row)
    if is_main:
      writers["eval"].write([row])
      tb.scalars(step, {k: v for k, v in row.items() if k.startswith("val_")}, "eval/")
    bar.message(f"eval step {step}: val_loss {row['val_loss']:.4f} nats/token, "
                f"{row['val_bpb']:.4f} bits/byte")

  if start == 0:
    run_eval(0)

  health = Health(cfg.train, records.read_jsonl(paths["metrics"]))
  pending, recent_losses = [], []
  t_log = t_steady = time.time()
  steady_from = None
  status = "completed"
  step = start
  multiprocess = jax.process_count() > 1
  with _Signals(multiprocess=multiprocess) as signals:
    while step < cfg.train.steps:
      batch = _device_batch(batches(step, jax.process_index(), jax.process_count()), mesh)
      state, metrics = train_step(state, batch)
      step += 1
      pending.append((step, metrics))
      if steady_from is None:  # the first step compiles: time from its end
        jax.block_until_ready(metrics)
        steady_from, t_steady, t_log = step, time.time(), time.time()
        pending_time_base = step
      last = step == cfg.train.steps
      stop = signals.received is not None or (multiprocess and ckpt.reached_preemption(step))
      due = [step % every == 0 for every in
             (cfg.train.log_every, cfg.eval.every_steps, cfg.checkpoint.every_steps)]
      if any(due) or last or stop:  # metrics are screened before any eval or save
        fetched = jax.device_get([m for _, m in pending])
        now = time.time()
        n_new = step - pending_time_base  # steps timed since the last flush
        tps = n_new * batch_tokens / max(now - t_log, 1e-9) if n_new else None
        rows = [{"step": s, "tokens": s * batch_tokens,
                 **{k: float(v) for k, v in m.items()}, "tokens_per_sec": tps}
                for (s, _), m in zip(pending, fetched)]
        rows, diverged_at = health.screen(rows)
        recent_losses = [r["loss"] for r in rows][-cfg.train.log_every:]
        if is_main:
          writers["metrics"].write(rows)
          tb.scalars(rows[-1]["step"], rows[-1])
        bar.update(rows[-1]["step"], f"loss {rows[-1]['loss']:.4f}"
                   + (f" {tps / 1e3:.1f}K tok/s" if tps else ""))
        pending, t_log, pending_time_base = [], now, step
        if diverged_at is not None:  # nothing after it is evaluated or saved
          status, step = "diverged", diverged_at
          bar.message(f"diverged at step {step} (train.nan_policy="
                      f"{cfg.train.nan_policy}); the last checkpoint is untouched")
          break
      if step % cfg.eval.every_steps == 0 or last:
        run_eval(step, final=last)
      if step % cfg.checkpoint.every_steps == 0 or last or stop:
        ckpt.save(step, state, cfg, force=True)
      if stop and not last:
        status = "preempted"
        break
  ckpt.wait()
  bar.close()
  wall = time.time() - t_start
  steady_steps = step - (steady_from or step)
  tps = steady_steps * batch_tokens / max(time.time() - t_steady, 1e-9)
  train_loss = float(np.mean(recent_losses)) if recent_losses else None
  summary = _summary(cfg, counts, step, train_loss, last_eval,
                     best_val if math.isfinite(best_val) else None, wall, tps, status,
                     batches)
  if status == "diverged":
    summary["diverged_step"] = step
  summary["skipped_steps"] = health.skipped
  summary.update({k: v for k, v in last_eval.items() if k.startswith(("val_loss/", "val_bpb/"))})
  if is_main:
    records.write_json(os.path.join(workdir, "summary.json"), summary)
    tb.close()
  ckpt.close()
  if status == "preempted":
    raise Preempted(step)
  if status == "diverged":
    raise Diverged(step)
  return summary
