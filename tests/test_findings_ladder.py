"""The ladder's checks (scaling.findings.checks.ladder) on synthetic sweeps with
known answers: learning curves drawn from L = E + (N_c/N)^alpha_N + (S_c/S)^alpha_S
with chosen constants give "reproduced"; the same curves broken the way each
finding can fail give "not reproduced"."""

import dataclasses
import os

import numpy as np
import pytest

from scaling import laws, pyfile
from scaling.findings import checks
from scaling.findings.checks import ladder
from scaling.laws.curves import Curve
from sweep_fixtures import Member, write_sweep

EXPERIMENT = pyfile.load("experiments/model_size.py", "experiment")
FINDINGS = {f.key: f for f in EXPERIMENT.FINDINGS}
N_M = np.array([12 * l * d * d for l, d, _ in EXPERIMENT.CPU_LADDER], float)
STEPS, EVERY, BATCH = 850, 50, 2048
# Curves that hold every ladder finding: larger models lower everywhere, the
# largest learns more per token, and models are overtaken ~10% above their end.
TRUTH = {"E": 1.0, "alpha_N": 0.5, "N_c": 5e4, "alpha_S": 1.0, "S_c": 60.0}


def fast(key, **criteria):
  """The registered finding with small bootstrap counts (criteria are data)."""
  f = FINDINGS[key]
  extra = {"bootstrap": 20} if key in ("L_N", "compute_frontier") else {}
  return dataclasses.replace(f, criteria={**f.criteria, **extra, **criteria})


def law_loss(n, s, p=TRUTH, s_c_power=0.0):
  s_c = p["S_c"] * (n / N_M[0]) ** s_c_power
  return p["E"] + (p["N_c"] / n) ** p["alpha_N"] + (s_c / s) ** p["alpha_S"]


def members(loss_fn=law_loss, other_fn=lambda l: l + 0.3, final_factor=None):
  out = []
  for i, n in enumerate(N_M):
    rows = []
    for s in range(0, STEPS + 1, EVERY):
      loss = 5.5 if s == 0 else float(loss_fn(n, s))
      if s == STEPS and final_factor is not None:
        loss *= final_factor(i)
      rows.append({"step": s, "tokens": s * BATCH, "val_loss": loss,
                   "val_loss/licences": float(other_fn(loss))})
    summary = {"n_params_nonembedding": int(n), "steps": STEPS, "val_loss": rows[-1]["val_loss"]}
    out.append(Member(f"m{i}", summary, rows))
  return out


def sweep_of(tmp_path, ms, name="sweep"):
  return write_sweep(str(tmp_path / name), "experiments/model_size.py", "cpu", ms)


def run(key, sweep, tmp_path, **criteria):
  f = fast(key, **criteria)
  verdict = checks.get(f.check)(f, sweep, str(tmp_path / "img"))
  assert os.path.isfile(verdict.figure) and verdict.figure.endswith(f"{key}.png")
  return verdict


@pytest.fixture(scope="module")
def truth_sweep(tmp_path_factory):
  return sweep_of(tmp_path_factory.mktemp("truth"), members())


def test_ns_e_law_recovers_known_constants():
  law = laws.get_law("NS+E")
  truth = {"alpha_N": 0.35, "alpha_S": 0.8, "N_c": 3e3, "S_c": 60.0, "E": 1.4}
  n, s = (a.ravel() for a in np.meshgrid(N_M, np.arange(100.0, 451.0, 50.0)))
  rng = np.random.default_rng(0)
  loss = law.predict(truth, {"N": n, "S": s}) * np.exp(0.002 * rng.standard_normal(n.size))
  np.testing.assert_allclose(law.predict(truth, {"N": n, "S": s}),
                             1.4 + (3e3 / n) ** 0.35 + (60 / s) ** 0.8, rtol=1e-12)
  result = laws.fit_law(law, {"N": n, "S": s, "loss": loss})
  for k, v in truth.items():
    assert result.params[k] == pytest.approx(v, rel=0.1), k


def test_holdout_power_law_predicts_the_largest_model(truth_sweep, tmp_path):
  v = run("L_N", truth_sweep, tmp_path)
  assert v.status == "reproduced", v.summary
  assert abs(v.measured["rel_error"]) < 1e-3
  assert v.measured["alpha_N"] == pytest.approx(0.5, rel=0.02)
  assert v.measured["decades"] == pytest.approx(np.log10(N_M[-1] / N_M[0]))
  lo, hi = v.measured["interval"]
  assert lo <= v.measured["predicted"] <= hi


def test_holdout_power_law_fails_when_the_largest_is_lifted(tmp_path):
  sweep = sweep_of(tmp_path, members(final_factor=lambda i: 1.05 if i == len(N_M) - 1 else 1.0))
  v = run("L_N", sweep, tmp_path)
  assert v.status == "not reproduced"
  assert v.measured["rel_error"] == pytest.approx(1 / 1.05 - 1, abs=2e-3)


def test_holdout_power_law_needs_two_decades(truth_sweep, tmp_path):
  v = run("L_N", truth_sweep, tmp_path, min_decades=2.5)
  assert v.status == "not reproduced"


def test_learning_curves_predict_their_end(truth_sweep, tmp_path):
  v = run("L_N_S", truth_sweep, tmp_path)
  assert v.status == "reproduced", v.summary
  assert v.measured["max_abs_rel_error"] < 1e-3
  assert v.measured["alpha_S"] == pytest.approx(1.0, rel=0.02)
  # rows 100..425 of each of the 8 models
  assert v.measured["n_points"] == 8 * len(range(100, 426, EVERY))


def test_learning_curves_fail_on_a_late_drop(tmp_path):
  # The last evaluation falls 3% below the law: the first half cannot see it.
  sweep = sweep_of(tmp_path, members(final_factor=lambda i: 0.97))
  v = run("L_N_S", sweep, tmp_path)
  assert v.status == "not reproduced"
  assert v.measured["max_abs_rel_error"] == pytest.approx(1 / 0.97 - 1, rel=0.05)


def test_transfer_slope_is_measured(truth_sweep, tmp_path):
  v = run("transfer", truth_sweep, tmp_path)
  assert v.status == "reproduced"
  assert v.measured["slope"] == pytest.approx(1.0) and v.measured["intercept"] == pytest.approx(0.3)
  steep = sweep_of(tmp_path, members(other_fn=lambda l: 1.5 * l), "steep")
  v = run("transfer", steep, tmp_path)
  assert v.status == "not reproduced" and v.measured["slope"] == pytest.approx(1.5)


def test_transfer_without_the_other_column_is_not_run(tmp_path):
  ms = members()
  for m in ms:
    m.evals = [{k: v for k, v in r.items() if "/" not in k} for r in m.evals]
  with pytest.raises(checks.FindingInputError, match="val_loss/licences"):
    run("transfer", sweep_of(tmp_path, ms), tmp_path)


def test_tokens_to_reach_interpolates_in_log_tokens():
  rows = [{"step": s, "tokens": t, "val_loss": l}
          for s, t, l in ((0, 0, 9.0), (1, 100, 4.0), (2, 400, 2.0), (3, 1600, 1.0))]
  m = ladder.Model("m", 1.0, 3, rows)
  tokens, how = ladder.tokens_to_reach(m, 3.0)
  assert how == "crossed" and tokens == pytest.approx(200.0)  # halfway in log(100..400)
  assert ladder.tokens_to_reach(m, 0.5) == (None, "not_reached")
  assert ladder.tokens_to_reach(m, 5.0) == (100.0, "at_start")


def test_larger_models_need_fewer_tokens(truth_sweep, tmp_path):
  v = run("sample_efficiency", truth_sweep, tmp_path)
  assert v.status == "reproduced", v.summary
  levels = v.measured["levels"]
  assert [l["model"] for l in levels] == ["m2", "m3", "m4"]
  assert [len(l["N"]) for l in levels] == [6, 5, 4]
  assert all(l["spearman"] == pytest.approx(-1.0) for l in levels)
  # the level's own model reaches it at its last step
  assert levels[0]["tokens"][0] == pytest.approx(STEPS * BATCH)


def test_sample_efficiency_fails_when_larger_models_learn_slower(tmp_path):
  slow = lambda n, s: law_loss(n, s, s_c_power=1.0)  # S_c grows with N
  sweep = sweep_of(tmp_path, members(loss_fn=slow))
  v = run("sample_efficiency", sweep, tmp_path)
  assert v.status == "not reproduced"


def test_frontier_grows_and_leaves_models_unconverged(truth_sweep, tmp_path):
  v = run("compute_frontier", truth_sweep, tmp_path)
  assert v.status == "reproduced", v.summary
  assert v.measured["a_interval"][0] > 0
  assert v.measured["median_gap"] >= 0.05
  assert len(v.measured["gaps"]) == len(N_M) - 1
  assert any("bootstrap" in n for n in v.notes)


def test_frontier_fails_when_models_converge_before_they_are_overtaken(tmp_path):
  converged = {**TRUTH, "alpha_N": 0.35, "N_c": 3e3, "alpha_S": 3.0, "S_c": 5.0}
  sweep = sweep_of(tmp_path, members(loss_fn=lambda n, s: law_loss(n, s, converged)))
  v = run("compute_frontier", sweep, tmp_path)
  assert v.status == "not reproduced"
  assert v.measured["median_gap"] < 0.01


def test_leaving_point_is_where_the_larger_curve_crosses():
  # Two curves against C: the small one is overtaken at C = 1e3 where it is 2.0,
  # then falls to 1.5 at its end: 33% above.
  small = Curve("a", 1.0, np.array([1e1, 1e3, 1e5]) / 6, np.array([3.0, 2.0, 1.5]))
  large = Curve("b", 10.0, np.array([1e2, 1e3, 1e5]) / 60,
                            np.array([4.0, 2.0, 1.0]))
  (point,) = ladder.leaving_points([small, large], n_grid=2001)
  assert point["run"] == "a" and point["by"] == "b"
  assert point["C"] == pytest.approx(1e3, rel=0.01)
  assert point["excess"] == pytest.approx(2.0 / 1.5 - 1, rel=0.01)


def test_too_few_models_is_not_run(tmp_path):
  sweep = sweep_of(tmp_path, members()[:3])
  with pytest.raises(checks.FindingInputError, match="needs at least"):
    run("L_N", sweep, tmp_path)
