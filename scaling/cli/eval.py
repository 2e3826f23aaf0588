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
import os

from scaling.cli import Parser, examples, fail, script


def _parser() -> argparse.ArgumentParser:
  p = Parser(
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


def evaluate_run(*args, **kwargs) -> dict:
  """scaling.train.offline_eval.evaluate_run (imported on use: --help stays fast)."""
  from scaling.train.offline_eval import evaluate_run as run  # pylint: disable=g-import-not-at-top
  return run(*args, **kwargs)


@script
def main(argv=None) -> None:
  args = _parser().parse_args(argv)
  if args.batches < 0:
    fail(f"--batches={args.batches} must be positive (0: the run's eval.batches)")
  from scaling.errors import UserError  # pylint: disable=g-import-not-at-top
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.ERROR)  # orbax warns that a read-only manager is read-only
  try:
    r = evaluate_run(args.workdir, args.data, name=args.name, batches=args.batches,
                     split=args.split, progress=args.progress, stride=args.stride)
  except (UserError, FileNotFoundError) as e:
    fail(str(e))
  print(f"step {r['step']}: {r['source']} ({r['split']}, {r['batches']} batches, "
        f"{r['tokens']:,} tokens): val_loss {r['val_loss']:.4f} nats/token, "
        f"{r['val_bpb']:.4f} bits/byte; wrote {os.path.join(args.workdir, 'eval_' + r['name'] + '.json')}")


if __name__ == "__main__":
  main()
