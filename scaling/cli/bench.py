"""scaling-bench: tokens/s, MFU, step and compile time of a config's train step.

  scaling-bench --config configs/transformer.py:size=base --steps 20 \
      --config.train.batch_size=16 --config.data.source=synthetic
  scaling-bench --config configs/transformer.py:size=tiny --steps 10 --out bench.json

Synthetic tokens (vocabulary model.vocab_size, or 50257), the real train step.
"""

from __future__ import annotations

import json
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "path/to/config.py[:ARGS]",
                                          lock_config=True)
_STEPS = flags.DEFINE_integer("steps", 20, "Timed steps (after warm-up).")
_WARMUP = flags.DEFINE_integer("warmup", 2, "Untimed steps after compilation.")
_VOCAB = flags.DEFINE_integer("vocab_size", None, "Vocabulary size (default: config or 50257).")
_PEAK = flags.DEFINE_float("peak_flops", None, "Peak FLOP/s for MFU (default: by device).")
_OUT = flags.DEFINE_string("out", None, "Also write the result as JSON here.")
_GNS = flags.DEFINE_bool("gns_overhead", False,
                         "Also time the step without the noise-scale estimator (same k "
                         "micro-batches) and report the estimator's overhead.")


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  if _CONFIG.value is None:
    print("error: --config is required", file=sys.stderr)
    sys.exit(2)
  from scaling.bench import benchmark, gns_overhead  # pylint: disable=g-import-not-at-top
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
    with open(_OUT.value, "w") as f:
      json.dump(result, f, indent=1)


def run():
  app.run(main)


if __name__ == "__main__":
  run()
