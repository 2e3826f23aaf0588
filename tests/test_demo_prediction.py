"""`make demo`'s analysis (experiments/model_size.py:tiny) predicts the largest
model from the others before it shows the measurement: run on a synthetic
sweep with a known law, not a training run."""

import json
import os

import numpy as np
import pytest

from conftest import REPO
from scaling import laws
from scaling.sweep.experiment import load_experiment
from sweep_fixtures import Member, write_sweep

LADDER = [("L1_d8", 768), ("L1_d16", 3_072), ("L2_d32", 24_576), ("L2_d64", 98_304),
          ("L3_d96", 331_776), ("L4_d128", 786_432)]
E, N_C, ALPHA = 1.5, 1e4, 0.3


def _loss(n: float, wobble: float) -> float:
  return E + (N_C / n) ** ALPHA + wobble


def _sweep(path, wobbles=(0.004, -0.003, 0.002, -0.004, 0.003, 0.0)):
  members = []
  for (name, n), w in zip(LADDER, wobbles):
    loss = _loss(n, w)
    members.append(Member(name, {"n_params_nonembedding": n, "tokens_seen": 614_400,
                                 "compute_flops": 6.0 * n * 614_400, "val_loss": loss,
                                 "val_bpb": loss / np.log(2), "steps": 300}))
  return write_sweep(str(path), "experiments/model_size.py", "tiny", members)


def test_tiny_analysis_predicts_the_largest_before_showing_it(tmp_path, capsys):
  sweep = _sweep(tmp_path / "ms")
  experiment = load_experiment(os.path.join(REPO, "experiments", "model_size.py") + ":tiny")
  data = experiment.analyze(sweep.path)
  text = capsys.readouterr().out
  observed = _loss(786_432, 0.0)
  # The runs table hides the held-out loss; the prediction comes before it.
  predicted_at = text.index("predicted loss of L4_d128")
  measured_at = text.index("measured loss of L4_d128")
  assert predicted_at < measured_at
  assert f"{observed:.4f}" not in text[:predicted_at]
  assert f"{observed:.4f}" in text[measured_at:]
  assert "95% bootstrap interval [" in text[predicted_at:measured_at]
  assert "relative error" in text and "inside the interval" in text
  assert "alpha_N = " in text and "L = E + (N_c/N)^alpha_N" in text
  assert "BPE" in text and "not the constants" in text  # the paper's units said plainly
  p = data["prediction"]
  assert p["name"] == "L4_d128" and p["observed"] == pytest.approx(observed)
  assert p["predicted_lo"] <= p["predicted"] <= p["predicted_hi"]
  assert p["inside"] and abs(p["rel_error"]) < 0.02
  out = os.path.join(sweep.path, "fit_N_E")
  fit = json.loads(open(os.path.join(out, "fit.json")).read())
  assert fit["law"] == "N+E" and fit["n_points"] == 5 and fit["bootstrap"] == 200
  assert os.path.getsize(os.path.join(out, "fit_N_E.png")) > 1000


def test_a_measurement_outside_the_interval_is_reported_as_such(tmp_path, capsys):
  sweep = _sweep(tmp_path / "ms", wobbles=(0.004, -0.003, 0.002, -0.004, 0.3))
  experiment = load_experiment(os.path.join(REPO, "experiments", "model_size.py") + ":tiny")
  data = experiment.analyze(sweep.path)
  assert not data["prediction"]["inside"]
  assert "outside the interval" in capsys.readouterr().out


def test_holdout_rows_carry_a_bootstrap_prediction_interval():
  n = np.geomspace(1e4, 1e6, 6)
  data = {"N": n, "loss": E + (N_C / n) ** ALPHA * (1 + 0.003 * np.cos(np.arange(6)))}
  (row,) = laws.fit_law("N+E", data, bootstrap=50, holdout_largest=1).holdout["rows"]
  assert row["predicted_lo"] <= row["predicted"] <= row["predicted_hi"]
  assert row["inside"] == (row["predicted_lo"] <= row["observed"] <= row["predicted_hi"])
  (row,) = laws.fit_law("N+E", data, holdout_largest=1).holdout["rows"]
  assert "predicted_lo" not in row  # no bootstrap, no interval
