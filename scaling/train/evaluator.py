"""Evaluation: the mean loss, bits per byte and per-position loss of a model.

`Evaluator` owns a training run's evaluation batches, its extra evaluation
sets (eval.datasets / eval.sets) and its per-position windows
(eval.position_stride); `evaluate_run` evaluates a run directory's latest
checkpoint on any source (scaling-eval).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable, Iterable

import jax

from scaling import sharding as shardlib
from scaling.train import vocab_files


def device_batch(batch: dict, mesh) -> dict:
  sharding = shardlib.batch_sharding(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in batch.items()}


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
    from scaling.data import datasets as datalib  # pylint: disable=g-import-not-at-top
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


def _run_data(cfg, workdir, source, progress):
  """The vocabulary and token store a saved run is evaluated on."""
  from scaling.data import datasets as datalib  # pylint: disable=g-import-not-at-top
  from scaling.data.errors import DataError  # pylint: disable=g-import-not-at-top
  if source == "synthetic":
    return None, datalib.open_dataset(cfg.data, source=source,
                                      vocab_size=cfg.model.vocab_size)
  vocab = vocab_files.load_run_vocab(workdir, cfg.data)
  if vocab.vocab_size > cfg.model.vocab_size:
    raise DataError(f"{workdir}: its vocabulary ({vocab.name}, {vocab.vocab_size} ids) "
                    f"differs from the checkpoint's model (model.vocab_size="
                    f"{cfg.model.vocab_size}); restore the run's vocab.json/vocab.model")
  return vocab, datalib.open_dataset(cfg.data, source=source, vocab=vocab, progress=progress)


def evaluate_run(workdir: str, source: str = "", *, name: str = "", batches: int = 0,
                 split: str = "validation", progress: bool = True,
                 stride: int | None = None) -> dict:
  """Evaluates the latest checkpoint of `workdir` on `source` (default the
  run's data.source); writes eval_<name>.json and per_position_loss.json into
  it and returns the result. `stride` > 0 measures the per-position loss over
  overlapping windows (default: the run's eval.position_stride)."""
  from scaling.data import datasets as datalib  # pylint: disable=g-import-not-at-top
  from scaling.data.errors import DataError  # pylint: disable=g-import-not-at-top
  from scaling.results import RunDir  # pylint: disable=g-import-not-at-top
  from scaling.train import engine  # pylint: disable=g-import-not-at-top
  from scaling.train.checkpoint import CheckpointError, Checkpointer  # pylint: disable=g-import-not-at-top
  run = RunDir(workdir)
  cfg = engine.for_evaluation(run.config())
  source = source or cfg.data.source
  name = name or datalib.default_name(source)
  ckpt = Checkpointer(workdir, keep=cfg.checkpoint.keep, read_only=True)
  step = ckpt.latest_step()
  if step is None:
    raise DataError(f"{workdir} has no checkpoint yet; wait for the run's first "
                    f"checkpoint (checkpoint.every_steps={cfg.checkpoint.every_steps})")
  vocab, store = _run_data(cfg, workdir, source, progress)
  procs = {"process_index": jax.process_index(), "process_count": jax.process_count()}
  # The run's own train split: only the first D tokens it trained on (data.max_train_tokens).
  seen = cfg.data.max_train_tokens if (split == "train" and source == cfg.data.source) else 0
  sets = datalib.evaluation_batches(
      store, cfg, n_batches=batches or cfg.eval.batches, split=split, progress=progress,
      max_tokens=seen, **procs)
  stride = cfg.eval.position_stride if stride is None else stride
  if not 0 <= stride <= cfg.data.seq_len:
    raise DataError(f"--stride={stride} must be from 0 to the run's data.seq_len="
                    f"{cfg.data.seq_len}")
  if stride:  # the windows span the text the evaluation reads
    windows = datalib.position_batches(store, cfg, split=split, stride=stride,
                                       n_batches=batches, max_tokens=seen, **procs)
  eng = engine.build(cfg, train=False, gns=False)
  try:  # the latest checkpoint, checked against its digest
    _, state = ckpt.restore(step, eng.setup.abstract_state, fallback=False)
  except CheckpointError as e:
    raise DataError(str(e)) from None
  ckpt.close()
  tokens_per_byte = store.tokens_per_byte(split)
  out = evaluate(eng.eval_step, state["params"], sets, eng.mesh, tokens_per_byte)
  positions = (evaluate(eng.eval_step, state["params"], windows, eng.mesh, tokens_per_byte)
               if stride else out)
  result = {"name": name, "source": source, "split": split, "step": step,
            "tokens_seen": step * cfg.batch_tokens,
            "vocab": vocab.name if vocab else "synthetic",
            "batches": len(sets), "tokens": len(sets) * cfg.batch_tokens,
            "val_loss": out["val_loss"], "val_bpb": out["val_bpb"],
            "per_position_loss": positions["per_position_loss"],
            "per_position_val_loss": positions["val_loss"], "position_stride": stride,
            "evaluated": time.strftime("%Y-%m-%dT%H:%M:%S")}
  if jax.process_index() == 0:
    run.write_eval(name, result)
    run.write_per_position({"per_position_loss": positions["per_position_loss"],
                            "val_loss": out["val_loss"],
                            "per_position_val_loss": positions["val_loss"],
                            "position_stride": stride, "source": source, "step": step})
  return result
