"""TensorBoard scalars; the run directory's own files are scaling.results'.

`write_json`, `read_jsonl` and `JsonlWriter` are scaling.results.io's, named
here for the training loop.
"""

from __future__ import annotations

import math

from scaling.results.io import JsonlWriter, read_jsonl, write_json

__all__ = ["JsonlWriter", "TensorBoard", "read_jsonl", "write_json"]


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
