"""Subprocess job for test_mesh.py: trains nano runs on given meshes.

python tests/mesh_job.py WORKDIR STEPS RESTORE_AT "d,f,m" ["d,f,m" ...]
Prints one JSON line {"d,f,m": [per-step losses], ...}. With RESTORE_AT = 0
each mesh trains from scratch. With RESTORE_AT = k the first mesh trains the
whole run and every other mesh resumes a copy of it from its step-k
checkpoint: a checkpoint saved on one mesh, restored onto another.
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
  workdir, steps, restore_at, *meshes = sys.argv[1:]
  steps, restore_at = int(steps), int(restore_at)
  out = {}
  first_dir = None
  for mesh in meshes:
    run_dir = os.path.join(workdir, mesh.replace(",", "x"))
    if restore_at and first_dir:
      shutil.copytree(first_dir, run_dir)
      for name in os.listdir(os.path.join(run_dir, "checkpoints")):
        if name.isdigit() and int(name) > restore_at:
          shutil.rmtree(os.path.join(run_dir, "checkpoints", name))
    train(config(mesh, steps), run_dir, progress=False)
    first_dir = first_dir or run_dir
    out[mesh] = losses(run_dir)
  print(json.dumps(out))


if __name__ == "__main__":
  main()
