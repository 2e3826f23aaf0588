"""Every notebook executes top to bottom on a small sweep directory."""

import glob
import os

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from conftest import REPO
from scaling.results import SweepDir, Summary

pytestmark = pytest.mark.slow  # runs each notebook in a kernel

NOTEBOOKS = sorted(glob.glob(os.path.join(REPO, "notebooks", "*.ipynb")))


def _small_sweep(root):
  """Five runs whose curves follow L(N, S) = (N_c/N)^0.076 + (S_c/S)^0.76."""
  sweep = SweepDir(root)
  for i, n in enumerate([1e4, 3e4, 1e5, 3e5, 1e6]):
    run = sweep.member(f"run{i}")
    os.makedirs(run.path)
    steps = np.arange(1, 301)
    loss = (8.8e13 / n) ** 0.076 + (2.1e3 / steps) ** 0.76 * 0.3
    run.metrics_writer().write([{"step": int(s), "tokens": int(s) * 2048, "loss": float(l)}
                                for s, l in zip(steps, loss)])
    run.evals_writer().write([
        {"step": s, "tokens": s * 2048, "val_loss": float(loss[max(s, 1) - 1]),
         "val_bpb": float(loss[max(s, 1) - 1])} for s in (0, 100, 200, 300)])
    final = (8.8e13 / n) ** 0.076  # the final losses follow L(N) exactly
    run.write_summary(Summary(
        name=f"run{i}", status="completed", n_params_nonembedding=int(n),
        tokens_seen=300 * 2048, compute_flops=6 * n * 300 * 2048, steps=300,
        batch_tokens=2048, val_loss=final, best_val_loss=final, val_bpb=final,
        per_position_loss=list(2.0 + 3.0 * np.arange(1, 65) ** -0.6)))
  sweep.collect([(f"run{i}", {}) for i in range(5)])


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
