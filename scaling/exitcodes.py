"""The exit codes of the project's commands, in one place.

The library (sweep runners, the run lock) reads a member's exit code with
these; importing this module imports nothing else (no CLI, no JAX).
"""

EXIT_BAD_INPUT = 2      # a flag, config or input file that cannot run
EXIT_DIVERGED = 3       # scaling-train: a non-finite loss or gradient
EXIT_BUSY = 73          # EX_CANTCREAT: another trainer holds the workdir
EXIT_PREEMPTED = 75     # EX_TEMPFAIL: run the same command again to resume
EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE: the reader (`| head -1`) stopped reading
