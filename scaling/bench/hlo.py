"""What the compiled train step does, read from its HLO without running it.

  scaling-bench --inspect_hlo [--levers logits_bf16,chunk_bf16] [--tiny]

Compiles the 12×768, batch 16, n_ctx 1024 step (bf16 compute, as on a GPU;
XLA attention off a GPU) from abstract shapes on whatever backend is present
(on a GPU: the GPU compiler's program, cuDNN attention), and checks:
  f32_logits  how many float32 [B, T, V] arrays (the loss's logits) are materialised
  qkv         one projection per layer producing Q, K and V together
  donation    the donated state's buffers alias the outputs (input_output_alias)
  host        no infeed/outfeed/send/recv or host callbacks in the step
  recompile   the step's outputs have the inputs' avals, so step 2 reuses step 1's
              executable; and (run=True) the jit cache holds one entry after 3 steps
plus XLA's cost and memory analysis. Fused computations' internals are not
materialised, so only top-level and loop-body instructions count as buffers.
"""

from __future__ import annotations

import math
import re

import jax
import numpy as np

from scaling.bench import measure as bench
from scaling.bench import plan as bench_plan
from scaling.bench.rows import row_config
from scaling.train import state as statelib

_SHAPE = re.compile(r"^\s*(?:ROOT\s+)?%?[\w.\-]+\s*=\s*f32\[([\d,]*)\]")
_COMPUTATION = re.compile(r"^(ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$")
_ALIAS = re.compile(r"\{[\d,\s]*\}:\s*\(\d+,\s*\{[\d,\s]*\},\s*(?:may|must)-alias\)")
_HOST = re.compile(r"\b(infeed|outfeed|send|recv|send-done|recv-done)\(|"
                   r"custom_call_target=\"[^\"]*(callback|host)[^\"]*\"", re.IGNORECASE)


def materialised_f32(hlo_text: str) -> list[tuple[int, ...]]:
  """Shapes of float32 arrays outside fused computations (i.e. real buffers)."""
  shapes, fused = [], False
  for line in hlo_text.splitlines():
    m = _COMPUTATION.match(line)
    if m:
      fused = "fused" in m.group(2) or "fusion" in m.group(2)
      continue
    s = _SHAPE.match(line)
    if s and not fused:
      shapes.append(tuple(int(d) for d in s.group(1).split(",") if d))
  return shapes


def _eqns(jaxpr):
  """Every equation of a jaxpr and of the jaxprs inside it (scan, remat, pjit, vjp)."""
  for eqn in jaxpr.eqns:
    yield eqn
    for value in eqn.params.values():
      for sub in value if isinstance(value, (list, tuple)) else (value,):
        inner = getattr(sub, "jaxpr", sub)
        if hasattr(inner, "eqns"):
          yield from _eqns(inner)


def qkv_projections(step, state, batch, d_attn: int) -> int:
  """dot_generals producing [..., 3·d_attn]: Q, K, V from one matrix product."""
  jaxpr = jax.make_jaxpr(step)(state, batch).jaxpr
  return sum(1 for e in _eqns(jaxpr) if e.primitive.name == "dot_general"
             and e.outvars[0].aval.shape[-1] == 3 * d_attn
             and len(e.outvars[0].aval.shape) == 3)


def _same_avals(a, b) -> bool:
  leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
  return len(leaves_a) == len(leaves_b) and all(
      x.shape == y.shape and x.dtype == y.dtype and
      getattr(x, "weak_type", False) == getattr(y, "weak_type", False)
      for x, y in zip(leaves_a, leaves_b))


def _cache_after_steps(row: dict) -> int:
  """Runs 3 steps of a row's step; the jit cache's size (1: no recompilation)."""
  step, setup, cfg, sharding = bench.build_step(row_config(row), vocab_size=row["vocab"])
  state = statelib.init_state(cfg.model, setup, cfg.train.seed)
  batch = jax.device_put(bench.synthetic_batch(np.random.default_rng(0), cfg.train.batch_size,
                                               cfg.data.seq_len, cfg.model.vocab_size), sharding)
  for _ in range(3):
    state, metrics = step(state, batch)
  jax.block_until_ready(metrics)
  return step._cache_size()  # pylint: disable=protected-access


def inspect(row: dict, *, run: bool = False) -> dict:
  """The checks above for one row (a bench_plan row dict), compiled abstractly."""
  step, setup, cfg, sharding = bench.build_step(row_config(row), vocab_size=row["vocab"])
  batch = bench.abstract_batch(cfg, sharding)
  compiled = step.lower(setup.abstract_state, batch).compile()
  text = compiled.as_text()
  b, t = cfg.train.batch_size, cfg.data.seq_len
  v_pad = cfg.padded_vocab
  f32_all = materialised_f32(text)
  f32 = sorted(set(f32_all), key=math.prod, reverse=True)
  out_state, _ = jax.eval_shape(step, setup.abstract_state, batch)
  cost = compiled.cost_analysis()
  cost = (cost[0] if isinstance(cost, (list, tuple)) else cost) or {}
  mem = compiled.memory_analysis()
  n_state = len(jax.tree.leaves(setup.abstract_state))
  result = {
      "row": row["id"], "backend": jax.default_backend(), "dtype": cfg.model.dtype,
      "loss_chunk": cfg.model.loss_chunk, "logits_bf16": cfg.model.logits_bf16,
      "largest_f32": [list(s) for s in f32[:5]],
      "f32_logits_buffers": sum(1 for s in f32_all if math.prod(s) >= b * t * v_pad),
      "qkv_projections": qkv_projections(step, setup.abstract_state, batch, cfg.model.d_attn),
      "n_layer": cfg.model.n_layer,
      "aliased_outputs": len(_ALIAS.findall(text.split("\n", 1)[0])), "state_buffers": n_state,
      "host_transfers": sorted({m.group(0) for m in _HOST.finditer(text)}),
      "outputs_match_inputs": _same_avals(out_state, setup.abstract_state),
      "xla_flops": float(cost.get("flops", 0.0)),
      "xla_bytes_accessed": float(cost.get("bytes accessed", 0.0)),
      "temp_bytes": getattr(mem, "temp_size_in_bytes", None),
      "argument_bytes": getattr(mem, "argument_size_in_bytes", None),
      "alias_bytes": getattr(mem, "alias_size_in_bytes", None),
  }
  if run:
    result["jit_cache_entries_after_3_steps"] = _cache_after_steps(row)
  return result


def inspect_rows(*, tiny: bool = False, levers=("logits_bf16", "chunk_bf16")) -> list[dict]:
  """The baseline 12×768 b16 row (bf16, as on a GPU) and each lever's config row."""
  rows = [r for r in bench_plan.paper_rows(tiny=tiny, levers=levers)
          if r["id"] == "transformer 12x768 b16" or r["group"] == "lever"]
  out = []
  for r in rows:
    if r.get("xla_flags"):
      continue  # flags change the GPU compiler only; the program is the same
    overrides = {"model.dtype": "bfloat16", **r.get("overrides", {})}
    if jax.default_backend() != "gpu":
      overrides["model.attention"] = "xla"  # cuDNN attention is GPU-only
    out.append(dict(r, overrides=overrides))
  return out


def summary(r: dict) -> str:
  """One paragraph per inspected config."""
  gib = lambda x: f"{x / 2**30:.2f} GiB" if x is not None else "n/a"
  return "\n".join([
      f"{r['row']} ({r['backend']}, {r['dtype']}, loss_chunk {r['loss_chunk']}, "
      f"logits_bf16 {r['logits_bf16']}):",
      f"  largest materialised f32 arrays: {r['largest_f32'][:3]}; f32 arrays of [B,T,V] "
      f"size: {r['f32_logits_buffers']}",
      f"  QKV: {r['qkv_projections']} matrix products giving [B,T,3A] for {r['n_layer']} layers",
      f"  donation: {r['aliased_outputs']} of {r['state_buffers']} state buffers aliased "
      f"({gib(r['alias_bytes'])})",
      f"  host transfers: {', '.join(r['host_transfers']) or 'none'}",
      f"  recompilation: outputs have the inputs' avals: {r['outputs_match_inputs']}"
      + (f"; jit cache after 3 steps: {r['jit_cache_entries_after_3_steps']}"
         if "jit_cache_entries_after_3_steps" in r else ""),
      f"  XLA cost: {r['xla_flops'] / 1e12:.2f} TFLOP, {r['xla_bytes_accessed'] / 2**30:.1f} GiB "
      f"accessed; temp {gib(r['temp_bytes'])}, arguments {gib(r['argument_bytes'])}"])
