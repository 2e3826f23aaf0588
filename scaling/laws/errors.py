"""The one exception of scaling.laws: input that cannot be used."""


class LawInputError(ValueError):
  """Unusable input: the message says what to fix (CLIs print it as one
  `error: ...` line and exit with status 2)."""
