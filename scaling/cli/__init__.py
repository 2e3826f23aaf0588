"""The command-line tools: thin wrappers that parse flags, call the library
and turn its one-line errors into `error: ...` and an exit code.

scaling-train and scaling-bench take absl flags (ml-collections' config_flags);
the others parse with `Parser`, which accepts a long option in either spelling
(--dry-run or --dry_run, --cache_dir or --cache-dir), so one habit works for all. Importing any of them first quiets TensorFlow's and
CUDA's start-up noise (scaling/quiet.py).
"""

import argparse
import sys

from scaling import quiet

quiet.setup()

from scaling.exitcodes import EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_PREEMPTED  # pylint: disable=unused-import


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
