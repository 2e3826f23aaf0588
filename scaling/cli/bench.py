"""scaling-bench: tokens/s, MFU, step and compile time of a config's train step.

  scaling-bench --config configs/transformer.py:size=base --steps 20 \
      --config.train.batch_size=16 --config.data.source=synthetic
  scaling-bench --config configs/transformer.py:size=tiny --steps 10 --out bench.json

  scaling-bench --suite paper --out DIR [--budget_s 420] [--levers a,b] [--only groups]
  scaling-bench --suite paper --tiny --out DIR       # the same rows at CPU size
  scaling-bench --suite cpu --rounds 3 --out DIR     # study shapes against nanoGPT on the CPU
  scaling-bench --suite gns --out DIR                # the noise-scale estimator's cost (CPU)
  scaling-bench --prepare_peers PATH/TO/nanoGPT      # copies its model.py into .peers/
  scaling-bench --inspect_hlo [--tiny] [--levers logits_bf16,chunk_bf16]

Synthetic tokens (vocabulary model.vocab_size, or 50257), the real train step.
--suite paper measures every row of the throughput targets (docs/performance.md)
with its peers in one call and writes DIR/bench.json and DIR/bench.md.
"""

from __future__ import annotations

import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from scaling.cli import script
from scaling.results.io import write_json

EXAMPLE = ("scaling-bench --config configs/transformer.py:size=nano --steps 5 "
           "--config.data.source=synthetic")
_CONFIG = config_flags.DEFINE_config_file("config", None, "path/to/config.py[:ARGS]",
                                          lock_config=True)
_STEPS = flags.DEFINE_integer("steps", 20, "Timed steps (after warm-up).")
_WARMUP = flags.DEFINE_integer("warmup", 2, "Untimed steps after compilation.")
_VOCAB = flags.DEFINE_integer("vocab_size", None, "Vocabulary size (default: config or 50257).")
_PEAK = flags.DEFINE_float("peak_flops", None, "Peak FLOP/s for MFU (default: by device).")
_OUT = flags.DEFINE_string("out", None, "Also write the result as JSON here (--suite: a folder).")
_GNS = flags.DEFINE_bool("gns_overhead", False,
                         "Also time the step without the noise-scale estimator (same k "
                         "micro-batches) and report the estimator's overhead.")
_SUITE = flags.DEFINE_enum("suite", None, ["paper", "cpu", "gns"],
                           "Run a whole suite (see docs/performance.md): paper (the GPU rows), "
                           "cpu (the study's CPU shapes against nanoGPT on the CPU) or gns "
                           "(the noise-scale estimator's cost, timed and by XLA; docs/gns.md).")
_BLOCKS = flags.DEFINE_integer("blocks", 20, "--suite gns: interleaved timed blocks per "
                               "variant.")
_ROUNDS = flags.DEFINE_integer("rounds", 1, "--suite: measure every row this many times in "
                               "turn; report median ratios of rows of the same round.")
_THREADS = flags.DEFINE_integer("threads", None, "--suite cpu: the peer's torch threads "
                                "(default: the cores this process may use, as XLA:CPU counts them).")
_PEER_COMPILE = flags.DEFINE_bool("peer_compile", True, "--suite cpu: also time nanoGPT under "
                                "torch.compile (besides eager).")
_TINY = flags.DEFINE_bool("tiny", False, "--suite/--inspect_hlo: the same rows at CPU size.")
_BUDGET = flags.DEFINE_float("budget_s", 420.0, "--suite: seconds for all rows; the rest skip.")
_LEVERS = flags.DEFINE_string("levers", None, "Comma list of levers (default: all; '' none).")
_ONLY = flags.DEFINE_string("only", "", "--suite: only these groups (transformer, lstm, gns, "
                            "compile, lever), with their peers.")
_ISOLATE = flags.DEFINE_bool("isolate", True, "--suite: each JAX row in its own process.")
_PEERS = flags.DEFINE_string("peers_dir", ".peers", "Folder holding nanoGPT/model.py.")
_PREPARE = flags.DEFINE_string("prepare_peers", None,
                               "Copy nanoGPT's model.py from this checkout into --peers_dir.")
_INSPECT = flags.DEFINE_bool("inspect_hlo", False, "Compile the 12x768 step from shapes and "
                             "check its HLO (f32 logits, QKV, donation, host, recompiles).")


def _fail(message: str):
  print(f"error: {message}", file=sys.stderr)
  sys.exit(2)


def _lever_names(default):
  if _LEVERS.value is None:
    return default
  return tuple(n.strip() for n in _LEVERS.value.split(",") if n.strip())


def _suite():
  from scaling.bench import plan as bench_plan, suite as bench_suite  # pylint: disable=g-import-not-at-top
  if not _OUT.value:
    _fail("--suite needs --out DIR")
  try:
    if _SUITE.value == "gns":
      rows = bench_plan.gns_rows(tiny=_TINY.value, blocks=_BLOCKS.value)
    elif _SUITE.value == "cpu":
      rows = bench_plan.select(bench_plan.cpu_rows(threads=_THREADS.value, tiny=_TINY.value,
                                                   compile_peer=_PEER_COMPILE.value), _ONLY.value)
    else:
      rows = bench_plan.select(bench_plan.paper_rows(
          tiny=_TINY.value, levers=_lever_names(bench_plan.DEFAULT_LEVERS)), _ONLY.value)
  except ValueError as e:
    _fail(str(e))
  suite = bench_suite.run_suite(rows, _OUT.value, budget_s=_BUDGET.value, isolate=_ISOLATE.value,
                                peers_dir=_PEERS.value, tiny=_TINY.value,
                                log=lambda line: print(line, flush=True), rounds=_ROUNDS.value,
                                name=_SUITE.value)
  with open(f"{_OUT.value}/bench.md") as f:
    print(f.read())
  print(f"wrote {_OUT.value}/bench.json and bench.md ({len(suite['rows'])} rows)")


def _inspect():
  from scaling.bench import hlo as bench_hlo  # pylint: disable=g-import-not-at-top
  try:
    rows = bench_hlo.inspect_rows(tiny=_TINY.value,
                                  levers=_lever_names(("logits_bf16", "chunk_bf16")))
  except ValueError as e:
    _fail(str(e))
  from scaling.validation import ConfigError  # pylint: disable=g-import-not-at-top
  results = []
  for i, row in enumerate(rows):
    try:
      results.append(bench_hlo.inspect(row, run=_TINY.value and i == 0))
    except (ConfigError, ValueError) as e:
      _fail(f"{row['id']}: {e}")
    print(bench_hlo.summary(results[-1]), flush=True)
  if _OUT.value:
    write_json(_OUT.value, results)


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  if _PREPARE.value:
    from scaling.bench import peers as bench_peers  # pylint: disable=g-import-not-at-top
    try:
      print(f"copied nanoGPT into {bench_peers.prepare(_PREPARE.value, _PEERS.value)}")
    except FileNotFoundError as e:
      _fail(str(e))
    return
  if _SUITE.value:
    return _suite()
  if _INSPECT.value:
    return _inspect()
  if _CONFIG.value is None:
    print("error: --config is required", file=sys.stderr)
    sys.exit(2)
  from scaling.bench.measure import benchmark, gns_overhead  # pylint: disable=g-import-not-at-top
  from scaling.validation import ConfigError  # pylint: disable=g-import-not-at-top
  try:
    run = gns_overhead if _GNS.value else benchmark
    result = run(_CONFIG.value, steps=_STEPS.value, warmup=_WARMUP.value,
                 vocab_size=_VOCAB.value, peak=_PEAK.value)
  except ConfigError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  mfu = f"{100 * result['mfu']:.1f}%" if result["mfu"] is not None else "n/a"
  mem = result["peak_memory_bytes"]
  print(f"{result['config']} on {result['n_devices']}x {result['device']} (jax {result['jax']}), "
        f"{result['n_layer']}x{result['d_model']}, batch {result['batch_size']}x{result['n_ctx']}, "
        f"{result['dtype']}, attention {result['attention']}")
  print(f"  tokens/s      {result['tokens_per_sec']:,.0f}")
  print(f"  MFU           {mfu} ({result['peak']})")
  print(f"  step time     {1e3 * result['step_time_s']:.1f} ms")
  print(f"  compile time  {result['compile_time_s']:.1f} s")
  print(f"  peak memory   {mem / 2**30:.2f} GiB" if mem else "  peak memory   n/a on this device")
  if "gns_overhead" in result:
    print(f"  noise scale   {100 * result['gns_overhead']:+.1f}% step time against plain "
          f"accumulation over {result['gns_microbatches']} micro-batches "
          f"({1e3 * result['step_time_without_gns_s']:.1f} ms without)")
  if _OUT.value:
    write_json(_OUT.value, result)


@script
def run():
  from scaling.cli import flag_parsing  # pylint: disable=g-import-not-at-top
  app.run(main, flags_parser=flag_parsing.parser(EXAMPLE))


if __name__ == "__main__":
  run()
