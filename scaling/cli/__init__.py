"""The command-line tools: thin wrappers that parse flags, call the library
and turn its one-line errors into `error: ...` and an exit code."""

import sys

EXIT_BAD_INPUT = 2


def fail(message: str) -> None:
  """Prints `error: message` and exits with EXIT_BAD_INPUT (no traceback)."""
  print(f"error: {message}", file=sys.stderr)
  sys.exit(EXIT_BAD_INPUT)
