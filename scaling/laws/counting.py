"""Counting conventions: how a run's N and C are computed, one table for all fits.

Kaplan et al. count non-embedding parameters and C = 6·N·D; Hoffmann et al.
count all parameters; Porian et al. (2024) add the output layer's FLOPs;
the hardware (MFU) count adds attention too. Which count a fit uses moves the
compute-optimal exponent a lot (docs/beyond.md), so every fit and plan takes
one of these named conventions (default `kaplan`, the paper's):

  name     N                                         C per token
  kaplan   non-embedding                             6·N
  total    non-embedding + embedding (token, pos.)   6·N
  output   non-embedding + output layer (d·V)        6·N
  full     non-embedding + output layer (d·V)        6·N + 12·n_layer·n_ctx·d_model

D (tokens processed) is the same under every convention; C = (C per token)·D.
V is the padded vocabulary (the output matmul's real width). `full` equals
scaling.accounting.mfu_flops_per_token, without importing JAX.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Mapping

from scaling import formulas
from scaling.formulas import padded_vocab
from scaling.laws import readers
from scaling.results import ResultsError, RunDir
from scaling.results import run as run_files
from scaling.laws.curves import Curve
from scaling.laws.errors import LawInputError

DEFAULT = "kaplan"


@dataclasses.dataclass(frozen=True)
class Shape:
  """What a count needs from a run: parameter counts and the model's shape."""
  n_nonembedding: float
  n_embedding: float | None = None
  d_model: float | None = None
  n_layer: float | None = None
  n_ctx: float | None = None
  vocab: float | None = None  # padded vocabulary (output layer width)
  source: str = "row"

  def need(self, *keys: str) -> None:
    missing = [k for k in keys if getattr(self, k) is None]
    if missing:
      raise LawInputError(
          f"{self.source} lacks {', '.join(missing)}, which this counting convention "
          "needs; give a sweep directory whose runs have config.json and summary.json, "
          "or add the column(s), or use --count kaplan")


def _output(s: Shape) -> float:
  s.need("d_model", "vocab")
  return s.d_model * s.vocab


def _n_total(s: Shape) -> float:
  s.need("n_embedding")
  return s.n_nonembedding + s.n_embedding


def _attention(s: Shape) -> float:
  s.need("n_layer", "n_ctx", "d_model")
  return float(formulas.attention_flops_per_token(s.n_layer, s.n_ctx, s.d_model))


@dataclasses.dataclass(frozen=True)
class Convention:
  name: str
  n_text: str
  c_text: str
  n_of: Callable[[Shape], float]
  extra_flops: Callable[[Shape], float]  # per token, on top of 6·N

  def n(self, shape: Shape) -> float:
    return float(self.n_of(shape))

  def flops_per_token(self, shape: Shape) -> float:
    return 6.0 * self.n(shape) + float(self.extra_flops(shape))


CONVENTIONS: dict[str, Convention] = {c.name: c for c in (
    Convention("kaplan", "non-embedding", "6·N·D",
               lambda s: s.n_nonembedding, lambda s: 0.0),
    Convention("total", "all parameters (embeddings included)", "6·N·D",
               _n_total, lambda s: 0.0),
    Convention("output", "non-embedding + output layer", "6·N·D",
               lambda s: s.n_nonembedding + _output(s), lambda s: 0.0),
    Convention("full", "non-embedding + output layer", "6·N·D + attention 12·L·n_ctx·d·D",
               lambda s: s.n_nonembedding + _output(s), _attention),
)}


def get(name: str | None) -> Convention:
  key = (name or DEFAULT).strip().lower()
  if key not in CONVENTIONS:
    raise LawInputError(f"unknown counting convention {name!r}; use one of "
                        f"{', '.join(CONVENTIONS)} (--count)")
  return CONVENTIONS[key]


def _config(row: Mapping, base: str | None) -> dict:
  """The run's config.json (model section), or {} when there is none."""
  candidates = [row.get("_dir")]
  if base and row.get("name"):
    candidates.append(os.path.join(base, str(row["name"])))
  if base and row.get("run"):
    candidates.append(os.path.join(base, str(row["run"])))
  for d in candidates:
    if d and RunDir(d).exists(run_files.CONFIG):
      try:
        return RunDir(d).config_dict().get("model", {}) or {}
      except (OSError, ResultsError):
        return {}
  return {}


def shape_of(row: Mapping, base: str | None = None) -> Shape:
  """The Shape of a run from its row (summary or table) and its config.json."""
  n = readers.pick(row, ("n_params_nonembedding", "N", "n_params"))
  name = row.get("name", row.get("run", "a row"))
  if n is None:
    raise LawInputError(f"run {name!r} has no n_params_nonembedding (or N) column")
  if row.get("model_kind", "transformer") != "transformer":
    raise LawInputError(f"run {name!r} is a {row['model_kind']}; the counting "
                        "conventions are defined for Transformers (use --count kaplan)")
  model = _config(row, base)

  def num(*keys):
    v = readers.pick(row, keys)
    if v is None:
      v = next((model[k] for k in keys if model.get(k) is not None), None)
    return float(v) if v is not None else None
  vocab = num("padded_vocab", "V")
  if vocab is None:
    size = num("vocab_size")
    vocab = float(padded_vocab(size)) if size else None
  return Shape(float(n), num("n_params_embedding", "N_embedding"), num("d_model"),
               num("n_layer"), num("n_ctx", "seq_len"), vocab, f"run {name!r}")


@dataclasses.dataclass
class CountedCurve(Curve):
  """A Curve whose compute is (C per token)·tokens under a convention."""
  flops_per_token: float = 0.0

  @property
  def C(self):  # pylint: disable=invalid-name
    return self.flops_per_token * self.tokens


def count_row(row: Mapping, convention: str | Convention | None,
              base: str | None = None) -> dict:
  """The row with N, C (and compute_flops) under `convention`; D is unchanged."""
  conv = convention if isinstance(convention, Convention) else get(convention)
  out = dict(row, count=conv.name)
  tokens = readers.pick(row, ("D", "tokens_seen", "tokens"))
  if conv.name == DEFAULT:  # as recorded (6·N per token, shared blocks per use)
    n = readers.pick(row, ("N", "n_params_nonembedding", "n_params"))
    c = readers.pick(row, ("C", "compute_flops"))
    if n is not None:
      out["N"] = float(n)
      if c is None and tokens is not None:
        c = 6.0 * float(n) * float(tokens)
    if c is not None:
      out["C"] = float(c)
    return out
  shape = shape_of(row, base)
  out["N"] = conv.n(shape)
  out["flops_per_token"] = conv.flops_per_token(shape)
  if tokens is not None:
    out["C"] = out["compute_flops"] = out["flops_per_token"] * float(tokens)
  return out


def count_rows(rows, convention, base: str | None = None) -> list[dict]:
  return [count_row(r, convention, base) for r in rows]


def counted_curves(curves, root: str, convention):
  """Learning curves (scaling.laws.curves.Curve) re-counted: N and C per token
  under `convention`; needs the sweep directory the curves came from."""
  conv = convention if isinstance(convention, Convention) else get(convention)
  if conv.name == DEFAULT:
    return list(curves)
  if not os.path.isdir(root):
    raise LawInputError(f"--count {conv.name} on learning curves needs a sweep "
                        f"directory, not the table {root!r}")
  out = []
  for c in curves:
    run_dir = os.path.join(root, c.name) if c.name != os.path.basename(root) else root
    shape = shape_of(readers.read_summary(run_dir), root)
    out.append(CountedCurve(c.name, conv.n(shape), c.tokens, c.loss, c.steps, c.B,
                            flops_per_token=conv.flops_per_token(shape)))
  return out
