"""The one error type of the data layer: a line naming the source and the fix."""

from __future__ import annotations

from scaling.errors import UserError


class DataError(UserError):
  """Bad data input (a file, a dataset name, a vocabulary, a store); the CLIs
  print it as `error: ...` and exit with code 2."""
