"""The one figure set-up every plot in the project uses: a matplotlib Figure on
an off-screen Agg canvas (no pyplot state, so nothing leaks between plots and
no display is needed), laid out tightly and written as PNG bytes or a file.

  fig, ax = figures.subplots(figsize=(6, 4))
  ...
  figures.save(fig, "out/loss.png")      # or figures.png(fig) -> bytes

matplotlib is imported on the first call, never at import time.
"""

from __future__ import annotations

import io
import os


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=(6, 4.2), dpi: int = 120, **kwargs):
  """(figure, axes) as pyplot.subplots returns them, on an off-screen canvas."""
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  fig = Figure(figsize=figsize, dpi=dpi)
  FigureCanvasAgg(fig)
  return fig, fig.subplots(nrows, ncols, **kwargs)


def colormap(name: str = "viridis"):
  import matplotlib  # pylint: disable=g-import-not-at-top
  return matplotlib.colormaps[name]


def png(fig, **savefig) -> bytes:
  """The figure laid out tightly, as PNG bytes."""
  fig.tight_layout()
  buf = io.BytesIO()
  fig.savefig(buf, format="png", **savefig)
  return buf.getvalue()


def save(fig, path: str, **savefig) -> str:
  """Lays `fig` out tightly and writes it to `path` (a .png); returns path."""
  fig.tight_layout()
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  fig.savefig(path, **savefig)
  return path
