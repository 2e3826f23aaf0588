"""Transformers vs LSTMs, overall and per token position (Kaplan et al. Fig. 7).

LSTMs with 1, 2 and 4 layers and Transformers over a range of N, trained with
the same data, batch and schedule. `analyze` draws final loss against N for
both architectures and the per-position loss of matched-N pairs on log-x
axes, and reports where each LSTM falls behind its Transformer and where each
curve flattens.

Variants: `tiny` (the 2-core CPU, the embedded corpus, about 8 minutes in all),
`cpu256` (one matched-N pair, trained 5x longer on a 2x longer context),
`cpu` (the finding: the same pair on a 512-byte context, two epochs, about 25
minutes on 2 cores), `gpu` (3 LSTMs and 2 Transformers of 7e6-2e7 parameters on
PG-19 books in SentencePiece tokens, n_ctx 1024, 1.05e9 tokens each: one
H100-class GPU, docs/gpu.md) and `full` (n_ctx 1024 as in the
paper, for a GPU or TPU; point data.source at a large corpus).

  scaling-sweep --config experiments/lstm_vs_transformer.py:tiny --workdir runs/lstm_vs_tf
  scaling-sweep --config experiments/lstm_vs_transformer.py:gpu --workdir runs/lstm_vs_tf_gpu
"""

from __future__ import annotations

import os

from scaling import config as configlib
from scaling.findings import Finding
from scaling.sweep import analysis
from scaling.sweep.tuning import grid_members
from scaling.results.io import write_json

LAW = "position"
FIGURE = "Fig. 7: loss against N for LSTMs and Transformers, and per-position loss of matched pairs"

# variant -> base settings and members. lstm: (n_layer, d_model);
# transformer: (n_layer, d_model, n_heads).
VARIANTS = {
    "tiny": {
        "n_ctx": 128, "batch_size": 16, "steps": 2000, "warmup_steps": 100, "lr": 3e-3,
        "eval_batches": 40,  # 640 of the embedded validation split's 661 sequences
        "position_stride": 8,  # per-position loss over 10,640 windows
        "lstm": [(1, 64), (2, 64), (4, 64)],
        # Two layers at least: a one-layer Transformer cannot compose attention
        # heads to copy from far back, and its curve flattens like an LSTM's.
        "transformer": [(2, 48, 4), (2, 64, 4), (2, 96, 4)],
    },
    # One matched-N pair trained longer on a longer context: 11 min on 2 CPU cores.
    "cpu256": {
        "n_ctx": 256, "batch_size": 8, "steps": 3000, "warmup_steps": 100, "lr": 3e-3,
        "eval_batches": 40,  # 320 of the embedded validation split's 331 sequences
        "position_stride": 8,
        "lstm": [(2, 160)],
        "transformer": [(2, 128, 4)],
    },
    # The finding's run: the same pair on a 512-byte context (~100 words), two
    # epochs of the embedded corpus.
    "cpu": {
        "n_ctx": 512, "batch_size": 4, "steps": 1700, "warmup_steps": 100, "lr": 3e-3,
        "eval_batches": 40,  # 160 of the embedded validation split's 166 sequences
        "position_stride": 16,
        "lstm": [(2, 160)],
        "transformer": [(2, 128, 4)],
    },
    # The second design (issue #25): the same pair and context on NLTK's broad
    # corpus (analysis.NLTK_TRAIN), batch 8 (8 x 512 = 4096 bytes a step),
    # 1200 steps (4.9M of 17.6M bytes: nothing repeats), a 5% warmup then
    # cosine decay (the finding is about final losses), each model at its own best
    # learning rate of TUNING's grid, picked on the tuning split.
    "nltk": {
        "n_ctx": 512, "batch_size": 8, "steps": 1200, "warmup_steps": 60, "lr": 4.5e-3,
        "eval_batches": 16, "position_stride": 16, "source": "nltk", "schedule": "cosine",
        "lstm": [(2, 160)],
        "transformer": [(2, 128, 4)],
    },
    # One H100-class GPU: PG-19 books in SentencePiece tokens on the paper's 1024-token
    # context, 16,000 steps of 64x1024 tokens (1.05e9); LSTMs of N 8.4e6, 1.7e7, 1.9e7
    # and Transformers of 7.1e6 and 1.9e7: two matched-N pairs.
    "gpu": {
        "n_ctx": 1024, "batch_size": 64, "steps": 16_000, "warmup_steps": 800,
        "lr": "kaplan", "eval_batches": 16, "position_stride": 64,
        "source": "tfds:pg19", "vocab": "spm:8192",
        "lstm": [(1, 1024), (2, 1024), (4, 768)],
        "transformer": [(4, 384, 6), (6, 512, 8)],
    },
    "full": {
        "n_ctx": 1024, "batch_size": 256, "steps": 50_000, "warmup_steps": 3000,
        "lr": "kaplan", "eval_batches": 16, "position_stride": 64,
        "lstm": [(n, d) for n in (1, 2, 4) for d in (256, 512, 1024)],
        "transformer": [(2, 128, 4), (4, 256, 4), (6, 384, 6), (8, 512, 8), (12, 768, 12)],
    },
}

# analysis settings (scaling.laws.perposition): a curve has flattened once its
# smoothed value is within FLAT_TOL nats of its plateau (the mean of the last
# quarter of the context); the LSTM has fallen behind once its smoothed loss
# stays more than BEHIND_TOL nats above its Transformer's.
FLAT_TOL = 0.02
BEHIND_TOL = 0.02

FINDINGS = (
    Finding(
        key="lstm", title="LSTMs match Transformers early in the context, then fall "
        "behind", paper="Fig. 7",
        claim="LSTMs match Transformers of the same N on early tokens and fall behind "
              "on late ones: their per-token loss stops improving with position.",
        variant="cpu", check="per_position_gap",
        criteria={"early_last": 8, "max_early_gap": 0.05, "late_fraction": 0.25,
                  "min_late_gap": 0.05},
        registered="2026-11-29",
        rationale="One matched pair (LSTM 2x160, N 411K; Transformer 2x128, N 397K) on "
                  "a 512-byte context (about 100 words), 1700 steps of 4x512 bytes (two "
                  "epochs), per-position loss over windows every 16 bytes. Δ(T) = LSTM − "
                  "Transformer. Early: |mean Δ over T ≤ 8| ≤ 0.05 nats; late: mean Δ over "
                  "the last quarter (T 385-512) ≥ 0.05 nats (0.05: the paper's run-to-run "
                  "noise). Regime chosen because at 128 and 256 bytes (tiny, cpu256) the "
                  "LSTMs were ahead at every position: the Transformer's advantage is "
                  "copying from far back, so the context must reach beyond what an LSTM "
                  "state holds.",
        if_not="BPE or SentencePiece tokens on a context of ≥ 1024 tokens, models "
               "≥ 1e7 parameters trained ≥ 1e9 tokens (the gpu variant), as in the "
               "paper."),
)


# The second design's attempt, registered on 2026-12-04 before its runs, under
# the criteria of 2026-11-29 unchanged.
TUNING = {"nltk": analysis.NLTK_TUNING}
FINDINGS = FINDINGS + (FINDINGS[0].repeat(
    "nltk", suffix="nltk", title="broad corpus, tuned",
    why=" Second design (variant nltk): the same pair and "
    "512-byte context on NLTK's Brown, reviews, ABC news and web text, 1200 steps of "
    "8x512 bytes (nothing repeats), 5% warmup then cosine decay, each model at the "
    "learning rate (2e-3, 4.5e-3 or 1e-2) with the lowest final loss on the tuning "
    "split. Why: in the first attempt the Transformer never left the unigram plateau "
    "(batch 4, one rate for both models), so its per-position curve was flat from T = 4 "
    "and the comparison did not test the claim."),)


def _variant(arg) -> tuple[str, dict]:
  name = configlib.experiment_variant(arg, names=tuple(VARIANTS))
  return name, VARIANTS[name]


def get_config(arg=None):
  """The base config every member shares (a Transformer until overridden)."""
  name, v = _variant(arg)
  c = configlib.base_config()
  c.name = f"lstm_vs_transformer-{name}"
  c.model.n_ctx = v["n_ctx"]
  c.train.batch_size = v["batch_size"]
  c.train.steps = v["steps"]
  c.train.warmup_steps = v["warmup_steps"]
  c.train.lr = v["lr"]
  c.eval.batches = v["eval_batches"]
  c.eval.position_stride = v["position_stride"]
  c.eval.every_steps = max(v["steps"] // 4, 1)
  c.checkpoint.every_steps = max(v["steps"] // 2, 1)
  c.train.log_every = 50 if name == "tiny" else 100
  if v.get("source") == "nltk":
    c.data.source, c.eval.datasets = analysis.NLTK_TRAIN, analysis.NLTK_EVAL_SETS
    c.train.schedule = v["schedule"]
  elif "source" in v:
    c.data.source, c.data.vocab = v["source"], v["vocab"]
  return c


def sweep(arg=None) -> list[dict]:
  """The members: {"name", "overrides"} with dotted config keys."""
  name, v = _variant(arg)
  members = []
  for n_layer, d_model in v["lstm"]:
    members.append({"name": f"lstm-L{n_layer}-d{d_model}", "overrides": {
        "model.kind": "lstm", "model.n_layer": n_layer, "model.d_model": d_model}})
  for n_layer, d_model, n_heads in v["transformer"]:
    members.append({"name": f"transformer-L{n_layer}-d{d_model}", "overrides": {
        "model.kind": "transformer", "model.n_layer": n_layer, "model.d_model": d_model,
        "model.n_heads": n_heads}})
  return grid_members(members, TUNING[name]) if name in TUNING else members


def analyze(sweep_dir: str, arg=None) -> dict:
  """Reads the members' summary.json, draws the two figures, writes analysis.json."""
  from scaling.laws import perposition, perposition_plots, readers  # pylint: disable=g-import-not-at-top
  runs = readers.position_runs(sweep_dir)
  result, pairs = perposition.compare_lstm_transformer(
      runs, flat_tol=FLAT_TOL, behind_tol=BEHIND_TOL, source=sweep_dir)
  figures = {
      "loss_vs_n": perposition_plots.plot_loss_vs_n(runs, os.path.join(sweep_dir, "loss_vs_n.png")),
      "per_position": perposition_plots.plot_pairs(
          pairs, os.path.join(sweep_dir, "per_position.png"), BEHIND_TOL)}
  result = {"variant": arg, "sweep_dir": sweep_dir, **result, "figures": figures}
  write_json(os.path.join(sweep_dir, "analysis.json"), result)
  print("\n".join(perposition.pair_lines(result)))
  print(f"wrote {figures['loss_vs_n']}, {figures['per_position']}, "
        f"{os.path.join(sweep_dir, 'analysis.json')}")
  return result
