"""Pieces the experiments' analyze() functions share: tables, fits, figures."""

from __future__ import annotations

import csv
import io
import os

from scaling import config as configlib
from scaling import figures
from scaling.config import SIZES
from scaling.results import SweepDir
from scaling.results import io as results_io
from scaling.sweep.report import finished_runs, print_runs
from scaling.sweep.tuning import Tuning, point_name, select

# (n_layer, d_model, n_heads): the tiny model ladder of the CPU variants
TINY_LADDER = [(1, 32, 2), (2, 48, 2), (2, 64, 4), (3, 96, 4), (4, 128, 4)]


# The gpu variants: one H100-class GPU, a public TFDS corpus, a SentencePiece
# vocabulary trained on its training split (docs/gpu.md, "Findings on one GPU").
GPU_FLOPS = 0.4 * 989e12  # sustained bf16 FLOP/s assumed: 40% MFU of an H100 SXM's dense peak
GPU_HOURS = 8.0           # each gpu variant's budget, compute only
GPU_VOCAB = "spm:8192"    # small, so that logits do not dominate models of 1e5-1e6 parameters
BOOKS, SENTENCES = "tfds:pg19", "tfds:lm1b"  # long documents; shuffled news sentences


def gpu_schedule(c, *, steps: int, eval_every: int, source: str = BOOKS, n_ctx: int = 1024,
                 batch: int = 128, eval_batches: int = 16, lr="kaplan") -> None:
  """A gpu variant's run: `source` in GPU_VOCAB, n_ctx x batch tokens a step,
  `steps` steps with 5% warmup (at most 1000) and cosine decay, evaluations
  every `eval_every` steps on `eval_batches` batches."""
  c.data.source, c.data.vocab = source, GPU_VOCAB  # pg19: its text feature, book_text, by name
  c.model.n_ctx, c.train.batch_size = n_ctx, batch
  c.train.steps, c.train.warmup_steps = steps, min(max(steps // 20, 1), 1000)
  c.train.lr, c.train.log_every = lr, 100
  c.checkpoint.every_steps = max(min(2000, steps // 4), 1)
  c.eval.every_steps, c.eval.batches = eval_every, eval_batches


# The gpu ladder (model_size, learning_curves, compute_frontier, transfer): 7
# models from 3.9e5 to 8.5e7 non-embedding parameters (2.3 decades), each
# 15,000 steps of 128x1024 tokens of PG-19 (1.97e9 tokens, under one epoch),
# evaluated every 500 steps on PG-19's validation books and lm1b's test sentences.
GPU_LADDER = [(2, 128, 4), (2, 256, 4), (4, 256, 4), (4, 384, 6), (6, 512, 8),
              (8, 640, 10), (12, 768, 12)]


def gpu_ladder_config(c) -> None:
  """The gpu ladder's shared run settings (GPU_LADDER gives the members)."""
  gpu_schedule(c, steps=15_000, eval_every=500)
  c.eval.datasets = f"lm1b={SENTENCES}"


# The nltk variants (the findings' second design, issue #25): a broad English
# corpus from NLTK's data directory ($NLTK_DATA; tests use ../shared/nltk_data).
# Chosen before any run: train on edited prose of 15 genres (Brown), film
# reviews, rural and science news, and web text (forums, ads, scripts); hold
# out the public addresses (State of the Union 1945-2006, inaugurals
# 1789-2021), a genre none of the training corpora has, as the "other
# distribution" of the transfer finding (the paper: trained on web text,
# evaluated on books, Wikipedia, news). `:tune` is the tuning split that picks
# each model's learning rate (scaling.sweep.tuning); no finding reads it.
NLTK_TRAIN = "nltk:brown,movie_reviews,abc,webtext"
NLTK_HELD_OUT = "nltk:state_union,inaugural"
NLTK_EVAL_SETS = f"tune={NLTK_TRAIN}:tune;speeches={NLTK_HELD_OUT}"
# the grid every tuned nltk variant trains each model at (chosen before the runs)
NLTK_LR_GRID = (2e-3, 4.5e-3, 1e-2)
NLTK_TUNING = Tuning(grid={"train.lr": NLTK_LR_GRID})


def nltk_schedule(c, *, steps: int, eval_every: int, schedule: str = "cosine",
                  warmup_fraction: float = 0.05, eval_batches: int = 16) -> None:
  """An nltk variant's run: n_ctx 128 bytes, batch 16, `steps` steps with a
  short warmup (5%: a long fixed warmup biases small models) then `schedule`,
  evaluated every `eval_every` steps on validation, the tuning split and the
  held-out speeches."""
  c.data.source = NLTK_TRAIN
  c.model.n_ctx, c.train.batch_size = 128, 16
  c.train.steps, c.train.warmup_steps = steps, max(int(steps * warmup_fraction), 1)
  c.train.schedule, c.train.log_every = schedule, 25
  c.checkpoint.every_steps = max(steps // 2, 1)
  c.eval.every_steps, c.eval.batches = eval_every, eval_batches
  c.eval.datasets = NLTK_EVAL_SETS


def licence_texts() -> str:
  """An eval.datasets entry: the licence files of the installed packages, legal
  prose every install has and none of the embedded corpus's docstrings."""
  import sysconfig  # pylint: disable=g-import-not-at-top
  purelib = sysconfig.get_paths()["purelib"]
  return f"licences=text:{os.path.join(purelib, '*.dist-info', '**', 'LICENSE*')}"


def tiny_schedule(c, steps: int, eval_every: int) -> None:
  """The CPU variants' training: n_ctx 128, batch 16, warmup 10% of `steps`."""
  c.model.n_ctx, c.train.batch_size = 128, 16
  c.train.steps, c.train.warmup_steps = steps, max(steps // 10, 1)
  c.train.log_every = 25
  c.checkpoint.every_steps = steps
  c.eval.every_steps, c.eval.batches = eval_every, 4


def variant_config(arg, name: str, *, steps: int, eval_every: int, tiny_lr: float | None = 3e-3,
                   full_size: str = "base", full_eval_every: int | None = None):
  """(an experiment's base config, whether it is the tiny variant): the tiny
  variant trains size=tiny on the CPU schedule (tiny_schedule) at `tiny_lr`
  (None: the Kaplan LR); the full one the paper's `full_size` run, evaluated
  every `full_eval_every` steps if given."""
  c = configlib.base_config()
  tiny = configlib.experiment_variant(arg) == "tiny"
  configlib.apply_size(c, "tiny" if tiny else full_size)
  if tiny:
    tiny_schedule(c, steps=steps, eval_every=eval_every)
    if tiny_lr is not None:
      c.train.lr = tiny_lr
  elif full_eval_every:
    c.eval.every_steps = full_eval_every
  c.name = name
  return c, tiny


def ladder_or_sizes(arg, sizes, shapes=TINY_LADDER) -> list[dict]:
  """The tiny variant's ladder of `shapes`, else one member per named size."""
  if configlib.experiment_variant(arg) == "tiny":
    return ladder_members(shapes)
  return size_members(sizes)


def ladder_members(shapes=TINY_LADDER, extra=None) -> list[dict]:
  return [{"name": f"L{l}_d{d}",
           "overrides": {"model.n_layer": l, "model.d_model": d, "model.n_heads": h,
                         **(extra or {})}} for l, d, h in shapes]


def size_members(sizes) -> list[dict]:
  """One member per named row of scaling.config.SIZES (the full variants)."""
  return [{"name": s, "overrides": dict(zip(("model.n_layer", "model.d_model", "model.n_heads"),
                                            SIZES[s][:3]))} for s in sizes]


def learning_curves(sweep_dir: str, run: dict) -> list[dict]:
  """The run's evaluations after step 0: step, tokens, val_loss, ..."""
  rows = SweepDir(sweep_dir).member(run["name"]).evals()
  return [r for r in rows if r["step"] > 0]


def print_tuning(sweep_dir: str, tuning) -> dict:
  """Prints each model's grid of final tuning losses and its choice; returns
  {chosen member: the choice as a dict}."""
  sweep = SweepDir(sweep_dir)
  rows = [{"name": r["name"], "overrides": r.get("overrides"),
           "evals": sweep.member(r["name"]).evals()} for r in sweep.results()]
  out = {}
  for choice in select(rows, tuning):
    cells = "  ".join(f"{point_name(p.point)} {p.score:.4f}" for p in choice.points)
    edge = f"  (at the grid's edge: {', '.join(choice.at_edge)})" if choice.at_edge else ""
    edge += "" if choice.complete else "  (grid not finished)"
    print(f"{choice.chosen.members[0]:<28} {cells}{edge}")
    out[choice.chosen.members[0]] = choice.to_dict()
  return out


def write_csv(path: str, rows: list[dict], columns: list[str]) -> str:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  text = io.StringIO(newline="")
  writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
  writer.writeheader()
  writer.writerows(rows)
  results_io.write_text(path, text.getvalue())
  return path


def fit(law: str, table: str, out: str, **options) -> dict:
  """Fits LAW to TABLE as `scaling-fit law LAW TABLE --out OUT` does (prints the
  constants beside the paper's, writes fit.json and plots; `options` are
  scaling.laws.report.FitOptions) and returns fit.json."""
  from scaling.laws.report import fit_to_dir  # pylint: disable=g-import-not-at-top
  data, lines = fit_to_dir(law, table, out, **options)
  print("\n".join(lines))
  return data


def save_figure(fig, path: str) -> str:
  figures.save(fig, path, bbox_inches="tight")
  print(f"wrote {path}")
  return path


def figure(ncols: int = 1):
  """(fig, axes[1][ncols]) of an experiment's figure (scaling.figures)."""
  return figures.subplots(1, ncols, figsize=(5 * ncols, 3.8), squeeze=False)


__all__ = ["TINY_LADDER", "GPU_FLOPS", "GPU_HOURS", "GPU_VOCAB", "BOOKS", "SENTENCES",
           "gpu_schedule", "GPU_LADDER", "gpu_ladder_config", "licence_texts",
           "NLTK_TRAIN", "NLTK_HELD_OUT", "NLTK_EVAL_SETS", "NLTK_LR_GRID", "NLTK_TUNING", "nltk_schedule",
           "finished_runs", "print_runs", "tiny_schedule", "variant_config",
           "ladder_members", "ladder_or_sizes", "size_members",
           "learning_curves", "print_tuning", "write_csv", "fit", "save_figure", "figure"]
