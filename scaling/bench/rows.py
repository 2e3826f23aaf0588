"""One row of the benchmark suite, measured in JAX (scaling.bench.suite runs it).

A row is a plain dict (JSON), so the suite can hand it to a fresh process:

  python -m scaling.bench.rows ROW_JSON RESULT_JSON

kinds: `train` (tokens/s of the real train step), `gns` (the noise-scale
estimator against plain accumulation over the same k micro-batches, timed
interleaved, and XLA's cost analysis of both; `cost_only`: compile only),
`compile` (lower + compile from shapes alone, nothing runs).
Every row builds its step with scaling.bench.measure.build_step: the assembly
scaling-train uses. Tokens are synthetic; nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from scaling import config as configlib
from scaling.results.io import write_json


def row_config(row: dict):
  """The run config a row describes: the project's defaults, AdamW, synthetic tokens."""
  c = configlib.base_config()
  m = c.model
  m.kind = row["model"]
  m.n_layer, m.d_model, m.n_ctx = row["n_layer"], row["d_model"], row["n_ctx"]
  m.n_heads = row.get("n_heads", 1)
  c.data.source = "synthetic"
  c.train.batch_size = row["batch"]
  c.train.optimizer = "adamw"
  c.train.lr = 1e-4
  c.train.warmup_steps = 10
  c.name = row["id"]
  for key, value in row.get("overrides", {}).items():
    section, name = key.split(".")
    c[section][name] = value
  return c


def versions() -> dict:
  """Device and software versions as JAX sees them (CUDA/cuDNN where a plugin has them)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jaxlib  # pylint: disable=g-import-not-at-top
  out = {"jax": jax.__version__, "jaxlib": jaxlib.__version__,
         "backend": jax.default_backend(), "device": jax.devices()[0].device_kind,
         "n_devices": jax.device_count()}
  try:
    from jax._src.lib import cuda_versions  # pylint: disable=g-import-not-at-top
  except ImportError:
    cuda_versions = None
  for name, fn in (("cuda_runtime", "cuda_runtime_get_version"),
                   ("cuda_driver", "cuda_driver_get_version"), ("cudnn", "cudnn_get_version")):
    try:
      out[name] = getattr(cuda_versions, fn)()
    except Exception:  # pylint: disable=broad-except
      out[name] = None  # no CUDA plugin (CPU, TPU) or an older plugin
  return out


def _train(row: dict) -> dict:
  from scaling.bench.measure import benchmark  # pylint: disable=g-import-not-at-top
  r = benchmark(row_config(row), steps=row.get("steps", 50), warmup=row.get("warmup", 2),
                vocab_size=row["vocab"], target_s=row.get("target_s"))
  keep = ("tokens_per_sec", "mfu", "peak", "step_time_s", "compile_time_s", "peak_memory_bytes",
          "step_memory_bytes", "steps_timed", "final_loss", "dtype", "attention",
          "n_params_nonembedding", "mfu_flops_per_token")
  return {k: r[k] for k in keep}


GNS_VARIANTS = ("accumulate", "accumulate+gns")  # the estimator off, on; same k micro-batches


def _overhead(a, b):
  return b / a - 1 if a else float("nan")


def _gns(row: dict) -> dict:
  """The estimator's cost: the real step with gns on (B) against plain
  accumulation over the same k micro-batches (A). XLA's cost analysis of the two
  compiled programs always; unless row["cost_only"] (compile from shapes alone,
  any size on a CPU), interleaved timed blocks (A, B, A, B, ...) so that drift
  on a shared machine hits both: overheads of the medians, of the fastest
  blocks, and the median over adjacent block pairs (the least drift-sensitive)."""
  import jax  # pylint: disable=g-import-not-at-top
  from scaling.bench.measure import (abstract_batch, build_step, synthetic_batch,  # pylint: disable=g-import-not-at-top
                                     xla_cost)
  from scaling.train import state as statelib  # pylint: disable=g-import-not-at-top
  runs = {}
  for name, enabled in zip(GNS_VARIANTS, (False, True)):
    c = row_config(row)
    c.gns.enabled, c.gns.microbatches = enabled, row["k"]
    step, setup, cfg, sharding = build_step(c, vocab_size=row["vocab"])
    t0 = time.perf_counter()
    if row.get("cost_only"):
      compiled = step.lower(setup.abstract_state, abstract_batch(cfg, sharding)).compile()
      runs[name] = {"cost": xla_cost(compiled), "compile_s": time.perf_counter() - t0}
      continue
    batch = jax.device_put(synthetic_batch(np.random.default_rng(0), cfg.train.batch_size,
                                           cfg.data.seq_len, cfg.model.vocab_size), sharding)
    state = statelib.init_state(cfg.model, setup, cfg.train.seed)
    compiled = step.lower(state, batch).compile()
    compile_s = time.perf_counter() - t0
    for _ in range(2):  # warm up
      state, metrics = compiled(state, batch)
    jax.block_until_ready(metrics)
    runs[name] = {"step": compiled, "state": state, "batch": batch, "times": [],
                  "cost": xla_cost(compiled), "compile_s": compile_s}
  a, b = runs.values()
  out = {"gns_microbatches": row["k"], "compile_time_s": b["compile_s"],
         "xla": {n: r["cost"] for n, r in runs.items()},
         "xla_flops_overhead": _overhead(a["cost"]["flops"], b["cost"]["flops"]),
         "xla_bytes_overhead": _overhead(a["cost"]["bytes"], b["cost"]["bytes"])}
  if row.get("cost_only"):
    return out
  steps = row.get("steps", 5)
  for _ in range(row.get("blocks", 6)):
    for r in runs.values():
      t0 = time.perf_counter()
      for _ in range(steps):
        r["state"], metrics = r["step"](r["state"], r["batch"])
      jax.block_until_ready((r["state"], metrics))
      r["times"].append((time.perf_counter() - t0) / steps)
  plain, gns = (float(np.median(r["times"])) for r in (a, b))
  best_plain, best_gns = (float(np.min(r["times"])) for r in (a, b))
  return {**out, "step_time_s": gns, "step_time_without_gns_s": plain,
          "gns_overhead": _overhead(plain, gns),
          "best_step_time_s": best_gns, "best_step_time_without_gns_s": best_plain,
          "gns_overhead_best": _overhead(best_plain, best_gns),
          "gns_overhead_paired": float(np.median([_overhead(x, y) for x, y in
                                                  zip(a["times"], b["times"])])),
          "blocks_s": {n: r["times"] for n, r in runs.items()},
          "tokens_per_sec": row["batch"] * row["n_ctx"] / gns}


def _compile(row: dict) -> dict:
  from scaling.bench.measure import abstract_batch, build_step  # pylint: disable=g-import-not-at-top
  step, setup, cfg, sharding = build_step(row_config(row), vocab_size=row["vocab"])
  t0 = time.perf_counter()
  step.lower(setup.abstract_state, abstract_batch(cfg, sharding)).compile()
  return {"compile_time_s": time.perf_counter() - t0}


RUNNERS = {"train": _train, "gns": _gns, "compile": _compile}


def run_row(row: dict) -> dict:
  """Measures one row; {'status': 'skipped', 'reason': ...} when the device cannot."""
  import jax  # pylint: disable=g-import-not-at-top
  if row.get("needs") == "gpu" and jax.default_backend() != "gpu":
    return {"status": "skipped", "reason": f"needs a CUDA GPU (backend is "
                                           f"{jax.default_backend()})"}
  t0 = time.perf_counter()
  result = RUNNERS[row["kind"]](row)
  return {"status": "measured", "wall_s": time.perf_counter() - t0, **result}


def main(argv) -> int:
  """Child entry point: reads the row, writes the result; failures as one line."""
  row_path, out_path = argv[1:3]
  with open(row_path) as f:
    row = json.load(f)
  try:
    result = run_row(row)
    result["versions"] = versions()
  except Exception as e:  # pylint: disable=broad-except
    result = {"status": "failed", "reason": f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
              if str(e) else type(e).__name__}
  write_json(out_path, result)
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
