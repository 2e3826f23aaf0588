"""Small offline texts for the data tests (no downloads): a "book" made of the
Python help topics and an "other" text of a different kind (licences)."""

from __future__ import annotations

import glob
import os
import sysconfig


def book_text(max_chars: int = 120_000) -> str:
  from pydoc_data import topics  # pylint: disable=g-import-not-at-top
  parts, size = [], 0
  for key in sorted(topics.topics):
    text = topics.topics[key].strip()
    parts.append(text)
    size += len(text)
    if size >= max_chars:
      break
  return "\n\n".join(parts)


def other_text(max_chars: int = 60_000) -> str:
  """Legal prose: the licence files of the installed packages and Python's own."""
  roots = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["stdlib"]]
  paths = sorted(p for root in roots for p in glob.glob(os.path.join(root, "**", "LICENSE*"),
                                                        recursive=True) if os.path.isfile(p))
  parts, size = [], 0
  for path in paths:
    with open(path, encoding="utf-8", errors="replace") as f:
      text = f.read().strip()
    parts.append(text)
    size += len(text)
    if size >= max_chars:
      break
  return "\n\n".join(parts)


def write(path, text: str) -> str:
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)
  return str(path)
