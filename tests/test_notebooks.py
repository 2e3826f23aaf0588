"""Every notebook executes top to bottom on a small sweep directory."""

import glob
import json
import os

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from conftest import REPO

NOTEBOOKS = sorted(glob.glob(os.path.join(REPO, "notebooks", "*.ipynb")))


def _small_sweep(root):
  """Five runs whose curves follow L(N, S) = (N_c/N)^0.076 + (S_c/S)^0.76."""
  rows = []
  for i, n in enumerate([1e4, 3e4, 1e5, 3e5, 1e6]):
    name = f"run{i}"
    os.makedirs(os.path.join(root, name))
    steps = np.arange(1, 301)
    loss = (8.8e13 / n) ** 0.076 + (2.1e3 / steps) ** 0.76 * 0.3
    with open(os.path.join(root, name, "metrics.jsonl"), "w") as f:
      for s, l in zip(steps, loss):
        f.write(json.dumps({"step": int(s), "tokens": int(s) * 2048, "loss": float(l)}) + "\n")
    with open(os.path.join(root, name, "eval.jsonl"), "w") as f:
      for s in (0, 100, 200, 300):
        l = float(loss[max(s, 1) - 1])
        f.write(json.dumps({"step": s, "tokens": s * 2048, "val_loss": l, "val_bpb": l}) + "\n")
    final = (8.8e13 / n) ** 0.076  # the final losses follow L(N) exactly
    row = {"name": name, "status": "completed", "n_params_nonembedding": int(n),
           "tokens_seen": 300 * 2048, "compute_flops": 6 * n * 300 * 2048,
           "steps": 300, "batch_tokens": 2048, "val_loss": final,
           "best_val_loss": final, "val_bpb": final,
           "per_position_loss": list(2.0 + 3.0 * np.arange(1, 65) ** -0.6)}
    with open(os.path.join(root, name, "summary.json"), "w") as f:
      json.dump(row, f)
    rows.append(row)
  with open(os.path.join(root, "results.jsonl"), "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_executes(path, tmp_path, monkeypatch):
  _small_sweep(str(tmp_path / "sweep"))
  monkeypatch.setenv("SCALING_SWEEP_DIR", str(tmp_path / "sweep"))
  monkeypatch.setenv("PYTHONPATH", REPO)
  notebook = nbformat.read(path, as_version=4)
  NotebookClient(notebook, timeout=300, kernel_name="python3",
                 resources={"metadata": {"path": os.path.dirname(path)}}).execute()
  outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
  assert not [o for o in outputs if o.output_type == "error"]
  text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
  assert "5 finished runs" in text and "alpha_N = 0.076" in text, text  # fit recovers the law
  assert any("image/png" in o.get("data", {}) for o in outputs)
