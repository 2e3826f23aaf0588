"""A one-line progress bar with rate and ETA on a terminal; log lines otherwise."""

from __future__ import annotations

import sys
import time


def _fmt_time(seconds: float) -> str:
  seconds = int(max(seconds, 0))
  h, rem = divmod(seconds, 3600)
  m, s = divmod(rem, 60)
  return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
  def __init__(self, total: int, start: int = 0, stream=None, enabled: bool = True):
    self.total, self.start = total, start
    self.stream = stream or sys.stderr
    self.enabled = enabled
    self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
    self.t0 = time.time()

  def line(self, step: int, info: str) -> str:
    elapsed = time.time() - self.t0
    done = step - self.start
    rate = done / elapsed if elapsed > 0 and done > 0 else 0.0
    eta = (self.total - step) / rate if rate else float("nan")
    pct = 100.0 * step / max(self.total, 1)
    eta_s = _fmt_time(eta) if rate else "--:--"
    if self.tty:
      width = 24
      filled = int(width * step / max(self.total, 1))
      bar = "#" * filled + "-" * (width - filled)
      return f"[{bar}] {step}/{self.total} {pct:3.0f}% {rate:.2f} step/s ETA {eta_s} {info}"
    return f"step {step}/{self.total} ({pct:.0f}%) {rate:.2f} step/s ETA {eta_s} {info}"

  def update(self, step: int, info: str = "") -> None:
    if not self.enabled:
      return
    if self.tty:
      print("\r" + self.line(step, info), end="", file=self.stream, flush=True)
    else:
      print(self.line(step, info), file=self.stream, flush=True)

  def message(self, text: str) -> None:
    if not self.enabled:
      return
    if self.tty:
      print("\r\033[K" + text, file=self.stream, flush=True)
    else:
      print(text, file=self.stream, flush=True)

  def close(self) -> None:
    if self.enabled and self.tty:
      print(file=self.stream, flush=True)
