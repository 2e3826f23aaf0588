"""A run's train and eval steps compiled by libtpu for a TPU topology, on a CPU.

The steps are the ones scaling-train jits, built by scaling.train.engine on the
topology's devices from the config resolved for platform tpu (bf16 compute,
XLA attention, the LSTM's scan). `compile_run` returns a JSON-ready report:
per-chip memory and a verdict against the chip's HBM, XLA's FLOPs beside the
project's count, the collectives per step, compile time, topology and mesh.
"""

from __future__ import annotations

import re
import time

import jax
import numpy as np

from scaling import accounting
from scaling import sharding as shardlib
from scaling.aot import hlo_stats
from scaling.aot import topology as topolib
from scaling.errors import UserError

GPT2_VOCAB = 50257   # the paper's BPE; the data is never read here


class GpuOnly(UserError):
  """A config option with no TPU lowering (cuDNN): one line."""


def gpu_only_option(model_cfg) -> str | None:
  """The line saying a cuDNN option cannot compile for TPU, or None."""
  if model_cfg.attention == "cudnn":
    return ("model.attention=cudnn is GPU-only (cuDNN); a TPU compiles XLA attention: "
            "use model.attention=auto or xla")
  if model_cfg.kind == "lstm" and model_cfg.lstm_impl == "cudnn":
    return ("model.lstm_impl=cudnn is GPU-only (cuDNN); a TPU runs the scan: "
            "use model.lstm_impl=auto or scan")
  return None


def prepare(config, n_devices: int, platform: str = "tpu"):
  """The RunConfig of `config` on `n_devices` of `platform` (ConfigError)."""
  from scaling.train import engine  # pylint: disable=g-import-not-at-top
  line = gpu_only_option(config.model) if platform == "tpu" else None
  if line:
    raise GpuOnly(line)
  return engine.prepare(config, vocab_size=config.model.vocab_size or GPT2_VOCAB,
                        platform=platform, n_devices=n_devices)


def abstract_batch(cfg, mesh) -> dict:
  spec = jax.ShapeDtypeStruct((cfg.train.batch_size, cfg.data.seq_len), np.int32,
                              sharding=shardlib.batch_sharding(mesh))
  return {"inputs": spec, "targets": spec}


def project_flops(cfg, params) -> dict:
  """The MFU count of one step, 6·(N + d_model·V) + 12·L·T·d per token times
  the batch's tokens (scaling.accounting), and the paper's 6·N alone."""
  m = cfg.model
  n = cfg.family.flops(m, params)["n_applied"]
  per_token = accounting.mfu_flops_per_token(
      n, m.d_model, m.vocab_size, cfg.family.attention_layers(m), cfg.data.seq_len)
  return {"n_nonembedding": n, "mfu_count": per_token * cfg.batch_tokens,
          "six_n": 6 * n * cfg.batch_tokens}


def _cost_flops(compiled) -> float:
  cost = compiled.cost_analysis()
  cost = (cost[0] if isinstance(cost, (list, tuple)) else cost) or {}
  return float(cost.get("flops", 0.0))


def verdict(total: int, hbm: int, refused: int | None = None) -> dict:
  """"fits (X of Y GiB)" or "does not fit by X GiB"; `refused`: libtpu would
  not compile it, its temporaries alone exceeding this much available HBM."""
  gib = lambda x: f"{x / 2**30:.2f}"
  fits = total <= hbm and refused is None
  line = (f"fits ({gib(total)} of {gib(hbm)} GiB)" if fits else
          f"does not fit by {gib(max(total - hbm, 0))} GiB ({gib(total)} of {gib(hbm)} GiB"
          + (f"; libtpu refused it: temporaries over the {gib(refused)} GiB available)"
             if refused else ")"))
  return {"fits": fits, "line": line}


def compile_run(config, topo: topolib.Topology, *, eval_step: bool = True,
                flops_breakdown: bool = True, keep_hlo: bool = False) -> dict:
  """Builds and compiles `config`'s steps for `topo` (see the module docstring).
  Raises ConfigError, MeshError, GpuOnly (one line each)."""
  from scaling.train import engine  # pylint: disable=g-import-not-at-top
  cfg = prepare(config, topo.chips)
  eng = engine.build(cfg, devices=topo.devices)
  state, batch = eng.setup.abstract_state, abstract_batch(cfg, eng.mesh)
  t0 = time.perf_counter()
  try:
    compiled = eng.train_step.trace(state, batch).lower().compile()
  except jax.errors.JaxRuntimeError as e:
    return _out_of_memory(e, cfg, eng, topo, state, batch, time.perf_counter() - t0)
  compile_s = time.perf_counter() - t0
  mem = hlo_stats.memory(compiled, state, batch)
  xla = _cost_flops(compiled)
  hlo = compiled.as_text()
  counts = project_flops(cfg, state["params"])
  # XLA's cost analysis counts a while loop's body once, not once per trip:
  # under model.scan_layers or gns.microbatches > 1 its FLOPs are not the step's
  loops = hlo_stats.has_loops(hlo)
  flops = {"xla_per_chip": xla, "project_per_chip": counts["mfu_count"] / topo.chips,
           "six_n_per_chip": counts["six_n"] / topo.chips, "xla_counts_loop_bodies_once": loops,
           "ratio": (xla * topo.chips / counts["mfu_count"]
                     if counts["mfu_count"] and not loops else None)}
  # the matmuls as compiled: every convolution of the optimised HLO, once per loop trip
  flops["hlo_matmul_per_chip"] = hlo_stats.hlo_matmul_flops(hlo)
  if flops_breakdown:
    traced = hlo_stats.flop_breakdown(eng.train_step, state, batch, vocab=cfg.padded_vocab)
    flops["matmul_per_chip"] = traced["matmul"] / topo.chips
    flops["vocab_matmul_per_chip"] = traced["vocab_matmul"] / topo.chips
    flops["breakdown_per_chip"] = {
        k: (v / topo.chips if k != "by_primitive" else
            {name: f / topo.chips for name, f in v.items()}) for k, v in traced.items()}
    b = flops["breakdown_per_chip"]
    # compiled matmuls + the traced elementwise and optimizer work, over the count
    flops["compiled_per_chip"] = flops["hlo_matmul_per_chip"] + b["elementwise"] + b["optimizer"]
    flops["compiled_ratio"] = flops["compiled_per_chip"] / flops["project_per_chip"]
  report = {
      "config": cfg.name, "topology": _topology(topo), "mesh": dict(eng.mesh.shape),
      "model": _model(cfg, counts), "batch": _batch(cfg),
      "compile_s": compile_s, "memory": mem, "hbm_bytes": topo.hbm_bytes, "compiled": True,
      "verdict": verdict(mem["total"], topo.hbm_bytes), "flops": flops,
      "collectives": hlo_stats.collectives(hlo),
  }
  if eval_step:
    report["eval"] = _eval(eng, cfg, batch, topo)
  if keep_hlo:
    report["_hlo"] = hlo   # the optimised HLO text (not JSON'd: the caller pops it)
  return report


_OOM = re.compile(r"HLO temporaries \(([\d.]+)([KMGT])\) exceeds available HBM \(([\d.]+)([KMGT])\)")


def _bytes(value: str, unit: str) -> int:
  return int(float(value) * 2 ** (10 * "KMGT".index(unit) + 10))


def _out_of_memory(error, cfg, eng, topo, state, batch, compile_s) -> dict:
  """libtpu refuses a program whose temporaries exceed the chip's HBM: the
  report of what it said (no executable: no FLOPs or collectives)."""
  m = _OOM.search(str(error))
  if not m:
    raise error
  temps, available = _bytes(*m.group(1, 2)), _bytes(*m.group(3, 4))
  mem = {"parameters": hlo_stats.shard_bytes(state["params"]),
         "optimizer_state": hlo_stats.shard_bytes(state["opt_state"]),
         "batch": hlo_stats.shard_bytes(batch), "temporaries": temps,
         "available_hbm": available}
  mem["total"] = mem["parameters"] + mem["optimizer_state"] + mem["batch"] + temps
  counts = project_flops(cfg, state["params"])
  return {
      "config": cfg.name, "topology": _topology(topo), "mesh": dict(eng.mesh.shape),
      "model": _model(cfg, counts), "batch": _batch(cfg), "compile_s": compile_s,
      "memory": mem, "hbm_bytes": topo.hbm_bytes, "compiled": False,
      "verdict": verdict(mem["total"], topo.hbm_bytes, refused=available),
      "flops": {"xla_per_chip": None, "project_per_chip": counts["mfu_count"] / topo.chips,
                "six_n_per_chip": counts["six_n"] / topo.chips, "ratio": None},
      "collectives": None,
  }


def _batch(cfg) -> dict:
  return {"sequences": cfg.train.batch_size, "seq_len": cfg.data.seq_len,
          "microbatches": cfg.gns.microbatches}


def _eval(eng, cfg, batch, topo) -> dict:
  """The eval step's compile and memory. It sees the whole batch at once (no
  micro-batches), so it can need more than the train step: a program libtpu
  refuses is reported ("does not fit ... libtpu refused it"), not raised."""
  params = eng.setup.abstract_state["params"]
  t0 = time.perf_counter()
  try:
    compiled = eng.eval_step.trace(params, batch).lower().compile()
  except jax.errors.JaxRuntimeError as e:
    m = _OOM.search(str(e))
    if not m:
      raise
    temps, available = _bytes(*m.group(1, 2)), _bytes(*m.group(3, 4))
    total = hlo_stats.shard_bytes(params) + hlo_stats.shard_bytes(batch) + temps
    return {"compile_s": time.perf_counter() - t0, "total": total, "compiled": False,
            "verdict": verdict(total, topo.hbm_bytes, refused=available)}
  m = compiled.memory_analysis()
  total = int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
              + m.generated_code_size_in_bytes - m.alias_size_in_bytes)
  return {"compile_s": time.perf_counter() - t0, "total": total,
          "verdict": verdict(total, topo.hbm_bytes)}


def _topology(topo) -> dict:
  return {"name": topo.name, "generation": topo.generation, "chips": topo.chips,
          "hosts": topo.hosts, "slices": topo.slices, "hbm_gib": topo.hbm_bytes / 2**30,
          "device_kind": topo.devices[0].device_kind}


def _model(cfg, counts) -> dict:
  m = cfg.model
  return {"kind": m.kind, "size": m.size, "n_layer": m.n_layer, "d_model": m.d_model,
          "vocab_size": m.vocab_size, "n_nonembedding": counts["n_nonembedding"],
          "dtype": m.dtype, "attention": m.attention if m.kind == "transformer" else None,
          "lstm_impl": m.lstm_impl if m.kind == "lstm" else None, "remat": m.remat,
          "scan_layers": m.scan_layers, "loss_chunk": m.loss_chunk,
          "logits_bf16": m.logits_bf16}


def lower_for_gpu(config, n_devices: int = 1) -> str:
  """The train step lowered to StableHLO for CUDA on this machine's devices
  (no GPU needed; XLA attention and the LSTM scan): the module's text."""
  from scaling.train import engine  # pylint: disable=g-import-not-at-top
  c = config.copy_and_resolve_references()
  c.model.attention = "xla" if c.model.attention in ("auto", "cudnn") else c.model.attention
  c.model.lstm_impl = "scan" if c.model.lstm_impl in ("auto", "cudnn") else c.model.lstm_impl
  cfg = prepare(c, n_devices, platform="gpu")
  eng = engine.build(cfg, devices=jax.devices()[:n_devices])
  batch = abstract_batch(cfg, eng.mesh)
  lowered = eng.train_step.trace(eng.setup.abstract_state, batch).lower(
      lowering_platforms=("cuda",))
  return lowered.as_text()
