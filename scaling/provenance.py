"""Which code made a result: the git commit of this checkout, for records such
as a sweep's experiment.json and the findings report's header."""

from __future__ import annotations

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def code_commit(root: str = ROOT) -> str | None:
  """The short commit of `root`'s checkout, with a mark when scaling/ or
  experiments/ have uncommitted changes; None outside a git checkout."""
  try:
    head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, timeout=10, check=True)
    dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "scaling",
                            "experiments"], capture_output=True, text=True, timeout=10)
  except (OSError, subprocess.SubprocessError):
    return None
  return head.stdout.strip() + (" (with uncommitted changes to scaling/ or experiments/)"
                                if dirty.stdout.strip() else "")
