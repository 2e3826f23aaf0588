"""The columns a law needs, from rows of a table or a sweep.

`as_table` resolves the law's columns from the accepted names (long names from
summary.json included), derives C, B, C_min and S_min where possible, and
validates the values (present, finite, positive, enough rows). Problems raise
`LawInputError` with a message naming what to fix. Raw rows come from
`scaling.laws.readers`.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Mapping

import numpy as np

from scaling.laws import forms
from scaling.laws.errors import LawInputError
from scaling.results import ResultsError, RunDir
from scaling.laws.readers import (completed, pick, read_rows,
                                  read_summary, run_dirs)

__all__ = ["ALIASES", "LawInputError", "Table", "as_table", "check_enough",
           "completed", "pick", "read_rows", "read_summary", "run_dirs"]


# Canonical column -> accepted names, in order of precedence.
ALIASES: dict[str, tuple[str, ...]] = {
    "N": ("N", "n_params_nonembedding", "n_params"),
    "D": ("D", "tokens_seen", "tokens", "train_tokens_available"),
    "C": ("C", "compute_flops", "compute"),
    "C_min": ("C_min", "Cmin", "compute_min_flops"),
    "S": ("S", "steps", "step"),
    "S_min": ("S_min", "Smin"),
    "B": ("B", "batch_tokens"),
    "T": ("T", "position"),
    "loss": ("loss", "val_loss", "best_val_loss"),
    "B_crit": ("B_crit", "bcrit", "b_crit", "B_noise", "b_noise_tokens",
               "B_noise_tokens", "noise_scale_tokens", "b_simple_tokens"),
    "lr": ("lr", "LR", "learning_rate", "peak_lr"),
}
# Early-stopped, data-limited laws (Section 4): the best loss first, and D is
# the dataset size (see _dataset_size).
_DATA_LAWS = ("D", "ND")
_LAW_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    law: {"loss": ("loss", "best_val_loss", "val_loss")} for law in _DATA_LAWS
}


@dataclasses.dataclass
class Table:
  """Float columns of equal length, plus where they came from."""
  columns: dict[str, np.ndarray]
  source: str = "<memory>"
  notes: list[str] = dataclasses.field(default_factory=list)

  def __len__(self) -> int:
    return len(next(iter(self.columns.values()))) if self.columns else 0

  def __getitem__(self, key: str) -> np.ndarray:
    return self.columns[key]

  def subset(self, idx) -> "Table":
    return Table({k: v[idx] for k, v in self.columns.items()}, self.source,
                 list(self.notes))


# ----------------------------------------------------------------------------
# Columns for a law.

def _dataset_size(row: Mapping) -> Any:
  """D for the data laws: an explicit D, else the tokens the run could learn
  from, min(train_tokens_available, tokens_seen): the dataset size for a
  data-limited (multi-epoch) run, the tokens seen for one that never used it
  all."""
  if row.get("D") is not None:
    return row["D"]
  avail = row.get("train_tokens_available")
  seen = pick(row, ("tokens_seen", "tokens"))
  if avail is None or seen is None:
    return seen if avail is None else avail
  try:
    return min(float(avail), float(seen))
  except (TypeError, ValueError):
    return avail


def _column(rows, canonical: str, law_name: str) -> np.ndarray | None:
  names = _LAW_ALIASES.get(law_name, {}).get(canonical, ALIASES[canonical])
  if canonical == "D" and law_name in _DATA_LAWS:
    values = [_dataset_size(r) for r in rows]
  else:
    values = [pick(r, names) for r in rows]
  if all(v is None for v in values):
    return None
  out = np.full(len(rows), np.nan)
  for i, v in enumerate(values):
    try:
      out[i] = float(v) if v is not None else np.nan
    except (TypeError, ValueError):
      raise LawInputError(f"column {canonical!r}: row {i + 1} has a "
                          f"non-numeric value {v!r}")
  return out


def _per_position_record(run_dir: str):
  try:
    return RunDir(run_dir).per_position()
  except ResultsError as e:
    raise LawInputError(str(e)) from None


def _position_rows(rows: list[dict], notes: list[str]) -> list[dict]:
  """Expands per_position_loss of one run into rows T=1..n_ctx."""
  def curve(row):
    ppl = row.get("per_position_loss")
    if ppl is None and row.get("_dir"):
      record = _per_position_record(row["_dir"])
      ppl = record.get("per_position_loss") if isinstance(record, Mapping) else None
    return ppl
  with_curve = [(r, curve(r)) for r in rows]
  with_curve = [(r, c) for r, c in with_curve if c]
  if not with_curve:
    return rows  # maybe a plain T/loss table
  if len(with_curve) > 1:
    with_curve.sort(key=lambda rc: pick(rc[0], ALIASES["N"]) or 0)
    last = with_curve[-1][0]
    notes.append(f"position law: using the largest run "
                 f"({last.get('run') or last.get('name') or '?'}); pass a run "
                 "directory to choose another")
  row, ppl = with_curve[-1]
  return [{"T": t + 1, "loss": v} for t, v in enumerate(ppl)]


def _best_lr_rows(table: dict[str, np.ndarray], notes: list[str]):
  """For an LR sweep keeps, for each N, the learning rate of lowest loss."""
  n, loss = table["N"], table.get("loss")
  if loss is None or len(np.unique(n)) == len(n):
    return table
  keep = []
  for value in np.unique(n):
    idx = np.flatnonzero(n == value)
    finite = idx[np.isfinite(loss[idx])]
    if len(finite):
      keep.append(finite[np.argmin(loss[finite])])
  notes.append(f"lr law: kept the lowest-loss learning rate of each of "
               f"{len(keep)} model sizes")
  return {k: v[np.array(keep, dtype=int)] for k, v in table.items()}


def _derive(cols: dict, rows, needed, notes: list[str], bcrit_law=None) -> None:
  """Fills C, B, C_min and S_min from other columns where they are missing.

  bcrit_law: (B*, alpha_B) of B_crit(L) for C_min and S_min when there is no B_crit
  column (default: the paper's, which holds only for its BPE losses).
  """
  def fill(name, values, note):
    if values is None:
      return
    cur = cols.get(name)
    if cur is None:
      cols[name] = values
    elif np.isnan(cur).any():
      cols[name] = np.where(np.isnan(cur), values, cur)
    else:
      return
    if name in needed:
      notes.append(note)
  tokens = _column(rows, "D", "")  # tokens processed, never dataset size
  if cols.get("N") is not None and tokens is not None:
    fill("C", 6.0 * cols["N"] * tokens, "C = 6*N*tokens_seen")
  bs, ctx = _column_raw(rows, "batch_size"), _column_raw(rows, "n_ctx")
  if bs is not None and ctx is not None:
    fill("B", bs * ctx, "B = batch_size*n_ctx tokens")
  loss, b = cols.get("loss"), cols.get("B")
  if loss is not None and b is not None:
    bc = cols.get("B_crit")
    b_star, alpha_b = bcrit_law or (None, None)
    bc = forms.bcrit_of_loss(loss, b_star, alpha_b) if bc is None else bc
    src = ("the B_crit column" if cols.get("B_crit") is not None else
           f"B_crit(L) = {b_star:.4g}/L^(1/{alpha_b:g}) (--b-star, --alpha-b)" if bcrit_law
           else "B_crit(L) = 2e8/L^(1/0.21) (paper, for BPE losses; --b-star and "
           "--alpha-b give a measured one)")
    if cols.get("C") is not None:
      fill("C_min", forms.c_min_of(cols["C"], b, loss, bc),
           f"C_min = C/(1+B/B_crit) (eq. 5.5) with {src}")
    if cols.get("S") is not None:
      fill("S_min", forms.s_min_of(cols["S"], b, loss, bc),
           f"S_min = S/(1+B_crit/B) (eq. 5.4) with {src}")


def _column_raw(rows, name: str) -> np.ndarray | None:
  values = [r.get(name) for r in rows]
  if any(v is None for v in values):
    return None
  try:
    return np.array(values, dtype=float)
  except (TypeError, ValueError):
    return None


def _rows_of(obj) -> list[dict]:
  if isinstance(obj, Table):
    n = len(obj)
    return [{k: v[i] for k, v in obj.columns.items()} for i in range(n)]
  if isinstance(obj, Mapping):
    cols = {k: np.atleast_1d(np.asarray(v)) for k, v in obj.items()}
    n = max((len(v) for v in cols.values()), default=0)
    return [{k: (v[i].item() if i < len(v) else None) for k, v in cols.items()}
            for i in range(n)]
  return [dict(r) for r in obj]


def _fmt_rows(idx: np.ndarray) -> str:
  shown = ", ".join(str(i + 1) for i in idx[:5])
  return shown + (", ..." if len(idx) > 5 else "")


def as_table(data, law: forms.Law, source: str | None = None, bcrit_law=None) -> Table:
  """The validated columns (inputs and target) that `law` needs.

  `data` is a path (table file, sweep or run directory), a Table, a mapping of
  column -> values, or a list of row dicts.
  """
  notes: list[str] = []
  if isinstance(data, (str, os.PathLike)):
    source = str(data)
    rows = read_rows(source)
  else:
    rows = _rows_of(data)
  if law.name == "position":
    rows = _position_rows(rows, notes)
    if (not any("T" in r or "position" in r for r in rows) and source
        and os.path.isdir(source)):  # results.jsonl without the curves
      summaries = [read_summary(d) for d in run_dirs(source)]
      rows = _position_rows([r for r in summaries if completed(r)], notes) \
          if summaries else rows
  if not rows:
    raise LawInputError(f"{source or 'input'} has no rows")
  needed = list(law.inputs) + [law.target]
  cols: dict[str, np.ndarray | None] = {}
  for name in set(needed) | {"N", "C", "S", "B", "loss", "B_crit", "D"}:
    cols[name] = _column(rows, name, law.name)
  relevant = set(needed) | ({"C", "B"} if "C_min" in needed else set()) \
      | ({"S", "B"} if "S_min" in needed else set())
  _derive(cols, rows, relevant, notes, bcrit_law)
  for name in needed:
    if cols.get(name) is None:
      how = ALIASES[name]
      extra = {"C_min": " (or C and B, with loss)",
               "S_min": " (or S and B, with loss)"}.get(name, "")
      found = sorted({str(k) for r in rows for k in r if not str(k).startswith("_")})
      raise LawInputError(
          f"law {law.name} needs column {name!r}{extra}; accepted names: "
          f"{', '.join(how)}; found: {', '.join(found[:20]) or 'nothing'}")
  table = {k: cols[k] for k in needed}
  if law.name == "lr":
    table = _best_lr_rows({**table, **({"loss": cols["loss"]}
                                        if cols.get("loss") is not None else {})},
                          notes)
    table = {k: table[k] for k in needed}
  # The target first: a NaN loss also makes a derived C_min or S_min NaN.
  for name in [law.target] + list(law.inputs):
    v = table[name]
    bad = np.flatnonzero(np.isnan(v))
    if len(bad):
      raise LawInputError(f"column {name!r} is missing or NaN in {len(bad)} "
                          f"row(s) (row {_fmt_rows(bad)}); drop or fix them")
    bad = np.flatnonzero(~np.isfinite(v) | (v <= 0))
    if len(bad):
      raise LawInputError(f"column {name!r} must be finite and > 0, but row "
                          f"{_fmt_rows(bad)} has {v[bad[0]]:g}; drop or fix them")
  return Table(table, source or "<memory>", notes)


def check_enough(table: Table, law: forms.Law, what: str = "input") -> None:
  k = len(law.params)
  if len(table) < k:
    raise LawInputError(f"law {law.name} has {k} parameters but the {what} "
                        f"has only {len(table)} usable row(s); add more points")

