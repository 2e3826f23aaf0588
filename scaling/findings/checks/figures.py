"""The checks' figures: drawn off-screen (Agg, no pyplot state) and written as
PNG files, so every finding's figure is made and saved the same way."""

from __future__ import annotations

import os


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=(6, 4.2), **kwargs):
  """(figure, axes) as pyplot.subplots gives them, on an off-screen canvas."""
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  fig = Figure(figsize=figsize, dpi=120)
  FigureCanvasAgg(fig)
  return fig, fig.subplots(nrows, ncols, **kwargs)


def save(fig, path: str) -> str:
  """Lays `fig` out tightly and writes it to `path` (a .png); returns path."""
  fig.tight_layout()
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  fig.savefig(path)
  return path
