"""The training loop: from a config and a workdir to a finished, resumable run.

  train(config, workdir)  build -> restore or init -> step -> hooks -> summary

The run's machinery comes from engine.build, its evaluations from the
Evaluator, its side jobs (metrics, evaluation, checkpoints, signals) from
hooks.py, and every file it writes goes through scaling.results.RunDir.
"""

from __future__ import annotations

import contextlib
import os
import time

import jax
import numpy as np

from scaling import accounting
from scaling.config_formats import parse_start_from
from scaling.data import datasets as datalib
from scaling.results import RunDir, Summary
from scaling import tracking
from scaling.train import engine
from scaling.train import hooks as hooklib
from scaling.train.checkpoint import Checkpointer
from scaling.train.evaluator import Evaluator, evaluate  # pylint: disable=unused-import  (loop.evaluate)
from scaling.train.progress import Progress
from scaling.train.runlock import one_writer
from scaling.train import vocab_files

prepare = engine.prepare  # resolves and validates a config once: a RunConfig


class Preempted(Exception):
  """Raised after a SIGTERM/SIGINT once the checkpoint is safely on disk."""

  def __init__(self, step: int):
    super().__init__(f"preempted at step {step}; checkpoint saved, rerun to resume")
    self.step = step


class Diverged(Exception):
  """A non-finite loss or gradient under train.nan_policy (see hooks.Health)."""

  def __init__(self, step: int):
    super().__init__(f"diverged at step {step}: non-finite loss or gradient; the last "
                     "good checkpoint is kept (lower train.lr, or nan_policy=skip)")
    self.step = step


def train(config, workdir: str, *, progress: bool = True, lock_wait: float = 0.0) -> dict:
  """Trains (or resumes) the run `config` in `workdir`; returns its summary.
  Raises WorkdirBusy if another trainer still holds `workdir` after
  `lock_wait` seconds."""
  t_start = time.time()
  cfg = prepare(config)
  os.makedirs(workdir, exist_ok=True)
  with one_writer(workdir, lock_wait):
    return _train(cfg, RunDir(workdir), progress, t_start)


def _train(cfg, run: RunDir, progress: bool, t_start: float) -> dict:
  ckpt = Checkpointer(run.path, keep=cfg.checkpoint.keep)
  try:
    return _run(cfg, run, ckpt, progress, t_start)
  except BaseException:  # a failed start (e.g. no intact checkpoint) stops orbax's threads too
    with contextlib.suppress(Exception):
      ckpt.close()
    raise


def _run(cfg, run: RunDir, ckpt: Checkpointer, progress: bool, t_start: float) -> dict:
  if branch := parse_start_from(cfg.checkpoint.start_from):
    source, step = branch
    ckpt.start_from(os.path.join(run.path, source), step)
  resume_step = ckpt.check_compatible(cfg)
  done = _finished_summary(run, resume_step, cfg.train.steps)
  if done is not None:  # nothing to do: keep the summary the run wrote when it finished
    ckpt.close()
    return done
  is_main, show = jax.process_index() == 0, progress and jax.process_index() == 0
  eng = engine.build(cfg)
  vocab, store, batches, evaluator = _open_data(cfg, run, eng, show)
  start, state = (0, eng.init_state()) if resume_step is None else \
      ckpt.restore(resume_step, eng.setup.abstract_state)
  counts = _counts(cfg, state)
  writer = _open_records(cfg, run, start) if is_main else None
  bar = Progress(cfg.train.steps, start, enabled=show)
  bar.message(_start_line(cfg, counts, start))
  earlier = run.metrics()
  metrics = hooklib.MetricsHook(cfg, hooklib.Health(cfg.train, earlier), writer, bar,
                                start, earlier)
  evals = hooklib.EvalHook(cfg, run, evaluator, writer, bar)
  saves = hooklib.CheckpointHook(cfg, ckpt)
  if start == 0:
    evals(0, state["params"])
  elif start == cfg.train.steps:
    evals.measure_final(start, state["params"])
  status, step = _steps(eng, batches, state, start, metrics, evals, saves, ckpt)
  ckpt.wait()
  ckpt.close()  # before the summary: a save that fails only now leaves none
  bar.close()
  summary = _summary(cfg, counts, step, status, metrics, evals, batches,
                     time.time() - t_start)
  if is_main:
    run.write_summary(summary)
    writer.close()
  if status == "preempted":
    raise Preempted(step)
  if status == "diverged":
    raise Diverged(step)
  return summary.to_dict()


def _steps(eng, batches, state, step, metrics, evals, saves, ckpt) -> tuple[str, int]:
  """Steps to train.steps, running each hook when due; (status, last step)."""
  cfg, procs = eng.cfg, (jax.process_index(), jax.process_count())
  multiprocess = jax.process_count() > 1
  with hooklib.Signals(multiprocess=multiprocess) as signals:
    while step < cfg.train.steps:
      state, step_metrics = eng.train_step(state, eng.device_batch(batches(step, *procs)))
      step += 1
      metrics.record(step, step_metrics)
      last = step == cfg.train.steps
      stop = signals.received is not None or (multiprocess and ckpt.reached_preemption(step))
      eval_due, save_due = evals.due(step) or last, saves.due(step) or last or stop
      if metrics.due(step) or eval_due or save_due:  # screened before any eval or save
        diverged_at = metrics(step)
        if diverged_at is not None:  # nothing after it is evaluated or saved
          metrics.bar.message(f"diverged at step {diverged_at} (train.nan_policy="
                              f"{cfg.train.nan_policy}); the last checkpoint is untouched")
          return "diverged", diverged_at
      if eval_due:
        evals(step, state["params"], final=last)
      if save_due:
        saves(step, state)
      if stop and not last:
        return "preempted", step
  return "completed", step


def _open_data(cfg, run: RunDir, eng, show: bool):
  """The run's vocabulary (saved into the run), token store, train batches and
  Evaluator."""
  vocab = vocab_files.run_vocab(cfg.data, run.path, progress=show)
  store = datalib.open_dataset(cfg.data, vocab=vocab, progress=show,
                               vocab_size=cfg.model.vocab_size)
  batches = datalib.train_batches(store, cfg)
  evaluator = Evaluator.for_run(cfg, store, vocab, eng.eval_step, eng.mesh, progress=show)
  if jax.process_index() == 0:
    vocab_files.save_run_vocab(run.path, vocab)
  return vocab, store, batches, evaluator


def _open_records(cfg, run: RunDir, start: int) -> tracking.MultiWriter:
  """Writes config.json, opens the metrics writer (JSONL, TensorBoard and W&B
  with log.wandb) and drops metrics and evaluations past `start` (a resume
  replays them)."""
  run.write_config(cfg.to_dict())
  writer = tracking.make_writer(run.path, wandb_project=cfg.log.wandb, config=cfg.to_dict())
  writer.truncate_after(start)
  return writer


def _counts(cfg, state) -> dict:
  counts = accounting.count_params(state["params"])
  counts.update(cfg.family.flops(cfg.model, state["params"]))
  return counts


def _start_line(cfg, counts, start: int) -> str:
  return (f"{cfg.name}: N={counts['nonembedding']:,} non-embedding params, "
          f"{cfg.train.steps} steps of {cfg.batch_tokens:,} tokens, "
          f"{'resuming at step %d' % start if start else 'from scratch'} on "
          f"{jax.device_count()} {jax.default_backend()} device(s)")


def _summary(cfg, counts, step, status, metrics, evals, batches, wall) -> Summary:
  m, last, flops = cfg.model, evals.last, counts["flops_per_token"]
  tokens = step * cfg.batch_tokens
  return Summary(
      name=cfg.name, status=status, n_layer=m.n_layer, d_model=m.d_model, n_ctx=m.n_ctx,
      n_params_nonembedding=counts["nonembedding"], n_params_embedding=counts["embedding"],
      model_kind=m.kind, n_params_applied=counts["n_applied"],
      n_params_formula=counts["n_params_formula"], flops_per_token=flops,
      c_forward_per_token=counts["c_forward_per_token"], steps=step,
      batch_size=cfg.train.batch_size, batch_tokens=cfg.batch_tokens, tokens_seen=tokens,
      compute_flops=float(flops) * tokens,
      compute_pf_days=float(flops) * tokens / accounting.PF_DAY,
      epochs=batches.epoch(step), train_tokens_available=batches.tokens_available,
      max_train_tokens=cfg.data.max_train_tokens or None, lr=cfg.train.lr,
      train_loss=metrics.train_loss(), val_loss=last.get("val_loss"),
      best_val_loss=evals.best_val_loss(), val_bpb=last.get("val_bpb"),
      per_position_loss=last.get("per_position_loss"),
      per_position_val_loss=last.get("per_position_val_loss", last.get("val_loss")),
      position_stride=cfg.eval.position_stride, wallclock_s=wall,
      tokens_per_sec=metrics.steady_tokens_per_sec(step),
      diverged_step=step if status == "diverged" else None,
      skipped_steps=metrics.health.skipped,
      extra={k: v for k, v in last.items() if k.startswith(("val_loss/", "val_bpb/"))})


def _finished_summary(run: RunDir, resume_step, steps: int) -> dict | None:
  """The summary of a run that already completed all `steps`, else None; every
  process follows process 0's."""
  summary = run.summary_or_none() if resume_step == steps else None
  done = summary if (summary and summary.get("status") == "completed"
                     and summary.get("steps") == steps) else None
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    if not multihost_utils.broadcast_one_to_all(np.int32(done is not None)):
      return None
    return done or {"status": "completed", "steps": steps}
  return done
