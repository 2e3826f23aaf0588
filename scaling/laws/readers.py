"""Raw rows from tables (CSV, JSONL, JSON) and sweep or run directories.

A sweep directory holds results.jsonl (one object per finished run: its
summary.json keys, `name` and an `overrides` dict) and/or run directories with
summary.json. Only runs whose status is "completed" count.
"""

from __future__ import annotations

import csv
import os
from typing import Any, Mapping, Sequence

from scaling.laws.errors import LawInputError
from scaling.results import io
from scaling.results import run as run_files
from scaling.results.run import RunDir, completed, run_dirs
from scaling.results.sweep import SweepDir

__all__ = ["completed", "pick", "position_runs", "read_json", "read_rows", "read_summary",
           "run_dirs"]


def _number(value: Any) -> Any:
  if isinstance(value, str):
    text = value.strip()
    if text == "":
      return None
    try:
      return float(text)
    except ValueError:
      return text
  return value


def _flatten_overrides(row: dict) -> dict:
  """Adds a results.jsonl row's `overrides` (dotted keys by last part too)."""
  out = dict(row)
  overrides = row.get("overrides")
  if isinstance(overrides, Mapping):
    for key, value in overrides.items():
      out.setdefault(key, value)
      out.setdefault(str(key).split(".")[-1], value)
  return out


def _read_jsonl(path: str) -> list[dict]:
  try:
    return io.read_jsonl(path, strict=True)
  except io.ResultsError as e:
    raise LawInputError(str(e)) from None


def read_json(path: str) -> list[dict]:
  try:
    obj = io.read_json(path)
  except io.ResultsError as e:
    raise LawInputError(str(e)) from None
  if isinstance(obj, Mapping) and "per_position_loss" in obj:
    return [{"per_position_loss": obj["per_position_loss"]}]
  if isinstance(obj, Mapping) and isinstance(obj.get("rows"), list):
    obj = obj["rows"]
  if isinstance(obj, Mapping):  # columns: {"N": [...], "loss": [...]}
    lengths = {len(v) for v in obj.values() if isinstance(v, list)}
    if len(lengths) != 1:
      raise LawInputError(f"{path}: expected a list of rows or equal-length "
                          "column lists")
    n = lengths.pop()
    return [{k: v[i] for k, v in obj.items() if isinstance(v, list)}
            for i in range(n)]
  if isinstance(obj, list):
    return [r for r in obj if isinstance(r, dict)]
  raise LawInputError(f"{path}: expected a list of rows")


def _read_csv(path: str) -> list[dict]:
  with open(path, newline="") as f:
    return [{k.strip(): _number(v) for k, v in row.items() if k is not None}
            for row in csv.DictReader(f)]


def read_summary(run_dir: str) -> dict:
  try:
    row = RunDir(run_dir).summary_dict()
  except io.ResultsError as e:
    raise LawInputError(str(e)) from None
  row = _flatten_overrides(row)
  row.setdefault("run", os.path.relpath(run_dir, os.path.dirname(run_dir)))
  row["_dir"] = run_dir
  return row


def read_rows(path: str) -> list[dict]:
  """Rows of a table file or of a sweep/run directory (completed runs only)."""
  if not os.path.exists(path):
    raise LawInputError(f"input path {path!r} does not exist")
  if os.path.isdir(path):
    sweep = SweepDir(path)
    if sweep.has_results():  # the sweep's own list, overrides included
      rows = [_flatten_overrides(r) for r in _read_jsonl(sweep.results_path)]
    elif run_dirs(path):
      rows = [read_summary(d) for d in run_dirs(path)]
    elif RunDir(path).exists(run_files.PER_POSITION):
      rows = read_json(RunDir(path).file(run_files.PER_POSITION))
    else:
      raise LawInputError(f"{path} has no results.jsonl and no run "
                          "directories with summary.json")
    rows = [r for r in rows if completed(r)]
    if not rows:
      raise LawInputError(f"{path} has no completed runs (status 'completed')")
    return rows
  ext = os.path.splitext(path)[1].lower()
  if ext == ".csv":
    return _read_csv(path)
  if ext == ".jsonl":
    return [_flatten_overrides(r) for r in _read_jsonl(path)]
  if ext == ".json":
    return read_json(path)
  raise LawInputError(f"unsupported input {path!r}: give a sweep directory "
                      "or a .csv, .jsonl or .json table")


def position_runs(sweep_dir: str) -> list[dict]:
  """Every member of a sweep directory whose summary.json has a per-position
  curve and a final loss, by name, read from the run directories (not
  results.jsonl; any status, which each row keeps): {"name", "kind", "n_layer",
  "d_model", "N", "val_loss", "status", "per_position_loss"}. `kind` falls back
  to the run's config for summaries older than model_kind."""
  sweep, runs = SweepDir(sweep_dir), []
  for name in sweep.member_names():
    run = sweep.member(name)
    s = run.summary()
    if s is None or not s.per_position_loss or s.val_loss is None:
      continue
    runs.append({"name": name, "kind": s.model_kind or run.config().model.kind,
                 "n_layer": s.n_layer, "d_model": s.d_model, "N": s.n_params_nonembedding,
                 "val_loss": s.val_loss, "status": s.status,
                 "per_position_loss": s.per_position_loss})
  return runs


def pick(row: Mapping, names: Sequence[str]) -> Any:
  for name in names:
    if row.get(name) is not None:
      return row[name]
  lower = {str(k).lower(): v for k, v in row.items()}
  for name in names:
    if lower.get(name.lower()) is not None:
      return lower[name.lower()]
  return None
