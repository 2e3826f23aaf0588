"""Learning curves for the compute frontier.

A sweep directory holds run directories with summary.json, eval.jsonl (step,
tokens, val_loss, val_bpb) and metrics.jsonl (step, tokens, loss, lr, ...). A
table (CSV/JSONL) in long format also works: one row per curve point with
columns N, tokens (or D), loss (or val_loss), and optionally run, step, B.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from scaling.laws import readers, tables
from scaling.laws.errors import LawInputError
from scaling.results import RunDir, SweepDir


@dataclasses.dataclass
class Curve:
  """One run's loss against tokens processed (sorted, tokens > 0)."""
  name: str
  N: float
  tokens: np.ndarray
  loss: np.ndarray
  steps: np.ndarray | None = None
  B: float | None = None  # batch size in tokens

  @property
  def C(self) -> np.ndarray:
    """Training compute C = 6*N*tokens in FLOP."""
    return 6.0 * self.N * self.tokens


def _points(rows, loss_key: str, batch: float | None):
  tok, loss, step = [], [], []
  for r in rows:
    t, l, s = r.get("tokens"), r.get(loss_key), r.get("step")
    if t is None and s is not None and batch:
      t = s * batch
    if t is None or l is None:
      continue
    tok.append(float(t))
    loss.append(float(l))
    step.append(float(s) if s is not None else np.nan)
  return np.array(tok), np.array(loss), np.array(step)


def _make(name, n, tok, loss, step, batch, smooth: int) -> Curve | None:
  ok = np.isfinite(tok) & np.isfinite(loss) & (tok > 0) & (loss > 0)
  tok, loss, step = tok[ok], loss[ok], step[ok]
  order = np.argsort(tok, kind="stable")
  tok, loss, step = tok[order], loss[order], step[order]
  tok, idx = np.unique(tok, return_index=True)
  loss, step = loss[idx], step[idx]
  if len(tok) < 2:
    return None
  if smooth > 1 and len(loss) >= smooth:
    kernel = np.ones(smooth) / smooth
    padded = np.pad(np.log(loss), (smooth // 2, smooth - 1 - smooth // 2),
                    mode="edge")
    loss = np.exp(np.convolve(padded, kernel, mode="valid"))
  steps = step if np.all(np.isfinite(step)) else None
  return Curve(str(name), float(n), tok, loss, steps, batch)


def _batch_of(row) -> float | None:
  b = readers.pick(row, tables.ALIASES["B"])
  if b is None and row.get("batch_size") and row.get("n_ctx"):
    b = float(row["batch_size"]) * float(row["n_ctx"])
  return float(b) if b is not None else None


def _from_dirs(root: str, dirs: list[str], source: str, smooth: int):
  summaries = [readers.read_summary(d) for d in dirs]
  runs = [(d, s) for d, s in zip(dirs, summaries) if readers.completed(s)]
  if not runs:
    raise LawInputError(f"{root} has no completed runs")
  evals = {d: RunDir(d).evals() for d, _ in runs}
  if source == "auto":
    source = ("eval" if all(len(evals[d]) >= 3 for d, _ in runs) else "train")
  curves = []
  for d, s in runs:
    n = readers.pick(s, tables.ALIASES["N"])
    if n is None:
      raise LawInputError(f"{d}/summary.json has no "
                                 "n_params_nonembedding; add it")
    batch = _batch_of(s)
    if source == "eval":
      pts = _points(evals[d], "val_loss", batch)
    else:
      pts = _points(RunDir(d).metrics(), "loss", batch)
    name = os.path.relpath(d, root) if d != root else os.path.basename(d)
    c = _make(name, n, *pts, batch, smooth)
    if c is not None:
      curves.append(c)
  return curves


def _from_table(path: str, smooth: int) -> list[Curve]:
  rows = readers.read_rows(path)
  groups: dict[str, list[dict]] = {}
  for r in rows:
    key = r.get("run", r.get("run_id", r.get("name")))
    if key is None:
      key = readers.pick(r, tables.ALIASES["N"])
    groups.setdefault(str(key), []).append(r)
  curves = []
  for name, rs in groups.items():
    n = readers.pick(rs[0], tables.ALIASES["N"])
    if n is None:
      raise LawInputError(f"{path}: frontier needs column 'N' (or "
                                 "n_params_nonembedding) in every row")
    batch = _batch_of(rs[0])
    tok = [readers.pick(r, ("tokens", "D", "tokens_seen")) for r in rs]
    loss = [readers.pick(r, ("loss", "val_loss")) for r in rs]
    if any(t is None for t in tok) or any(v is None for v in loss):
      raise LawInputError(f"{path}: frontier needs columns 'tokens' "
                                 "(or D) and 'loss' (or val_loss) in every row")
    step = [r.get("step", r.get("S")) for r in rs]
    step = np.array([np.nan if s is None else float(s) for s in step])
    c = _make(name, n, np.array(tok, float), np.array(loss, float), step,
              batch, smooth)
    if c is not None:
      curves.append(c)
  return curves


def load_curves(path: str, source: str = "auto", smooth: int = 1) -> list[Curve]:
  """Learning curves of every completed run under `path` (or in a table).

  source: 'eval' (eval.jsonl val_loss), 'train' (metrics.jsonl loss) or
  'auto' (eval when every run has at least 3 eval rows).
  smooth: moving-average window over consecutive log losses (1: none).
  """
  if not os.path.exists(path):
    raise LawInputError(f"input path {path!r} does not exist")
  if os.path.isdir(path):
    dirs = readers.run_dirs(path)
    if not dirs:
      sweep = SweepDir(path)
      for r in (sweep.results(strict=False) if sweep.has_results() else []):
        for key in ("run_dir", "out_dir", "dir", "workdir"):
          d = r.get(key)
          if d and not os.path.isabs(d):
            d = os.path.join(path, d)
          if d and RunDir(d).exists():
            dirs.append(d)
            break
    if not dirs:
      raise LawInputError(
          f"{path} has no run directories with summary.json and "
          "metrics.jsonl/eval.jsonl; the frontier needs learning curves")
    curves = _from_dirs(path, dirs, source, smooth)
  else:
    curves = _from_table(path, smooth)
  if len(curves) < 2:
    raise LawInputError(f"the frontier needs learning curves of at "
                               f"least 2 runs; {path} has {len(curves)}")
  return curves
