"""Training-step throughput: tokens/s, MFU, step and compile time, memory.

Runs the project's own jitted train step (the one scaling-train uses) on
synthetic tokens, so what it measures is what a run gets, minus input loading.
MFU counts 6·(N + d_model·V) + 12·n_layer·n_ctx·d_model FLOPs per token
(logits and attention included, no causal halving) against the device's peak.
"""

from __future__ import annotations

import time

import jax
import numpy as np

from scaling import accounting
from scaling import sharding as shardlib
from scaling.train import engine
from scaling.train import state as statelib

# Dense bf16 peak FLOP/s by device kind (substring of jax Device.device_kind).
PEAK_FLOPS = {
    "H100": 989e12,
    "H200": 989e12,
    "A100": 312e12,
    "TPU v4": 275e12,
    "TPU v5 lite": 197e12,
    "TPU v5p": 459e12,
    "TPU v6": 918e12,
}


def peak_flops(device) -> tuple[float | None, str]:
  kind = getattr(device, "device_kind", "")
  for name, flops in PEAK_FLOPS.items():
    if name.lower() in kind.lower():
      return flops, f"{name} dense bf16 {flops / 1e12:.0f} TFLOP/s"
  return None, f"no known peak for {kind or device.platform!r}"


def synthetic_batch(rng, batch_size, seq_len, vocab_size):
  tokens = rng.integers(0, vocab_size, size=(batch_size, seq_len + 1), dtype=np.int32)
  return {"inputs": tokens[:, :-1], "targets": tokens[:, 1:]}


def build_step(config, *, vocab_size: int | None = None, gns: bool | None = None):
  """(jitted train step, Setup, RunConfig, batch sharding) of `config`: the
  engine scaling-train runs (scaling.train.engine), on a vocabulary of
  `vocab_size` ids (default model.vocab_size, else GPT-2's 50257)."""
  cfg = engine.prepare(config, vocab_size=vocab_size or config.model.vocab_size or 50257)
  eng = engine.build(cfg, gns=gns)
  return eng.train_step, eng.setup, cfg, shardlib.batch_sharding(eng.mesh)


def abstract_batch(cfg, sharding) -> dict:
  """The batch's ShapeDtypeStructs, for compiling without data."""
  spec = jax.ShapeDtypeStruct((cfg.train.batch_size, cfg.data.seq_len), np.int32,
                              sharding=sharding)
  return {"inputs": spec, "targets": spec}


def xla_cost(compiled) -> dict:
  """FLOPs and bytes accessed of a compiled step, by XLA's cost analysis: a
  noise-free comparison of two programs (XLA counts a loop's body once)."""
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  cost = cost or {}
  return {"flops": float(cost.get("flops", 0.0)), "bytes": float(cost.get("bytes accessed", 0.0))}


def benchmark(config, *, steps: int = 20, warmup: int = 2, vocab_size: int | None = None,
              peak: float | None = None, target_s: float | None = None) -> dict:
  """Times `steps` train steps after `warmup` (the first compiles).

  target_s: time about this long instead, between 3 and `steps` steps (the
  count is set from one timed step after warm-up).
  """
  step_fn, setup, cfg, sharding = build_step(config, vocab_size=vocab_size)
  vocab = cfg.model.vocab_size
  state = statelib.init_state(cfg.model, setup, cfg.train.seed)
  rng = np.random.default_rng(0)
  batches = [{k: jax.device_put(v, sharding) for k, v in
              synthetic_batch(rng, cfg.train.batch_size, cfg.data.seq_len, vocab).items()}
             for _ in range(2)]

  t0 = time.perf_counter()
  compiled = step_fn.lower(state, batches[0]).compile()
  compile_s = time.perf_counter() - t0
  for i in range(warmup):
    state, metrics = compiled(state, batches[i % 2])
  jax.block_until_ready(state)
  if target_s:
    t0 = time.perf_counter()
    state, metrics = compiled(state, batches[0])
    jax.block_until_ready(metrics)
    steps = int(min(steps, max(3, target_s / (time.perf_counter() - t0))))
  t0 = time.perf_counter()
  for i in range(steps):
    state, metrics = compiled(state, batches[i % 2])
  jax.block_until_ready(metrics)
  step_s = (time.perf_counter() - t0) / steps

  m = cfg.model
  counts = accounting.count_params(state["params"])
  n = cfg.family.flops(m, state["params"])["n_applied"]
  tokens_per_sec = cfg.batch_tokens / step_s
  # An LSTM has no attention: its per-token work does not grow with n_ctx.
  mfu_flops = accounting.mfu_flops_per_token(
      n, m.d_model, m.vocab_size, cfg.family.attention_layers(m), cfg.data.seq_len)
  device = jax.devices()[0]
  peak_value, peak_name = (peak, f"given {peak / 1e12:.0f} TFLOP/s") if peak else \
      peak_flops(device)
  memory = (device.memory_stats() or {}) if hasattr(device, "memory_stats") else {}
  step_memory = compiled.memory_analysis()
  return {
      "config": cfg.name, "device": getattr(device, "device_kind", device.platform),
      "n_devices": jax.device_count(), "jax": jax.__version__,
      "n_layer": m.n_layer, "d_model": m.d_model, "n_ctx": cfg.data.seq_len,
      "vocab_size": m.vocab_size, "batch_size": cfg.train.batch_size,
      "dtype": m.dtype, "attention": m.attention,
      "n_params_nonembedding": counts["nonembedding"],
      "step_time_s": step_s, "compile_time_s": compile_s,
      "tokens_per_sec": tokens_per_sec,
      "mfu_flops_per_token": mfu_flops,
      "mfu": tokens_per_sec * mfu_flops / (peak_value * jax.device_count())
             if peak_value else None,
      "peak": peak_name,
      "peak_memory_bytes": memory.get("peak_bytes_in_use"),
      "step_memory_bytes": _footprint(step_memory),
      "steps_timed": steps,
      "final_loss": float(metrics["loss"]),
  }


def _footprint(analysis) -> int | None:
  """Bytes the compiled step needs: arguments + outputs + temporaries − donated."""
  if analysis is None:
    return None
  return int(analysis.argument_size_in_bytes + analysis.output_size_in_bytes
             + analysis.temp_size_in_bytes - analysis.alias_size_in_bytes)


def gns_overhead(config, **kwargs) -> dict:
  """The estimator's cost: the step with gns on against plain accumulation with
  the same k micro-batches (gns.microbatches, at least 2)."""
  import copy  # pylint: disable=g-import-not-at-top
  runs = {}
  for enabled in (False, True):
    c = copy.deepcopy(config)
    with c.unlocked():
      c.gns.microbatches = max(c.gns.microbatches, 2)
      c.gns.enabled = enabled
    runs[enabled] = benchmark(c, **kwargs)
  result = dict(runs[True])
  result["gns_microbatches"] = max(config.gns.microbatches, 2)
  result["step_time_without_gns_s"] = runs[False]["step_time_s"]
  result["gns_overhead"] = runs[True]["step_time_s"] / runs[False]["step_time_s"] - 1
  return result
