"""What a run writes into its workdir: JSON lines, summaries, TensorBoard.

JSON files are replaced atomically (temp file + rename). JSON-lines files are
appended a whole line at a time; on resume, lines past the restored step are
dropped so every step appears once.
"""

from __future__ import annotations

import json
import math
import os
import tempfile


def _clean(value):
  if isinstance(value, float) and not math.isfinite(value):
    return str(value)  # JSON has no NaN/Infinity
  return value


def write_json(path: str, obj) -> None:
  directory = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
  try:
    with os.fdopen(fd, "w") as f:
      json.dump(obj, f, indent=1, default=_clean)
      f.write("\n")
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def read_jsonl(path: str) -> list[dict]:
  """Rows of a JSON-lines file; a torn last line (from a kill) is ignored."""
  if not os.path.exists(path):
    return []
  rows = []
  with open(path) as f:
    for line in f:
      try:
        rows.append(json.loads(line))
      except json.JSONDecodeError:
        break
  return rows


class JsonlWriter:
  def __init__(self, path: str):
    self.path = path

  def truncate_after(self, step: int) -> None:
    """Keeps only rows with row['step'] <= step (atomic rewrite)."""
    rows = [r for r in read_jsonl(self.path) if r.get("step", 0) <= step]
    directory = os.path.dirname(os.path.abspath(self.path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    with os.fdopen(fd, "w") as f:
      f.writelines(json.dumps({k: _clean(v) for k, v in r.items()}) + "\n" for r in rows)
    os.replace(tmp, self.path)

  def write(self, rows: list[dict]) -> None:
    if not rows:
      return
    text = "".join(json.dumps({k: _clean(v) for k, v in r.items()}) + "\n" for r in rows)
    with open(self.path, "a") as f:
      f.write(text)
      f.flush()


class TensorBoard:
  """Scalar event files via tensorboardX (no TensorFlow)."""

  def __init__(self, logdir: str):
    from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
    self.writer = SummaryWriter(logdir)

  def scalars(self, step: int, values: dict, prefix: str = "") -> None:
    for key, value in values.items():
      if isinstance(value, (int, float)) and math.isfinite(value):
        self.writer.add_scalar(prefix + key, value, step)

  def close(self) -> None:
    self.writer.close()
