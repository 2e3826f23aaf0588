"""scaling-train: train one run from an ml-collections config.

  scaling-train --config configs/transformer.py:size=tiny --workdir runs/tiny \
      --config.train.steps=300

Running the same command again resumes from the latest checkpoint.
Exit codes: 0 done, 1 a checkpoint could not be saved or none is intact,
2 bad input, 3 diverged (non-finite loss or gradient), 73 another trainer
holds --workdir, 75 preempted (checkpoint saved; rerun).
"""

from __future__ import annotations

import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from scaling.cli import EXIT_DIVERGED, EXIT_PREEMPTED, fail, script

EXAMPLE = ("scaling-train --config configs/transformer.py:size=nano --workdir runs/nano "
           "--config.train.steps=100")
_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Run config: path/to/config.py[:ARGS].", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (resumes if it has checkpoints).")
_PROGRESS = flags.DEFINE_bool("progress", True, "Show progress (a bar on a terminal).")
_COORDINATOR = flags.DEFINE_string(
    "coordinator", None, "Multi-process: HOST:PORT of process 0 (or SCALING_COORDINATOR).")
_NUM_PROCESSES = flags.DEFINE_integer(
    "num_processes", None, "Multi-process: number of processes (or SCALING_NUM_PROCESSES).")
_PROCESS_ID = flags.DEFINE_integer(
    "process_id", None, "Multi-process: this process's id (or SCALING_PROCESS_ID).")
_LOCK_WAIT = flags.DEFINE_float(
    "lock_wait", 0.0, "Seconds to wait for another trainer on --workdir to finish "
    "before refusing (exit 73).")
_MULTIHOST = flags.DEFINE_bool(
    "multihost", False, "Multi-process with peers found by JAX (TPU VM slices, SLURM).")


def main(argv):
  if len(argv) > 1:
    fail(f"unexpected arguments {argv[1:]}; pass settings as --config.KEY=VALUE")
  if _CONFIG.value is None:
    fail("--config is required, e.g. --config configs/transformer.py:size=tiny")
  if not _WORKDIR.value:
    fail("--workdir is required: the directory for checkpoints and logs")
  from scaling.sweep.lifeline import die_with_parent  # pylint: disable=g-import-not-at-top
  die_with_parent()  # a sweep member ends with its runner (no-op when run by hand)
  logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
  # Imported here so that --help and flag errors are fast.
  from scaling.errors import UserError  # pylint: disable=g-import-not-at-top
  from scaling.train.checkpoint import CheckpointError  # pylint: disable=g-import-not-at-top
  from scaling.train.loop import Diverged, Preempted, train  # pylint: disable=g-import-not-at-top
  from scaling.train.runlock import EXIT_BUSY, WorkdirBusy  # pylint: disable=g-import-not-at-top
  from scaling.distributed import maybe_initialize  # pylint: disable=g-import-not-at-top
  try:
    maybe_initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value,
                     auto=_MULTIHOST.value)
  except ValueError as e:
    fail(str(e))
  try:
    summary = train(_CONFIG.value, _WORKDIR.value, progress=_PROGRESS.value,
                    lock_wait=_LOCK_WAIT.value)
  except WorkdirBusy as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(EXIT_BUSY)
  except Preempted as e:
    print(str(e), file=sys.stderr)
    sys.exit(EXIT_PREEMPTED)
  except Diverged as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(EXIT_DIVERGED)
  except CheckpointError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  except UserError as e:  # config, data, mesh, resume, tracking: one line, exit 2
    fail(str(e))
  print(f"done: {summary['steps']} steps, val_loss {summary['val_loss']:.4f} nats/token, "
        f"{summary['val_bpb']:.4f} bits/byte, {summary['tokens_per_sec']:,.0f} tokens/s; "
        f"outputs in {_WORKDIR.value}")


@script
def run():
  """Console-script entry point."""
  from scaling.cli import flag_parsing  # pylint: disable=g-import-not-at-top
  app.run(main, flags_parser=flag_parsing.parser(EXAMPLE))


if __name__ == "__main__":
  run()
