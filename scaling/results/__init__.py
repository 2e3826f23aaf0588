"""The results layer: the one reader and writer of run and sweep directories.

  io.py     atomic JSON/bytes writers, the JSON-lines reader and appender
  run.py    RunDir: a run directory (config, typed Summary, metrics, evaluations,
            vocabulary record, per-position loss)
  sweep.py  SweepDir: a sweep directory (results.jsonl, members' run directories)

Every module that reads or writes these files goes through here; the file
names and the summary's schema are defined nowhere else.
"""

from scaling.results.io import ResultsError
from scaling.results.run import RunDir, Summary, completed, run_dirs
from scaling.results.sweep import SweepDir

__all__ = ["ResultsError", "RunDir", "Summary", "SweepDir", "completed", "run_dirs"]
