"""Evaluation: the mean loss, bits per byte and per-position loss of a model.

`Evaluator` owns a training run's evaluation batches, its extra evaluation
sets (eval.datasets / eval.sets) and its per-position windows
(eval.position_stride); offline_eval.py evaluates a saved run (scaling-eval).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Iterable

import jax

from scaling.data import datasets as datalib
from scaling.sharding import device_batch


def evaluate(eval_fn, params, eval_sets, mesh, tokens_per_byte: float) -> dict:
  """Mean loss (nats/token), bits per byte and per-position loss over eval_sets
  (each batch holds this process's rows of the global batch)."""
  totals = None
  for batch in eval_sets:
    out = eval_fn(params, device_batch(batch, mesh))
    totals = out if totals is None else jax.tree.map(lambda a, b: a + b, totals, out)
  totals = jax.device_get(totals)
  loss = float(totals["loss_sum"] / totals["count"])
  per_position = totals["per_position_sum"] / (totals["count"] / len(totals["per_position_sum"]))
  return {"val_loss": loss, "val_bpb": loss * tokens_per_byte / math.log(2),
          "per_position_loss": [float(x) for x in per_position]}


@dataclasses.dataclass
class Evaluator:
  """A training run's evaluations (see evaluate): the validation batches, the
  extra sets by name, and the per-position windows of the final evaluation."""

  eval_step: Callable
  mesh: object
  batches: list
  tokens_per_byte: float
  extra: dict                    # name -> (batches, tokens_per_byte)
  windows: Iterable | None       # the final evaluation's per-position windows, read once
  batch_tokens: int

  @classmethod
  def for_run(cls, cfg, store, vocab, eval_step, mesh, *, progress: bool) -> "Evaluator":
    procs = {"process_index": jax.process_index(), "process_count": jax.process_count()}
    batches = datalib.evaluation_batches(store, cfg, n_batches=cfg.eval.batches,
                                         progress=progress, **procs)
    windows = None
    if cfg.eval.position_stride:  # built (and a stride too coarse refused) now, read at the end
      windows = datalib.position_batches(store, cfg, **procs)
    extra = datalib.extra_eval_sets(cfg, vocab, progress=progress, **procs)
    return cls(eval_step, mesh, batches, store.tokens_per_byte("validation"), extra,
               windows, cfg.batch_tokens)

  def __call__(self, params, step: int, *, final: bool = False) -> tuple[dict, dict]:
    """(the eval.jsonl row, everything measured: the row, per-position loss)."""
    out = evaluate(self.eval_step, params, self.batches, self.mesh, self.tokens_per_byte)
    if final and self.windows:  # the summary's per_position_loss: overlapping windows
      positions = evaluate(self.eval_step, params, self.windows, self.mesh,
                           self.tokens_per_byte)
      self.windows = None
      out["per_position_loss"] = positions["per_position_loss"]
      out["per_position_val_loss"] = positions["val_loss"]
    row = {"step": step, "tokens": step * self.batch_tokens,
           "val_loss": out["val_loss"], "val_bpb": out["val_bpb"]}
    for name, (sets, tpb) in self.extra.items():
      extra = evaluate(self.eval_step, params, sets, self.mesh, tpb)
      row[f"val_loss/{name}"], row[f"val_bpb/{name}"] = extra["val_loss"], extra["val_bpb"]
    out.update(row)
    return row, out
