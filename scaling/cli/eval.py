"""scaling-eval: evaluate a run's latest checkpoint on any source.

  scaling-eval --workdir runs/tiny --data text:OTHER.txt [--batches 8] [--split validation]
               [--stride 8]

Uses the run's own vocabulary (its workdir copy), the training loop's eval step
and `evaluate()`, and writes into the workdir `eval_<name>.json` (the result)
and `per_position_loss.json` (loss per context position, for Fig. 20 fits).
Works on a finished or a running run (checkpoints are only read).
Exit codes: 0 done, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from scaling.cli import examples


def fail(message: str) -> None:
  print(f"error: {message}", file=sys.stderr)
  sys.exit(2)


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(
      prog="scaling-eval", description=__doc__.split("\n")[0],
      formatter_class=examples.FORMATTER, epilog=examples.epilog(
          "scaling-train --config configs/transformer.py:size=nano --workdir runs/nano "
          "--config.train.steps=100",
          "scaling-eval --workdir runs/nano --data text:README.md --batches 2"))
  p.add_argument("--workdir", required=True, help="the run's directory")
  p.add_argument("--data", default="", help="a source spec (default: the run's data.source)")
  p.add_argument("--name", default="", help="name in eval_<name>.json (default: from the source)")
  p.add_argument("--batches", type=int, default=0,
                 help="evaluation batches (default: the run's eval.batches; fewer if short)")
  p.add_argument("--split", default="validation", choices=("validation", "train"))
  p.add_argument("--stride", type=int, default=None,
                 help="per-position loss over windows starting every STRIDE tokens (0: the "
                      "evaluation batches; default: the run's eval.position_stride)")
  p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)
  return p


def load_run_config(workdir: str):
  """The resolved config a run wrote (config.json) as a ConfigDict."""
  import ml_collections  # pylint: disable=g-import-not-at-top
  path = os.path.join(workdir, "config.json")
  if not os.path.isfile(path):
    raise FileNotFoundError(f"{workdir} is not a run directory (no config.json); "
                            "give the --workdir of a scaling-train run")
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


def evaluate_run(workdir: str, source: str = "", *, name: str = "", batches: int = 0,
                 split: str = "validation", progress: bool = True,
                 stride: int | None = None) -> dict:
  """Evaluates the latest checkpoint of `workdir` on `source`; writes and returns
  the result. `stride` > 0 measures the per-position loss over overlapping
  windows (scaling.data.batches.window_batches)."""
  import jax  # pylint: disable=g-import-not-at-top
  from scaling import sharding as shardlib  # pylint: disable=g-import-not-at-top
  from scaling.data import datasets as datalib  # pylint: disable=g-import-not-at-top
  from scaling.data.errors import DataError  # pylint: disable=g-import-not-at-top
  from scaling.train import optim, records  # pylint: disable=g-import-not-at-top
  from scaling.train import state as statelib  # pylint: disable=g-import-not-at-top
  from scaling.train import step as steplib  # pylint: disable=g-import-not-at-top
  from scaling.train.checkpoint import CheckpointError, Checkpointer  # pylint: disable=g-import-not-at-top
  from scaling.train.loop import evaluate  # pylint: disable=g-import-not-at-top

  cfg = load_run_config(workdir)
  source = source or cfg.data.source
  name = name or datalib.default_name(source)
  ckpt = Checkpointer(workdir, keep=cfg.checkpoint.keep, read_only=True)
  step = ckpt.latest_step()
  if step is None:
    raise DataError(f"{workdir} has no checkpoint yet; wait for the run's first "
                    f"checkpoint (checkpoint.every_steps={cfg.checkpoint.every_steps})")
  if source == "synthetic":
    vocab, store = None, datalib.open_dataset(cfg.data, source=source,
                                              vocab_size=cfg.model.vocab_size)
  else:
    vocab = datalib.load_run_vocab(workdir, cfg.data)
    if vocab.vocab_size > cfg.model.vocab_size:
      raise DataError(f"{workdir}: its vocabulary ({vocab.name}, {vocab.vocab_size} ids) "
                      f"differs from the checkpoint's model (model.vocab_size="
                      f"{cfg.model.vocab_size}); restore the run's vocab.json/vocab.model")
    store = datalib.open_dataset(cfg.data, source=source, vocab=vocab, progress=progress)
  procs = {"process_index": jax.process_index(), "process_count": jax.process_count()}
  # The run's own train split: only the first D tokens it trained on (data.max_train_tokens).
  seen = cfg.data.get("max_train_tokens", 0) if (
      split == "train" and source == cfg.data.source) else 0
  sets = datalib.evaluation_batches(
      store, cfg, n_batches=batches or cfg.eval.batches, split=split, progress=progress,
      max_tokens=seen, **procs)
  stride = cfg.eval.get("position_stride", 0) if stride is None else stride
  if not 0 <= stride <= cfg.data.seq_len:
    raise DataError(f"--stride={stride} must be from 0 to the run's data.seq_len="
                    f"{cfg.data.seq_len}")
  if stride:  # the windows span the text the evaluation reads
    windows = datalib.position_batches(store, cfg, split=split, stride=stride,
                                       n_batches=batches, max_tokens=seen, **procs)

  # Evaluate on whatever devices are here, which need not be the training ones:
  # every device on `data`, and XLA attention off GPUs.
  import ml_collections  # pylint: disable=g-import-not-at-top
  mesh = shardlib.make_mesh(ml_collections.ConfigDict({"data": -1, "fsdp": 1, "model": 1}))
  if cfg.model.get("attention") == "cudnn" and jax.default_backend() != "gpu":
    cfg.model.attention = "xla"
  setup = statelib.make_setup(cfg.model, optim.optimizer(cfg.train), mesh, cfg.train.seed)
  try:  # the latest checkpoint, checked against its digest
    _, state = ckpt.restore(step, setup.abstract_state, fallback=False)
  except CheckpointError as e:
    raise DataError(str(e)) from None
  ckpt.close()
  eval_step = steplib.jit_eval_step(setup, steplib.make_eval_step(setup, cfg.model))
  tokens_per_byte = store.tokens_per_byte(split)
  out = evaluate(eval_step, state["params"], sets, mesh, tokens_per_byte)
  positions = (evaluate(eval_step, state["params"], windows, mesh, tokens_per_byte)
               if stride else out)

  batch_tokens = cfg.train.batch_size * cfg.data.seq_len
  result = {"name": name, "source": source, "split": split, "step": step,
            "tokens_seen": step * batch_tokens,
            "vocab": vocab.name if vocab else "synthetic",
            "batches": len(sets), "tokens": len(sets) * batch_tokens,
            "val_loss": out["val_loss"], "val_bpb": out["val_bpb"],
            "per_position_loss": positions["per_position_loss"],
            "per_position_val_loss": positions["val_loss"], "position_stride": stride,
            "evaluated": time.strftime("%Y-%m-%dT%H:%M:%S")}
  if jax.process_index() == 0:
    records.write_json(os.path.join(workdir, f"eval_{name}.json"), result)
    records.write_json(os.path.join(workdir, "per_position_loss.json"),
                       {"per_position_loss": positions["per_position_loss"],
                        "val_loss": out["val_loss"],
                        "per_position_val_loss": positions["val_loss"],
                        "position_stride": stride, "source": source, "step": step})
  return result


def main(argv=None) -> None:
  args = _parser().parse_args(argv)
  if args.batches < 0:
    fail(f"--batches={args.batches} must be positive (0: the run's eval.batches)")
  from scaling.data.errors import DataError  # pylint: disable=g-import-not-at-top
  from scaling.sharding import MeshError  # pylint: disable=g-import-not-at-top
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.ERROR)  # orbax warns that a read-only manager is read-only
  try:
    r = evaluate_run(args.workdir, args.data, name=args.name, batches=args.batches,
                     split=args.split, progress=args.progress, stride=args.stride)
  except (DataError, MeshError, FileNotFoundError) as e:
    fail(str(e))
  print(f"step {r['step']}: {r['source']} ({r['split']}, {r['batches']} batches, "
        f"{r['tokens']:,} tokens): val_loss {r['val_loss']:.4f} nats/token, "
        f"{r['val_bpb']:.4f} bits/byte; wrote {os.path.join(args.workdir, 'eval_' + r['name'] + '.json')}")


if __name__ == "__main__":
  main()
