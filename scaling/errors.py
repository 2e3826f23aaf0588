"""The one base of every error a user's input can cause.

Each layer's own error (DataError, ConfigError, LawInputError, ResultsError,
MeshError, ResumeError, ...) is a UserError whose message is one line naming
what to fix, so a command line tool catches this one type, prints
`error: <message>` and exits with EXIT_BAD_INPUT (scaling/exitcodes.py).
Imports nothing: every layer may use it. (WorkdirBusy and LockBusy are not
UserErrors: they say another process holds a directory, and have exit codes
of their own.)
"""


class UserError(ValueError):
  """Input that cannot be used; the message is one line that says what to fix."""
