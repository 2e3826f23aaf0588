"""The training loop's side jobs, as small periodic hooks (cf. CLU's periodic
actions): each says when it is due and does one thing.

  MetricsHook     fetches the pending step metrics, screens them (Health),
                  writes metrics.jsonl and TensorBoard, moves the progress bar
  EvalHook        runs the Evaluator, writes eval.jsonl, keeps the best loss
  CheckpointHook  saves the state
  Signals         turns SIGTERM/SIGINT into a stop after the current step
"""

from __future__ import annotations

import dataclasses
import math
import signal
import time

import jax
import numpy as np


def every(n: int, step: int) -> bool:
  return step % n == 0


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
class Signals:
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


class MetricsHook:
  """Step metrics: kept on device until due, then fetched, screened, written.

  Due every train.log_every steps and whenever another hook is (metrics are
  screened before any evaluation or save). Tokens per second are timed from
  the end of the first step, which compiles."""

  def __init__(self, cfg, health: Health, writer, bar, start: int, earlier_rows=()):
    self.cfg, self.health, self.writer, self.bar = cfg, health, writer, bar
    # a resume that has no step left to run reports the losses logged last
    self.pending = []
    self.recent_losses = [r["loss"] for r in earlier_rows
                          if r["step"] <= start][-cfg.train.log_every:]
    self.steady_from, self.t_steady = None, time.time()
    self.t_log, self.timed_from = self.t_steady, start

  def record(self, step: int, metrics) -> None:
    self.pending.append((step, metrics))
    if self.steady_from is None:  # the first step compiles: time from its end
      jax.block_until_ready(metrics)
      self.steady_from = self.timed_from = step
      self.t_steady = self.t_log = time.time()

  def due(self, step: int) -> bool:
    return every(self.cfg.train.log_every, step)

  def __call__(self, step: int) -> int | None:
    """Flushes the pending steps; returns the step a divergence ended at, or None."""
    fetched = jax.device_get([m for _, m in self.pending])
    now, n_timed = time.time(), step - self.timed_from
    tps = n_timed * self.cfg.batch_tokens / max(now - self.t_log, 1e-9) if n_timed else None
    rows = [{"step": s, "tokens": s * self.cfg.batch_tokens,
             **{k: float(v) for k, v in m.items()}, "tokens_per_sec": tps}
            for (s, _), m in zip(self.pending, fetched)]
    rows, diverged_at = self.health.screen(rows)
    self.recent_losses = [r["loss"] for r in rows][-self.cfg.train.log_every:]
    if self.writer:  # the main process's scaling.tracking writer
      self.writer.write("metrics", rows)
    self.bar.update(rows[-1]["step"], f"loss {rows[-1]['loss']:.4f}"
                    + (f" {tps / 1e3:.1f}K tok/s" if tps else ""))
    self.pending, self.t_log, self.timed_from = [], now, step
    return diverged_at

  def steady_tokens_per_sec(self, step: int) -> float:
    steady_steps = step - (self.steady_from or step)
    return steady_steps * self.cfg.batch_tokens / max(time.time() - self.t_steady, 1e-9)

  def train_loss(self) -> float | None:
    return float(np.mean(self.recent_losses)) if self.recent_losses else None


class EvalHook:
  """Evaluations every eval.every_steps and at the last step (see Evaluator)."""

  def __init__(self, cfg, run, evaluator, writer, bar):
    self.cfg, self.evaluator, self.writer, self.bar = cfg, evaluator, writer, bar
    rows = run.evals()
    self.best = min((r["val_loss"] for r in rows), default=float("inf"))
    self.last = rows[-1] if rows else {}

  def due(self, step: int) -> bool:
    return every(self.cfg.eval.every_steps, step)

  def __call__(self, step: int, params, *, final: bool = False) -> None:
    row, self.last = self.evaluator(params, step, final=final)
    self.best = min(self.best, row["val_loss"])
    if self.writer:
      self.writer.write("eval", [row])
    self.bar.message(f"eval step {step}: val_loss {row['val_loss']:.4f} nats/token, "
                     f"{row['val_bpb']:.4f} bits/byte")

  def measure_final(self, step: int, params) -> None:
    """The last step's full evaluation (per-position loss included) without a
    new eval row: for a resume that starts at the last step, whose earlier
    run saved it but wrote no summary."""
    _, self.last = self.evaluator(params, step, final=True)

  def best_val_loss(self) -> float | None:
    return self.best if math.isfinite(self.best) else None


class CheckpointHook:
  """Saves every checkpoint.every_steps, at the last step and when stopping."""

  def __init__(self, cfg, ckpt):
    self.cfg, self.ckpt = cfg, ckpt

  def due(self, step: int) -> bool:
    return every(self.cfg.checkpoint.every_steps, step)

  def __call__(self, step: int, state) -> None:
    self.ckpt.save(step, state, self.cfg, force=True)
