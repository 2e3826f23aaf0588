"""The one set of file primitives for results: atomic writes, JSON lines.

JSON files are replaced atomically (temp file + rename), so a reader never
sees half a file. JSON-lines files are appended a whole line at a time; a
torn last line (from a kill) is skipped when read.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from scaling.errors import UserError


class ResultsError(UserError):
  """A results file that cannot be read; the message names it and says why."""


def _clean(value):
  if isinstance(value, float) and not math.isfinite(value):
    return str(value)  # JSON has no NaN/Infinity
  return value


def _clean_row(row: dict) -> dict:
  return {k: _clean(v) for k, v in row.items()}


def strict_json(data) -> str:
  """Strict JSON text: NaN and infinities become null, numpy scalars plain."""
  def clean(v):
    if isinstance(v, dict):
      return {str(k): clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
      return [clean(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
      v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
      return None
    return v
  return json.dumps(clean(data), indent=1, allow_nan=False) + "\n"


def write_text(path: str, text: str) -> None:
  """Replaces `path` with `text` atomically (fsync'd temp file + rename)."""
  directory = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
  try:
    with os.fdopen(fd, "w") as f:
      f.write(text)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def write_json(path: str, obj) -> None:
  """Writes `obj` as indented JSON (NaN/inf as strings, other objects by str)."""
  write_text(path, json.dumps(obj, indent=1, default=str) + "\n")


def write_files(out_dir: str, files: dict[str, bytes]) -> list[str]:
  """Stages every file in out_dir, then renames each into place, so no file is
  ever seen half-written; raises OSError with nothing left behind."""
  created = not os.path.isdir(out_dir)
  staged = []
  try:
    os.makedirs(out_dir, exist_ok=True)
    for name, data in files.items():
      fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.", suffix=".tmp")
      staged.append((tmp, os.path.join(out_dir, name)))
      with os.fdopen(fd, "wb") as f:
        f.write(data)
  except OSError:
    for tmp, _ in staged:
      if os.path.exists(tmp):
        os.unlink(tmp)
    if created and os.path.isdir(out_dir) and not os.listdir(out_dir):
      os.rmdir(out_dir)
    raise
  for tmp, final in staged:
    os.replace(tmp, final)
  return [final for _, final in staged]


def read_json(path: str):
  """The JSON object in `path`; ResultsError if it is not valid JSON."""
  try:
    with open(path) as f:
      return json.load(f)
  except json.JSONDecodeError as e:
    raise ResultsError(f"{path} is not valid JSON ({e.msg})") from None


def read_jsonl(path: str, *, strict: bool = False) -> list[dict]:
  """The object rows of a JSON-lines file ([] if there is none). A line that
  is not JSON (a torn last line) is skipped, or with `strict` an error."""
  if not os.path.exists(path):
    return []
  rows = []
  with open(path) as f:
    for lineno, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        obj = json.loads(line)
      except json.JSONDecodeError as e:
        if strict:
          raise ResultsError(f"{path}:{lineno} is not valid JSON ({e.msg})") from None
        continue
      if isinstance(obj, dict):
        rows.append(obj)
  return rows


def write_jsonl(path: str, rows: list[dict], *, clean: bool = True) -> None:
  """Replaces a JSON-lines file with `rows` atomically (`clean`: NaN and
  infinities as strings)."""
  text = "".join(json.dumps(_clean_row(r) if clean else r, default=str) + "\n" for r in rows)
  write_text(path, text)


class JsonlWriter:
  """Appends rows to a JSON-lines file, whole lines at a time."""

  def __init__(self, path: str):
    self.path = path

  def truncate_after(self, step: int) -> None:
    """Keeps only rows with row['step'] <= step (atomic rewrite)."""
    write_jsonl(self.path, [r for r in read_jsonl(self.path) if r.get("step", 0) <= step])

  def write(self, rows: list[dict]) -> None:
    if not rows:
      return
    text = "".join(json.dumps(_clean_row(r)) + "\n" for r in rows)
    with open(self.path, "a") as f:
      f.write(text)
      f.flush()
