"""The small formats inside a config, parsed where the config is.

`eval.datasets` ("[NAME=]SOURCE;...") with `eval.sets`, `train.inject_nonfinite`
("loss@STEP"), and the mesh arithmetic (how many devices split the batch).
RunConfig, validation.py, the data glue and the train step all read them here.
"""

from __future__ import annotations

import os
import re

from scaling.data.errors import DataError
from scaling.data.sources import spec_error

_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def default_name(spec: str) -> str:
  """A short name for a source, used in metric keys (val_loss/<name>)."""
  kind, _, rest = spec.partition(":")
  if kind == "text":
    first = os.path.basename(rest.split(",")[0].strip().rstrip("/")) or "text"
    for suffix in (".gz", ".txt", ".text", ".md", ".rst"):
      first = first[:-len(suffix)] if first.lower().endswith(suffix) else first
    name = first
  elif kind == "tfds":
    name = rest.partition(":")[0].replace("/", "_")
  elif kind == "seqio":
    name = rest.rpartition(":")[2]
  elif kind == "nltk":
    names, _, part = rest.partition(":")
    name = "_".join(n.strip() for n in names.split(",") if n.strip()) + (f"_{part}" if part else "")
  else:
    name = spec
  return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "data"


def parse_eval_datasets(value) -> list[tuple[str, str]]:
  """`eval.datasets` ("[NAME=]SOURCE;..." or a list) as [(name, source spec)]."""
  if isinstance(value, str):
    entries = [e.strip() for e in re.split(r"[;\n]", value)]
  else:
    entries = [str(e).strip() for e in (value or ())]
  out, names = [], set()
  for entry in filter(None, entries):
    name, sep, spec = entry.partition("=")
    if not sep or not _NAME.fullmatch(name.strip()):
      name, spec = default_name(entry), entry
    name, spec = name.strip(), spec.strip()
    error = spec_error(spec)
    if error or spec == "synthetic":
      raise DataError(f"eval.datasets entry {entry!r}: "
                      + (error or "synthetic has no text to evaluate on")
                      + "; entries are [NAME=]SOURCE separated by ';'")
    if name in names:
      raise DataError(f"eval.datasets names {name!r} twice; give one a name, NAME=SOURCE")
    names.add(name)
    out.append((name, spec))
  return out


def eval_sets_of(eval_cfg) -> list[tuple[str, str]]:
  """The extra evaluation sets, [(name, source)], of `eval.datasets` (the
  "[NAME=]SOURCE;..." string) and `eval.sets` (NAME = SOURCE, nested)."""
  nested = [f"{name}={spec}" for name, spec in eval_cfg.sets.items()]
  value = eval_cfg.datasets
  entries = ([value] if isinstance(value, str) else list(value or ())) + nested
  return parse_eval_datasets(";".join(e for e in entries if e.strip()))


def parse_injection(spec: str):
  """'loss@12' or 'grad@12' -> ('loss', 12); '' -> None (train.inject_nonfinite)."""
  if not spec:
    return None
  what, _, at = spec.partition("@")
  if what not in ("loss", "grad") or not at.isdigit() or int(at) < 1:
    raise ValueError(f"train.inject_nonfinite={spec!r} must look like loss@STEP or grad@STEP")
  return what, int(at)


def parse_start_from(spec: str):
  """'RUN_DIR@STEP' -> (RUN_DIR, STEP); '' -> None (checkpoint.start_from)."""
  if not spec:
    return None
  run_dir, _, at = spec.rpartition("@")
  if not run_dir or not at.isdigit() or int(at) < 1:
    raise ValueError(f"checkpoint.start_from={spec!r} must look like RUN_DIR@STEP")
  return run_dir, int(at)


def mesh_data(c, n: int) -> int:
  """mesh.data on `n` devices (-1: the devices mesh.model x mesh.fsdp leave)."""
  return c.mesh.data if c.mesh.data != -1 else n // max(c.mesh.model * c.mesh.fsdp, 1)


def data_parallel(c, n_devices: int) -> int:
  """Devices a config's batch is split over on `n_devices`: mesh.data x mesh.fsdp."""
  return max(mesh_data(c, n_devices), 1) * c.mesh.fsdp


def per_device_batch(c, n: int) -> int:
  """The rows of train.batch_size each data-parallel device holds."""
  return c.train.batch_size // data_parallel(c, n)
