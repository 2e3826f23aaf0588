"""The command-line tools: thin wrappers that parse flags, call the library
and turn its one-line errors into `error: ...` and an exit code.

scaling-train and scaling-bench take absl flags (ml-collections' config_flags);
the others parse with `Parser`, which accepts a long option in either spelling
(--dry-run or --dry_run, --cache_dir or --cache-dir), so one habit works for all. Importing any of them first quiets TensorFlow's and
CUDA's start-up noise (scaling/quiet.py).
"""

import argparse
import functools
import os
import sys

from scaling import quiet

quiet.setup()

from scaling.exitcodes import (EXIT_BAD_INPUT, EXIT_CLOSED_PIPE,  # pylint: disable=unused-import
                               EXIT_DIVERGED, EXIT_PREEMPTED)


def script(main):
  """Wraps a console script's entry point: when the reader of its output goes
  away (`scaling-sweep ... --dry-run | head -1`), the tool ends quietly with
  EXIT_CLOSED_PIPE, as Unix tools killed by SIGPIPE do, instead of printing a
  BrokenPipeError traceback. Every other outcome passes through unchanged."""

  @functools.wraps(main)
  def wrapper(*args, **kwargs):
    try:
      try:
        result = main(*args, **kwargs)
      except SystemExit:  # absl and argparse exit; what they printed is still buffered
        _flush()
        raise
      _flush()
      return result
    except BrokenPipeError:
      _drop_output()
      sys.exit(EXIT_CLOSED_PIPE)

  return wrapper


def _flush() -> None:
  for stream in (sys.stdout, sys.stderr):
    if stream is not None:
      stream.flush()


def _drop_output() -> None:
  """Points stdout and stderr at /dev/null, so the interpreter's own flush at
  exit finds nothing to write into the closed pipe."""
  devnull = os.open(os.devnull, os.O_WRONLY)
  for stream in (sys.stdout, sys.stderr):
    try:
      os.dup2(devnull, stream.fileno())
    except (AttributeError, OSError, ValueError):  # no stream, or not a real file
      pass
  os.close(devnull)


def lines_or_error(produce) -> int:
  """How an analysis tool ends: `produce()` returns the lines to print (exit
  0); a UserError (bad input, the library's one line) prints `error: ...` and
  returns EXIT_BAD_INPUT; argparse's own exit (--help, a usage error) returns
  its code. Nothing is printed before `produce` has finished."""
  from scaling.errors import UserError  # pylint: disable=g-import-not-at-top
  try:
    lines = produce()
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_BAD_INPUT
  except SystemExit as e:
    return int(e.code or 0)
  print("\n".join(lines))
  return 0


def fail(message: str) -> None:
  """Prints `error: message` and exits with EXIT_BAD_INPUT (no traceback)."""
  print(f"error: {message}", file=sys.stderr)
  sys.exit(EXIT_BAD_INPUT)


def _other_spelling(name: str) -> str | None:
  if not name.startswith("--"):
    return None
  body = name[2:]
  other = body.replace("-", "_") if "-" in body else body.replace("_", "-")
  return None if other == body else "--" + other


class Parser(argparse.ArgumentParser):
  """argparse with both spellings of every long option; with `error` set, a
  usage problem raises that exception (one line) instead of printing usage."""

  def __init__(self, *args, error=None, **kwargs):
    self._error = error
    super().__init__(*args, **kwargs)

  def add_argument(self, *names, **kwargs):
    others = [o for o in map(_other_spelling, names) if o and o not in names]
    return super().add_argument(*names, *others, **kwargs)

  def error(self, message):
    if self._error is None:
      super().error(message)
    raise self._error(f"{message} (see {self.prog} --help)")
