"""One writer per run directory.

A trainer holds DIR/train.lock (an flock, through the project's one lock
helper) for its whole life, so two trainers never append to one run's
metrics.jsonl/eval.jsonl or save checkpoints into one place. The kernel
releases the lock when the holder exits or is killed, so a dead trainer never
blocks the next one. Multi-process runs share the workdir: process 0 holds the
lock for all of them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time

import jax

from scaling.data.store import LockBusy, locked
from scaling.exitcodes import EXIT_BUSY  # pylint: disable=unused-import
LOCK_FILE = "train.lock"


class WorkdirBusy(Exception):
  """Another live trainer holds the workdir (the message names its pid and host)."""


@contextlib.contextmanager
def one_writer(workdir: str, wait: float = 0.0):
  """Holds `workdir`'s lock while the block runs; WorkdirBusy if another trainer
  still holds it after `wait` seconds."""
  if jax.process_index() != 0:
    yield
    return
  holder = (f"pid {os.getpid()} on host {socket.gethostname()} since "
            f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
  with contextlib.ExitStack() as stack:
    try:
      stack.enter_context(locked(os.path.join(workdir, LOCK_FILE), wait=wait,
                                 holder=holder))
    except LockBusy as e:
      raise WorkdirBusy(
          f"{workdir} is in use by another trainer ({e.holder or 'holder unknown'}); "
          "wait for it to finish or stop it, or use another --workdir") from None
    yield
