"""Sweep members do not outlive their runner.

The runner puts its pid in SCALING_PARENT_PID; a member (scaling-train) calls
die_with_parent() first thing. When the runner dies, even by SIGKILL, the
member gets SIGTERM: it saves a checkpoint and exits 75, as on preemption, so
a rerun of the sweep resumes it instead of racing it for the run directory.

Linux: prctl(PR_SET_PDEATHSIG) via ctypes. The kernel sends the signal when
the *thread* that started the member exits; the runner starts each member
from a worker thread that waits for it, so the two end together. Elsewhere a
daemon thread polls the parent pid once a second.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

ENV = "SCALING_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def _prctl_pdeathsig(signum: int) -> bool:
  if not sys.platform.startswith("linux"):
    return False
  try:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0
  except (OSError, AttributeError):
    return False


def _watch(parent: int, signum: int, every: float) -> None:
  while os.getppid() == parent:
    time.sleep(every)
  os.kill(os.getpid(), signum)


def die_with_parent(signum: int = signal.SIGTERM, every: float = 1.0) -> None:
  """Arranges for `signum` when the process in $SCALING_PARENT_PID dies (no-op
  when it is unset: a run started by hand is left alone)."""
  text = os.environ.get(ENV)
  if not text:
    return
  parent = int(text)
  armed = _prctl_pdeathsig(signum)
  if os.getppid() != parent:  # the runner died before the signal was armed
    os.kill(os.getpid(), signum)
    return
  if not armed:
    threading.Thread(target=_watch, args=(parent, signum, every), daemon=True,
                     name="die-with-parent").start()
