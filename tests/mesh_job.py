"""Subprocess job for test_mesh.py: trains nano runs on given meshes.

python tests/mesh_job.py WORKDIR STEPS "d,f,m" ... [--restore-at K "d,f,m" ...]
Prints one JSON line {"d,f,m": [per-step losses], ..., "restored": {...}}. Each
mesh before --restore-at trains from scratch; each one after it resumes a copy
of the first mesh's run from its step-K checkpoint: a checkpoint saved on one
mesh, restored onto another. One process, so the meshes share compilations.
"""

import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from conftest import small_config  # pylint: disable=wrong-import-position
from scaling.results import io as records  # pylint: disable=wrong-import-position
from scaling.train.loop import train  # pylint: disable=wrong-import-position


def config(mesh, steps):
  d, f, m = (int(x) for x in mesh.split(","))
  c = small_config("nano", **{"train.steps": steps, "train.log_every": 1,
                              "mesh.data": d, "mesh.fsdp": f, "mesh.model": m,
                              "checkpoint.every_steps": 5, "checkpoint.keep": 10,
                              "eval.every_steps": 100, "eval.batches": 1})
  c.model.n_heads = 4  # so that `model` can split the heads 4 ways
  return c


def losses(run_dir):
  return [r["loss"] for r in records.read_jsonl(os.path.join(run_dir, "metrics.jsonl"))]


def main():
  workdir, steps, *rest = sys.argv[1:]
  steps = int(steps)
  scratch, restore_at, restored = rest, 0, []
  if "--restore-at" in rest:
    i = rest.index("--restore-at")
    scratch, restore_at, restored = rest[:i], int(rest[i + 1]), rest[i + 2:]
  out = {}
  for mesh in scratch:
    run_dir = os.path.join(workdir, mesh.replace(",", "x"))
    train(config(mesh, steps), run_dir, progress=False)
    out[mesh] = losses(run_dir)
  first_dir = os.path.join(workdir, scratch[0].replace(",", "x"))
  out["restored"] = {}
  for mesh in restored:
    run_dir = os.path.join(workdir, "restored-" + mesh.replace(",", "x"))
    shutil.copytree(first_dir, run_dir)
    for name in os.listdir(os.path.join(run_dir, "checkpoints")):
      if name.isdigit() and int(name) > restore_at:
        shutil.rmtree(os.path.join(run_dir, "checkpoints", name))
    train(config(mesh, steps), run_dir, progress=False)
    out["restored"][mesh] = losses(run_dir)
  print(json.dumps(out))


if __name__ == "__main__":
  main()
