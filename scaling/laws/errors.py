"""The one exception of scaling.laws: input that cannot be used (BcritError and
PositionFitError are LawInputErrors)."""

from scaling.errors import UserError


class LawInputError(UserError):
  """Unusable input: the message says what to fix (CLIs print it as one
  `error: ...` line and exit with status 2)."""
