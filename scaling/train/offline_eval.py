"""scaling-eval's library side: evaluate a run directory's latest checkpoint.

`evaluate_run` restores the checkpoint into an evaluation Engine, evaluates it
on any source in the run's own vocabulary (scaling.train.evaluator.evaluate),
and writes eval_<name>.json and per_position_loss.json into the run.
"""

from __future__ import annotations

import time

import jax

from scaling.data import datasets as datalib
from scaling.data.errors import DataError
from scaling.results import RunDir
from scaling.train import engine
from scaling.train import vocab_files
from scaling.train.checkpoint import CheckpointError, Checkpointer
from scaling.train.evaluator import evaluate


def _run_data(cfg, workdir, source, progress):
  """The vocabulary and token store a saved run is evaluated on."""
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
