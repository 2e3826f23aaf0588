"""The rows of `scaling-bench --suite paper`, in the order they are measured.

Each row is a plain dict (it travels to a child process as JSON). The order is
the priority when the time budget runs short: each of our Transformer rows
with its nanoGPT peer, the LSTM rows with the PyTorch LSTM, the noise-scale
overhead, compile time against depth, then the levers. `est_s` is a rough
cost on one H100/H200 (process start, compile, timing; guesses until a GPU
run replaces them); a row is skipped when less budget is left than that, and
stopped after 4× that (at least 2 minutes).
"""

from __future__ import annotations

# The peers' throughput on one H100 80GB (../shared/paper.md), used only when a
# peer cannot run in the same call, and then marked as such.
PAPER_TABLE = {
    "nanogpt 12x768 b16": 454.5e3, "nanogpt 12x768 b32": 477.6e3,
    "nanogpt 24x1024 b16": 181.2e3, "torch lstm 2x512 b64": 478e3,
    "torch lstm 2x1024 b64": 409e3, "torch lstm 4x1024 b32": 193e3,
}
PAPER_TABLE_SOURCE = "../shared/paper.md table (one H100 80GB, not this machine)"

# name: (config overrides, XLA_FLAGS, what it should change[, base row]).
# Ordered by the gain expected; each adds one row beside its base row
# (default the 12x768 b16 Transformer) and reports the ratio to it.
BASE = "transformer 12x768 b16"
LEVERS = {
    "logits_bf16": ({"model.logits_bf16": True}, "",
                    "bf16 logits gradient, fp32 only inside the log-sum-exp: "
                    "+5% in the paper's plain JAX step"),
    "no_triton_gemm": ({}, "--xla_gpu_enable_triton_gemm=false",
                       "cuBLAS for every matmul instead of XLA's Triton GEMMs"),
    "xla_lhs": ({}, "--xla_gpu_enable_latency_hiding_scheduler=true",
                "latency-hiding scheduler: overlaps independent kernels"),
    "lstm_unroll8": ({"model.lstm_unroll": 8}, "",
                     "8 positions per scan iteration: fewer loop launches",
                     "lstm 2x1024 b64 scan"),
    "chunk_bf16": ({"model.loss_chunk": 256, "model.logits_bf16": True}, "",
                   "loss in 4 chunks of 256 positions, bf16 logits: less memory, "
                   "logits matmul recomputed"),
    "cmd_buffers_off": ({}, "--xla_gpu_enable_command_buffer=",
                        "no CUDA graphs: checks what command buffers give"),
    "scan_layers": ({"model.scan_layers": True}, "",
                    "one compiled block: faster compile, maybe slower step"),
    "remat_block": ({"model.remat": "block"}, "",
                    "recompute block activations: checks that remat off is right"),
}
DEFAULT_LEVERS = tuple(LEVERS)

T_TARGET = "≥1.15× nanoGPT"
LSTM_TARGET = "≥1.0× cuDNN (floor 0.8×)"


def _shape(row, tiny):
  """Shrinks a row to CPU size in tiny mode (ids stay, so the table keeps its rows)."""
  if not tiny:
    return row
  small = dict(row, n_ctx=32, vocab=259, batch=max(2, row["batch"] // 8), est_s=1)
  small["d_model"] = max(16, row["d_model"] // 32)
  if row.get("n_heads"):
    small["n_heads"] = 2
  small["n_layer"] = row["n_layer"] // 12 if row["kind"] == "compile" else 1
  if row["kind"] == "gns":
    small["batch"] = 8
  if row.get("overrides", {}).get("model.loss_chunk"):
    small["overrides"] = dict(row["overrides"], **{"model.loss_chunk": 8})
  small.update(steps=2, warmup=1, target_s=None, blocks=2)
  return small


def _transformer(n_layer, d_model, n_heads, batch, **kw):
  return {"group": "transformer", "kind": "train", "model": "transformer",
          "n_layer": n_layer, "d_model": d_model, "n_heads": n_heads, "n_ctx": 1024,
          "batch": batch, "vocab": 50257, "steps": 50, "target_s": 2.0, "est_s": 35, **kw}


def _nanogpt(n_layer, d_model, n_heads, batch):
  return {"id": f"nanogpt {n_layer}x{d_model} b{batch}", "group": "peer", "kind": "nanogpt",
          "n_layer": n_layer, "d_model": d_model, "n_heads": n_heads, "n_ctx": 1024,
          "batch": batch, "vocab": 50304, "steps": 50, "target_s": 2.0, "est_s": 55}


def _lstm(n_layer, d_model, batch, impl):
  dtype = "fp32 inputs, TF32" if impl == "cudnn" else "bf16"
  return {"id": f"lstm {n_layer}x{d_model} b{batch} {impl}", "group": "lstm", "kind": "train",
          "model": "lstm", "n_layer": n_layer, "d_model": d_model, "n_ctx": 1024,
          "batch": batch, "vocab": 50257, "overrides": {"model.lstm_impl": impl},
          "needs": "gpu" if impl == "cudnn" else None, "note": dtype,
          "peer": f"torch lstm {n_layer}x{d_model} b{batch}", "target": LSTM_TARGET,
          "steps": 30, "target_s": 2.0, "est_s": 25 if impl == "cudnn" else 30}


def _torch_lstm(n_layer, d_model, batch):
  return {"id": f"torch lstm {n_layer}x{d_model} b{batch}", "group": "peer",
          "kind": "torch_lstm", "n_layer": n_layer, "d_model": d_model, "n_ctx": 1024,
          "batch": batch, "vocab": 50304, "steps": 30, "target_s": 2.0, "est_s": 15}


def paper_rows(*, tiny: bool = False, levers=DEFAULT_LEVERS) -> list[dict]:
  """Every row of the paper suite, in measuring order."""
  unknown = [name for name in levers if name not in LEVERS]
  if unknown:
    raise ValueError(f"unknown lever(s) {unknown}; use some of {', '.join(LEVERS)}")
  rows = []
  for n_layer, d_model, n_heads, batch in ((12, 768, 12, 16), (12, 768, 12, 32),
                                           (24, 1024, 16, 16)):
    peer = _nanogpt(n_layer, d_model, n_heads, batch)
    rows += [_transformer(n_layer, d_model, n_heads, batch,
                          id=f"transformer {n_layer}x{d_model} b{batch}",
                          peer=peer["id"], target=T_TARGET), peer]
  for n_layer, d_model, batch in ((2, 512, 64), (2, 1024, 64), (4, 1024, 32)):
    rows += [_lstm(n_layer, d_model, batch, "cudnn"), _lstm(n_layer, d_model, batch, "scan"),
             _torch_lstm(n_layer, d_model, batch)]
  rows.append(_transformer(12, 768, 12, 16, id="gns overhead 12x768 b16 k4", group="gns",
                           kind="gns", k=4, steps=5, blocks=6, target="≤2% of a step",
                           est_s=50))
  for n_layer in (12, 48):
    rows.append(_transformer(n_layer, 768, 12, 16, id=f"compile {n_layer}x768 scan",
                             group="compile", kind="compile", est_s=30,
                             overrides={"model.scan_layers": True},
                             target="48 ≤ 2× 12" if n_layer == 48 else ""))
  by_id = {r["id"]: r for r in rows}
  for name in levers:
    overrides, xla_flags, why, *base = LEVERS[name]
    base = by_id[base[0] if base else BASE]
    rows.append({**base, "id": f"lever {name}", "group": "lever", "lever": name,
                 "overrides": {**base.get("overrides", {}), **overrides},
                 "xla_flags": xla_flags, "note": why, "base": base["id"],
                 "peer": None, "target": ""})
  return [_shape(r, tiny) for r in rows]


def select(rows: list[dict], only: str) -> list[dict]:
  """Rows whose group is in the comma list `only` (transformer, peer, lstm, gns,
  compile, lever); '' keeps all. Peers and a lever's base row come along."""
  if not only:
    return rows
  groups = {g.strip() for g in only.split(",") if g.strip()}
  known = {r["group"] for r in rows}
  if groups - known:
    raise ValueError(f"unknown group(s) {sorted(groups - known)}; use some of {sorted(known)}")
  wanted = {r["id"] for r in rows if r["group"] in groups}
  wanted |= {r[key] for r in rows if r["id"] in wanted for key in ("peer", "base") if r.get(key)}
  return [r for r in rows if r["id"] in wanted]


# The study's shapes on this project's CPU machine (issue #25 item 4): byte
# tokens (vocabulary 259, padded to 384 inside our model; nanoGPT is given the
# 384 rows outright, so both compute the same logits matmul), float32, AdamW
# with weight decay 0.1 and grad clip 1.0, the same tokens per step, and the
# same thread count (XLA:CPU uses every core; torch.set_num_threads(threads)).
CPU_SHAPES = ((4, 128, 4, 16, 128), (2, 128, 4, 4, 512))  # n_layer, d_model, heads, batch, n_ctx
CPU_TARGET = "≥1.0× nanoGPT"
# Rows beside ours at each CPU shape, with XLA_FLAGS of their own: the XLA:CPU
# default before scaling/xla_cpu.py turned XNNPACK on, and oneDNN.
CPU_LEVERS = {"no xnnpack": "--xla_cpu_use_xnnpack=false",
              "onednn": "--xla_cpu_use_onednn=true"}


def cpu_rows(*, threads: int | None = None, compile_peer: bool = True, tiny: bool = False,
             overrides: dict | None = None) -> list[dict]:
  """Our Transformer and nanoGPT (eager, and torch.compile unless `compile_peer`
  is False) at the study's CPU shapes; `threads` defaults to the cores this
  process may run on (as XLA:CPU counts them: under `taskset -c 1`, one)."""
  import os  # pylint: disable=g-import-not-at-top
  threads = threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                        else os.cpu_count())
  rows = []
  for n_layer, d_model, n_heads, batch, n_ctx in CPU_SHAPES:
    shape = f"{n_layer}x{d_model} b{batch}x{n_ctx}"
    common = {"n_layer": n_layer, "d_model": d_model, "n_heads": n_heads, "n_ctx": n_ctx,
              "batch": batch, "steps": 40, "warmup": 3, "target_s": 6.0, "est_s": 40}
    if tiny:
      common.update(n_layer=1, d_model=32, n_heads=2, n_ctx=32, batch=2, steps=2, warmup=1,
                    target_s=None, est_s=1)
    peers = [{"id": f"nanogpt {shape} cpu {mode}", "group": "peer", "kind": "nanogpt",
              "vocab": 384, "device": "cpu", "compile": mode == "compiled", "threads": threads,
              "dtype": "float32", **common}
             for mode in (("eager", "compiled") if compile_peer else ("eager",))]
    ours = {"id": f"transformer {shape} cpu", "group": "transformer", "kind": "train",
            "model": "transformer", "vocab": 259, "peer": peers[0]["id"],
            "peers": [p["id"] for p in peers], "target": CPU_TARGET,
            "overrides": dict(overrides or {}), **common}
    rows += [ours, *peers]
    rows += [{**ours, "id": f"{ours['id']} {name}", "group": "lever", "xla_flags": flags,
              "base": ours["id"], "peer": None, "target": "", "note": flags}
             for name, flags in CPU_LEVERS.items()]
  return rows


# `--suite gns`: the noise-scale estimator's cost (docs/gns.md §2) on this
# machine. Timed at the tiny size (2x128, batch 16x128, byte vocabulary),
# interleaved blocks; and XLA's cost analysis alone at GPT-2-small shape
# (12x768, batch 32x1024, GPT-2 vocabulary), compiled from shapes, so that a CPU
# can count what a GPU run would do. The paper suite's gns row is the timed
# measurement at 12x768 on the GPU.
GNS_TARGET = "≤2% of a step"


def gns_rows(*, tiny: bool = False, blocks: int = 20) -> list[dict]:
  """The gns suite's rows: timed at the tiny size, cost-only at 12x768."""
  common = {"group": "gns", "kind": "gns", "model": "transformer", "k": 4,
            "target": GNS_TARGET}
  timed = {**common, "id": "gns overhead 2x128 b16x128 k4", "n_layer": 2, "d_model": 128,
           "n_heads": 4, "n_ctx": 128, "batch": 16, "vocab": 259, "steps": 5,
           "blocks": blocks, "est_s": 60}
  cost = {**common, "id": "gns xla cost 12x768 b32x1024 k4", "n_layer": 12, "d_model": 768,
          "n_heads": 12, "n_ctx": 1024, "batch": 32, "vocab": 50257, "cost_only": True,
          "note": "XLA cost analysis only: compiled from shapes, nothing runs", "est_s": 90}
  if tiny:  # the same rows at test size
    timed.update(n_layer=1, d_model=32, n_heads=2, n_ctx=32, batch=8, steps=2, blocks=2,
                 est_s=1)
    cost.update(n_layer=1, d_model=32, n_heads=2, n_ctx=32, batch=8, vocab=259, est_s=1)
  return [timed, cost]
