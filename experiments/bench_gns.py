"""Cost of the gradient-noise-scale estimator: k-micro-batch accumulation with and without it.

  PYTHONPATH=. python experiments/bench_gns.py --size tiny --batch 16 --k 4
  PYTHONPATH=. python experiments/bench_gns.py --size base --batch 32 --k 4 \\
      --seq-len 1024 --vocab 50257                # GPT-2-small shape, on a GPU
  PYTHONPATH=. python experiments/bench_gns.py --size base --batch 32 --k 4 \\
      --seq-len 1024 --vocab 50257 --cost-only    # compile only: XLA's cost analysis

Both steps are the real jitted train step (scaling.train.step) on random tokens;
they differ only in gns.enabled. Timings are interleaved (A, B, A, B, ...) so
that drift on a shared machine hits both; the median and the fastest block of
each are reported with the overhead (B/A − 1), and the median of B/A − 1 over
adjacent block pairs (the least sensitive to drift). XLA's cost analysis of the two
compiled steps (FLOPs, bytes accessed) is a noise-free comparison; --cost-only
compiles from shapes alone and runs nothing, so it works for any size on a CPU.
`scaling-bench --suite paper` has the same measurement at 12x768 as its gns row.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=wrong-import-position
from scaling import config as configlib
from scaling.bench.measure import build_step
from scaling.train import state as statelib

VARIANTS = (("accumulate", False), ("accumulate+gns", True))


def build(args, gns: bool):
  """(jitted step, Setup, resolved config, batch sharding) of one variant."""
  c = configlib.base_config()
  configlib.apply_size(c, args.size)
  c.model.n_ctx, c.train.batch_size = args.seq_len, args.batch
  c.train.lr = 1e-4
  c.gns.enabled, c.gns.microbatches = gns, args.k
  return build_step(c, vocab_size=args.vocab)


def xla_cost(step, state, batch) -> dict:
  """FLOPs and bytes accessed of the compiled step (state and batch may be abstract)."""
  cost = step.lower(state, batch).compile().cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return {"flops": float(cost.get("flops", 0.0)), "bytes": float(cost.get("bytes accessed", 0.0))}


def _pct(a: float, b: float) -> float:
  return 100 * (b / a - 1) if a else float("nan")


def measure(args) -> dict:
  rng = np.random.default_rng(0)
  tokens = rng.integers(0, args.vocab, size=(args.batch, args.seq_len + 1), dtype=np.int32)
  runs = {}
  for name, gns in VARIANTS:
    step, setup, cfg, sharding = build(args, gns)
    if args.cost_only:
      abstract = jax.ShapeDtypeStruct((args.batch, args.seq_len), np.int32, sharding=sharding)
      runs[name] = {"cost": xla_cost(step, setup.abstract_state,
                                     {"inputs": abstract, "targets": abstract})}
      continue
    batch = jax.device_put({"inputs": tokens[:, :-1], "targets": tokens[:, 1:]}, sharding)
    state = statelib.init_state(cfg.model, setup, cfg.train.seed)
    runs[name] = {"cost": xla_cost(step, state, batch)}
    for _ in range(2):  # compile and warm up
      state, metrics = step(state, batch)
    jax.block_until_ready(metrics)
    runs[name].update(step=step, state=state, batch=batch, times=[])

  if not args.cost_only:
    for _ in range(args.blocks):
      for r in runs.values():
        t0 = time.perf_counter()
        for _ in range(args.steps):
          r["state"], metrics = r["step"](r["state"], r["batch"])
        jax.block_until_ready((r["state"], metrics))
        r["times"].append((time.perf_counter() - t0) / args.steps)

  a, b = runs.values()
  result = {"device": str(jax.devices()[0].device_kind), "backend": jax.default_backend(),
            "size": args.size, "batch": args.batch, "seq_len": args.seq_len,
            "vocab": args.vocab, "k": args.k,
            "xla": {n: r["cost"] for n, r in runs.items()},
            "overhead_percent_xla_flops": _pct(a["cost"]["flops"], b["cost"]["flops"]),
            "overhead_percent_xla_bytes": _pct(a["cost"]["bytes"], b["cost"]["bytes"])}
  head = (f"{result['device']} ({result['backend']}), size={args.size}, batch {args.batch}x"
          f"{args.seq_len}, vocab {args.vocab}, k={args.k}")
  xla = (f"XLA cost analysis, with vs without the estimator: FLOPs "
         f"{result['overhead_percent_xla_flops']:+.3f}%, bytes accessed "
         f"{result['overhead_percent_xla_bytes']:+.3f}%")
  if args.cost_only:
    print(f"{head}:\n  {xla}")
    return result
  med = [float(np.median(r["times"])) for r in (a, b)]
  best = [float(np.min(r["times"])) for r in (a, b)]
  paired = float(np.median([_pct(x, y) for x, y in zip(a["times"], b["times"])]))
  result.update(median_step_s=dict(zip(runs, med)), best_step_s=dict(zip(runs, best)),
                overhead_percent_median=_pct(*med), overhead_percent_best=_pct(*best),
                overhead_percent_paired=paired,
                blocks={n: r["times"] for n, r in runs.items()})
  print(f"{head}, {args.blocks} interleaved blocks of {args.steps} steps:\n"
        f"  accumulate      median {med[0] * 1e3:.2f} ms/step, best block {best[0] * 1e3:.2f}\n"
        f"  accumulate+gns  median {med[1] * 1e3:.2f} ms/step, best block {best[1] * 1e3:.2f}\n"
        f"  overhead: of the medians {_pct(*med):+.2f}%, of the best blocks "
        f"{_pct(*best):+.2f}%, median over adjacent block pairs {paired:+.2f}%\n  {xla}")
  return result


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--size", default="tiny", choices=list(configlib.SIZES))
  p.add_argument("--batch", type=int, default=16, help="sequences per step")
  p.add_argument("--seq-len", type=int, default=128)
  p.add_argument("--vocab", type=int, default=259, help="259: the byte vocabulary")
  p.add_argument("--k", type=int, default=4, help="micro-batches")
  p.add_argument("--steps", type=int, default=5, help="timed steps per block")
  p.add_argument("--blocks", type=int, default=20, help="interleaved blocks per variant")
  p.add_argument("--cost-only", action="store_true", help="compile only; no timing")
  p.add_argument("--json", help="also write the result here")
  args = p.parse_args(argv)
  result = measure(args)
  if args.json:
    with open(args.json, "w") as f:
      json.dump(result, f, indent=1)
  return result


if __name__ == "__main__":
  main()
