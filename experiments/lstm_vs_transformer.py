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

import math
import os

from scaling import config as configlib
from scaling.findings import Finding
from scaling.sweep import analysis
from scaling.sweep.tuning import grid_members
from scaling.results import SweepDir
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


def _read_runs(sweep_dir: str) -> list[dict]:
  runs = []
  for name in sorted(os.listdir(sweep_dir)):
    run = SweepDir(sweep_dir).member(name)
    s = run.summary()
    if s is None:
      continue
    kind = s.model_kind or run.config().model.kind  # older summaries lack model_kind
    if s.per_position_loss and s.val_loss is not None:
      runs.append({"name": name, "kind": kind, "n_layer": s.n_layer,
                   "d_model": s.d_model, "N": s.n_params_nonembedding,
                   "val_loss": s.val_loss, "status": s.status,
                   "per_position_loss": s.per_position_loss})
  return runs


def _fit_or_none(curve):
  from scaling.laws import perposition as pp  # pylint: disable=g-import-not-at-top
  try:
    return pp.fit(curve, bootstrap=100, seed=0)
  except pp.PositionFitError as e:
    return {"error": str(e)}


def _curve_stats(run: dict) -> dict:
  from scaling.laws import perposition as pp  # pylint: disable=g-import-not-at-top
  y = run["per_position_loss"]
  n = len(y)
  edges = [2 ** k for k in range(int(math.log2(n)) + 1)] + [n + 1]
  return {"flattens_at": pp.flattening_position(y, FLAT_TOL),
          "plateau": pp.plateau(y),
          "late_gain": pp.late_gain(y, max(1, n // 8)),
          "late_gain_from": max(1, n // 8),
          "octave_means": {f"{a}-{b - 1}": sum(y[a - 1:b - 1]) / (b - a)
                           for a, b in zip(edges, edges[1:]) if b > a},
          "fit": _fit_or_none(y)}


def matched_pairs(runs: list[dict]) -> list[tuple[dict, dict]]:
  """Each LSTM with the Transformer of the nearest log N."""
  transformers = [r for r in runs if r["kind"] == "transformer"]
  if not transformers:
    return []
  return [(r, min(transformers, key=lambda t: abs(math.log(t["N"] / r["N"]))))
          for r in runs if r["kind"] == "lstm"]


def _plot(runs, pairs, sweep_dir):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from scaling.laws import perposition as pp  # pylint: disable=g-import-not-at-top

  fig, ax = plt.subplots(figsize=(5.5, 4))
  tf = sorted((r for r in runs if r["kind"] == "transformer"), key=lambda r: r["N"])
  ax.plot([r["N"] for r in tf], [r["val_loss"] for r in tf], "o-", color="C0",
          label="Transformers")
  for n_layer, marker in ((1, "s"), (2, "^"), (4, "D")):
    ls = sorted((r for r in runs if r["kind"] == "lstm" and r["n_layer"] == n_layer),
                key=lambda r: r["N"])
    if ls:
      ax.plot([r["N"] for r in ls], [r["val_loss"] for r in ls], marker + "--", color="C3",
              label=f"LSTM, {n_layer} layer{'s' if n_layer > 1 else ''}")
  ax.set_xscale("log")
  ax.set_xlabel("non-embedding parameters N")
  ax.set_ylabel("validation loss (nats/token)")
  ax.set_title("Final loss vs N")
  ax.legend()
  fig.tight_layout()
  loss_png = os.path.join(sweep_dir, "loss_vs_n.png")
  fig.savefig(loss_png, dpi=120)
  plt.close(fig)

  cols = max(1, min(3, len(pairs)))
  rows = max(1, math.ceil(len(pairs) / cols))
  fig, axes = plt.subplots(rows, cols, figsize=(max(4.5 * cols, 6.5), 3.6 * rows + 0.4),
                           squeeze=False)
  for ax, (lstm, trans) in zip(axes.ravel(), pairs):
    for run, color in ((trans, "C0"), (lstm, "C3")):
      y = np.asarray(run["per_position_loss"])
      t = np.arange(1, y.size + 1)
      ax.plot(t, y, color=color, alpha=0.25, lw=0.8)
      ax.plot(t, pp.smooth(y), color=color, lw=1.8,
              label=f"{run['kind']} L{run['n_layer']} d{run['d_model']} (N={run['N']:,})")
    behind = pp.falls_behind_position(lstm["per_position_loss"], trans["per_position_loss"],
                                      BEHIND_TOL)
    if behind:
      ax.axvline(behind, color="k", ls=":", lw=1, label=f"LSTM behind from T={behind}")
    ax.set_xscale("log")
    ax.set_xlabel("token position T")
    ax.set_ylabel("loss at T (nats/token)")
    ax.legend(fontsize=7)
  for ax in axes.ravel()[len(pairs):]:
    ax.axis("off")
  fig.suptitle("Per-position loss of matched-N pairs (smoothed over T ± T/4; raw faint)",
               fontsize=10)
  fig.tight_layout()
  position_png = os.path.join(sweep_dir, "per_position.png")
  fig.savefig(position_png, dpi=120)
  plt.close(fig)
  return loss_png, position_png


def analyze(sweep_dir: str, arg=None) -> dict:
  """Reads the members' summary.json, draws the two figures, writes analysis.json."""
  from scaling.laws import perposition as pp  # pylint: disable=g-import-not-at-top
  runs = _read_runs(sweep_dir)
  kinds = {r["kind"] for r in runs}
  if not {"lstm", "transformer"} <= kinds:
    raise ValueError(f"{sweep_dir} needs finished LSTM and Transformer runs with "
                     f"per_position_loss; found {sorted(kinds) or 'none'}")
  stats = {r["name"]: _curve_stats(r) for r in runs}
  pairs = matched_pairs(runs)
  pair_rows = []
  for lstm, trans in pairs:
    a, b = stats[lstm["name"]], stats[trans["name"]]
    pair_rows.append({
        "lstm": lstm["name"], "transformer": trans["name"],
        "N_lstm": lstm["N"], "N_transformer": trans["N"],
        "val_loss_lstm": lstm["val_loss"], "val_loss_transformer": trans["val_loss"],
        "falls_behind_at": pp.falls_behind_position(
            lstm["per_position_loss"], trans["per_position_loss"], BEHIND_TOL),
        "flattens_at_lstm": a["flattens_at"], "flattens_at_transformer": b["flattens_at"],
        "late_gain_lstm": a["late_gain"], "late_gain_transformer": b["late_gain"],
        "lstm_flattens_earlier": a["flattens_at"] < b["flattens_at"],
    })
  loss_png, position_png = _plot(runs, pairs, sweep_dir)
  result = {
      "variant": arg, "sweep_dir": sweep_dir,
      "settings": {"flat_tol": FLAT_TOL, "behind_tol": BEHIND_TOL},
      "runs": [{k: v for k, v in r.items() if k != "per_position_loss"} | stats[r["name"]]
               for r in runs],
      "pairs": pair_rows,
      "lstm_flattens_earlier": f"{sum(r['lstm_flattens_earlier'] for r in pair_rows)}/"
                               f"{len(pair_rows)} pairs",
      "figures": {"loss_vs_n": loss_png, "per_position": position_png},
  }
  write_json(os.path.join(sweep_dir, "analysis.json"), result)
  for row in pair_rows:
    behind = row["falls_behind_at"]
    print(f"{row['lstm']} (N={row['N_lstm']:,}, loss {row['val_loss_lstm']:.4f}) vs "
          f"{row['transformer']} (N={row['N_transformer']:,}, loss "
          f"{row['val_loss_transformer']:.4f}): curves flatten at positions "
          f"{row['flattens_at_lstm']} and {row['flattens_at_transformer']}; the LSTM "
          + (f"falls behind at position {behind}" if behind else "never falls behind"))
  print(f"the LSTM's curve flattens earlier in {result['lstm_flattens_earlier']}")
  print(f"wrote {loss_png}, {position_png}, {os.path.join(sweep_dir, 'analysis.json')}")
  return result
