"""scaling-compile: compile a run's train and eval steps for a TPU topology on
this machine (no TPU needed: libtpu compiles ahead of time), and say what fits.

  scaling-compile --config configs/transformer.py:size=base --topology v5e-8 \
      --config.mesh.fsdp=8 --out runs/compile-base

The steps are scaling-train's (same model, optimizer, shardings, donation,
mesh.*, remat, scan), resolved for TPU (bf16 compute, XLA attention, the LSTM's
scan); the vocabulary is model.vocab_size, else GPT-2's 50257. Prints per-chip
memory against the chip's HBM and a verdict, XLA's FLOPs beside the project's
count, the collectives per step, compile time, topology and mesh; --out DIR
writes the same as DIR/compile.json, and the optimised HLO as
DIR/train_step.hlo.gz. Topologies: v4-8, v4-32, v5e-8, v5e-16, v5e-64, v5p-8,
v5p-128, v6e-8, and NxNAME for N slices (2xv5e-16).
--fit_table FILE regenerates the which-model-fits-where table in FILE (docs/tpu.md).
Exit codes: 0 fits, 2 bad input (or libtpu missing), 4 compiled but does not fit
(the train step, or the eval step, which sees the whole batch at once).
"""

from __future__ import annotations

import gzip
import json
import os
import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from scaling.cli import fail, script

EXIT_DOES_NOT_FIT = 4
EXAMPLE = ("scaling-compile --config configs/transformer.py:size=base --topology v5e-8 "
           "--config.mesh.fsdp=8 --config.train.batch_size=256")
_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Run config: path/to/config.py[:ARGS].", lock_config=True)
_TOPOLOGY = flags.DEFINE_string("topology", None, "TPU topology, e.g. v5e-16 or 2xv5e-16.")
_OUT = flags.DEFINE_string("out", None, "Directory for compile.json.")
_FIT_TABLE = flags.DEFINE_string(
    "fit_table", None, "Regenerate the fits table between its markers in this Markdown "
    "file (e.g. docs/tpu.md); takes --topology as a comma-separated list.")
_EVAL = flags.DEFINE_bool("eval_step", True, "Also compile the eval step.")
_SIZES = flags.DEFINE_string("sizes", None, "--fit_table: comma-separated sizes (default all).")
_CACHED_ONLY = flags.DEFINE_bool(
    "cached_only", False, "--fit_table: use only the reports already in --out; rows not "
    "compiled yet say so.")


def _gib(x) -> str:
  return f"{x / 2**30:.3f} GiB"


def _gap(f: dict) -> list[str]:
  """What XLA's FLOPs beyond the count are made of (the traced breakdown)."""
  b = f.get("breakdown_per_chip")
  if not b:
    return []
  x = f["xla_per_chip"]
  share = lambda v: f"{v:.3e} ({v / x:.1%})"
  return [f"  compiled FLOPs per chip-step: {f['compiled_per_chip']:.3e} = HLO matmuls "
          f"{f['hlo_matmul_per_chip']:.3e} (once per loop trip) + traced elementwise and "
          f"optimizer; over the project count {f['compiled_ratio']:.4f}",
          f"  of XLA's FLOPs: matmuls {share(b['matmul'])} (logits {b['vocab_matmul'] / x:.1%}), "
          f"model elementwise {share(b['elementwise'])} (cross-entropy over the vocabulary "
          f"{b['vocab_elementwise'] / x:.1%}), optimizer {share(b['optimizer'])}; traced "
          f"total / XLA {b['total'] / x:.3f}"]


def summary(r: dict) -> str:
  """The report as the lines scaling-compile prints."""
  t, m, f = r["topology"], r["memory"], r["flops"]
  mesh = ", ".join(f"{k} {v}" for k, v in r["mesh"].items())
  model = r["model"]
  head = [
      f"{r['config']} ({model['n_nonembedding'] / 1e6:.1f}M non-embedding, {model['dtype']}, "
      f"remat {model['remat']}) on {t['name']}: {t['chips']} {t['generation']} chips, "
      f"{t['hosts']} hosts, {t['slices']} slice(s); mesh {mesh}",
      f"  batch {r['batch']['sequences']}x{r['batch']['seq_len']} "
      f"({r['batch']['microbatches']} micro-batches); compiled in {r['compile_s']:.1f} s",
  ]
  if not r["compiled"]:
    return "\n".join(head + [
        f"  per chip: parameters {_gib(m['parameters'])}, optimizer state "
        f"{_gib(m['optimizer_state'])}, batch {_gib(m['batch'])}; temporaries "
        f"{_gib(m['temporaries'])}",
        f"  memory: {r['verdict']['line']}",
        f"  FLOPs per chip-step: project count {f['project_per_chip']:.3e} (no executable)"])
  lines = head + [
      f"  per chip: parameters {_gib(m['parameters'])}, optimizer state "
      f"{_gib(m['optimizer_state'])}, batch {_gib(m['batch'])} (arguments "
      f"{_gib(m['arguments'])}); temporaries {_gib(m['temporaries'])}; outputs "
      f"{_gib(m['outputs'])} ({_gib(m['donated'])} donated); code {_gib(m['generated_code'])}",
      f"  memory: {r['verdict']['line']}",
      f"  FLOPs per chip-step: XLA {f['xla_per_chip']:.3e}, project count "
      f"{f['project_per_chip']:.3e} (6N alone {f['six_n_per_chip']:.3e}), ratio "
      + (f"{f['ratio']:.3f}" if f["ratio"] is not None else
         "n/a (XLA counts a loop body once: scan_layers or micro-batches; see the traced "
         "count)") + (f"; traced matmuls {f['matmul_per_chip']:.3e} (vocabulary-sized "
                             f"{f['vocab_matmul_per_chip']:.3e})" if "matmul_per_chip" in f
                             else ""),
      *_gap(f),
      "  collectives per step: " + ", ".join(
          f"{k} {v['count']} ({_gib(v['bytes'])})" for k, v in r["collectives"].items()),
  ]
  if "eval" in r:
    lines.append(f"  eval step: {r['eval']['verdict']['line']}, compiled in "
                 f"{r['eval']['compile_s']:.1f} s")
  return "\n".join(lines)


def _one(topo_name: str) -> int:
  from scaling.aot import compiled  # pylint: disable=g-import-not-at-top
  from scaling.aot import topology  # pylint: disable=g-import-not-at-top
  topo = topology.devices(topo_name)
  report = compiled.compile_run(_CONFIG.value, topo, eval_step=_EVAL.value,
                                keep_hlo=bool(_OUT.value))
  hlo = report.pop("_hlo", None)
  print(summary(report))
  if _OUT.value:
    os.makedirs(_OUT.value, exist_ok=True)
    if hlo is not None:
      with gzip.open(os.path.join(_OUT.value, "train_step.hlo.gz"), "wt") as f:
        f.write(hlo)
    path = os.path.join(_OUT.value, "compile.json")
    with open(path, "w") as f:
      json.dump(report, f, indent=1)
    print(f"wrote {path}")
  fits = report["verdict"]["fits"] and report.get("eval", {}).get("verdict", {"fits": True})["fits"]
  return 0 if fits else EXIT_DOES_NOT_FIT


def _table() -> int:
  from scaling.aot import fit_table  # pylint: disable=g-import-not-at-top
  sizes = _SIZES.value.split(",") if _SIZES.value else None
  fit_table.regenerate(_FIT_TABLE.value, _TOPOLOGY.value.split(","), sizes=sizes,
                       base=_CONFIG.value, out=_OUT.value, cached_only=_CACHED_ONLY.value)
  print(f"wrote the table in {_FIT_TABLE.value}")
  return 0


def main(argv):
  if len(argv) > 1:
    fail(f"unexpected arguments {argv[1:]}; pass settings as --config.KEY=VALUE")
  if not _TOPOLOGY.value:
    fail("--topology is required, e.g. --topology v5e-16")
  if _CONFIG.value is None:
    fail("--config is required, e.g. --config configs/transformer.py:size=tiny")
  from scaling.aot.compiled import GpuOnly  # pylint: disable=g-import-not-at-top
  from scaling.aot.topology import TopologyError  # pylint: disable=g-import-not-at-top
  from scaling.sharding import MeshError  # pylint: disable=g-import-not-at-top
  from scaling.validation import ConfigError  # pylint: disable=g-import-not-at-top
  try:
    code = _table() if _FIT_TABLE.value else _one(_TOPOLOGY.value)
  except (TopologyError, GpuOnly, ConfigError, MeshError, ValueError) as e:
    fail(str(e).splitlines()[0])
  sys.exit(code)


@script
def run():
  """Console-script entry point."""
  from scaling.cli import flag_parsing  # pylint: disable=g-import-not-at-top
  app.run(main, flags_parser=flag_parsing.parser(EXAMPLE))


if __name__ == "__main__":
  run()
