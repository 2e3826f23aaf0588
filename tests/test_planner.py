"""Compute-efficient allocation (Table 6) and the scaling-plan CLI."""

import json
import math

import pytest

from scaling import laws
from scaling.cli import plan as plan_cli


def test_table6_at_one_pf_day():
  p = laws.plan(1.0, pf_days=True)
  assert p.N == pytest.approx(1.3e9)
  assert p.B == pytest.approx(2.0e6)
  assert p.S_min == pytest.approx(5.4e3)
  assert p.D == pytest.approx(2e10)
  assert p.loss == pytest.approx(3.1e8 ** 0.050)
  assert p.c_min_flops == pytest.approx(8.64e19)
  assert p.S == pytest.approx(2 * p.S_min)


def test_table6_scaling_with_compute_in_flops():
  p1 = laws.plan(1.0, pf_days=True)
  p = laws.plan(1e3 * laws.PF_DAY)  # FLOP
  assert p.c_min_pf_days == pytest.approx(1e3)
  for key, (_, exponent) in laws.TABLE6.items():
    assert getattr(p, key) / getattr(p1, key) == pytest.approx(1e3 ** exponent)
  assert p.loss == pytest.approx((3.1e8 / 1e3) ** 0.050)


def test_table6_is_self_consistent():
  # Training at B = B_crit: D = B*S = 2*B*S_min and C = 6*N*D ~ 2*C_min.
  for c in (1e-3, 1.0, 1e3):
    p = laws.plan(c, pf_days=True)
    assert p.D == pytest.approx(2 * p.B * p.S_min, rel=0.1)
    assert p.C_flops / p.c_min_flops == pytest.approx(2.0, rel=0.15)


def test_overfitting_bound_and_early_stopping_step():
  p = laws.plan(1.0, pf_days=True)
  assert p.overfit_min_data == pytest.approx(5e3 * p.N ** 0.74)
  assert p.data_tokens == p.D and p.overfit_ok == (p.D >= p.overfit_min_data)
  nd = laws.LAWS["ND"].paper
  l_nd = ((nd["N_c"] / p.N) ** (nd["alpha_N"] / nd["alpha_D"])
          + nd["D_c"] / p.D) ** nd["alpha_D"]
  l_inf = (nd["N_c"] / p.N) ** nd["alpha_N"]
  assert p.loss_data_limited == pytest.approx(l_nd)
  assert p.S_stop == pytest.approx(2.1e3 / (l_nd - l_inf) ** (1 / 0.76))
  big = laws.plan(1.0, pf_days=True, data_tokens=1e12)
  assert big.overfit_ok and not laws.plan(1.0, pf_days=True,
                                          data_tokens=1e9).overfit_ok
  assert big.S_stop > p.S_stop  # more data: overfitting starts later


def test_nd_fit_gives_the_eq_4_4_bound():
  # Eq. 4.4 follows from eq. 4.1 with a 0.02-nat penalty; with Table 2's
  # constants it is ~5e3*N^0.74.
  nd_fit = {"law": "ND", "params": laws.LAWS["ND"].paper}
  p = laws.plan(1.0, pf_days=True, fits=[nd_fit])
  over = p.constants["overfit"]
  assert over["exponent"] == pytest.approx(0.74, abs=0.005)
  assert over["coef"] == pytest.approx(5e3, rel=0.25)


def test_fitted_constants_replace_the_papers(tmp_path):
  fit = {"law": "frontier",
         "allocation": {"C_min": {"N": {"coef": 1e9, "exponent": 0.7},
                                  "B": {"coef": 1e6, "exponent": 0.2},
                                  "S_min": {"coef": 4e3, "exponent": 0.05},
                                  "D": {"coef": 3e10, "exponent": 0.3}}},
         "loss_fit": {"C_min": {"law": "Cmin", "params": {
             "alpha_Cmin": 0.06, "C_c_min": 1e7}}}}
  path = tmp_path / "fit.json"
  path.write_text(json.dumps(fit))
  p = laws.plan(10.0, pf_days=True, fits=[str(path)])
  assert p.N == pytest.approx(1e9 * 10 ** 0.7)
  assert p.B == pytest.approx(1e6 * 10 ** 0.2)
  assert p.D == pytest.approx(3e10 * 10 ** 0.3)
  assert p.loss == pytest.approx((1e7 / 10) ** 0.06)
  assert str(path) in p.sources["allocation"]
  cmin = {"law": "Cmin", "params": {"alpha_Cmin": 0.04, "C_c_min": 1e9}}
  p = laws.plan(1.0, pf_days=True, fits=[cmin])
  assert p.loss == pytest.approx(1e9 ** 0.04) and p.N == pytest.approx(1.3e9)


def test_plan_cli_json(capsys):
  assert plan_cli.main(["--compute", "1", "--pf-days", "--json"]) == 0
  out = json.loads(capsys.readouterr().out)
  assert out["N"] == pytest.approx(1.3e9)
  assert out["B"] == pytest.approx(2.0e6)
  assert out["S_min"] == pytest.approx(5.4e3)
  assert out["D"] == pytest.approx(2e10)
  assert out["B_seqs"] == pytest.approx(2.0e6 / 1024)
  assert plan_cli.main(["--compute", "8.64e19"]) == 0
  text = capsys.readouterr().out
  assert "1.3e+09" in text and "2e+10" in text and "eq. 5.7" in text


@pytest.mark.parametrize("argv, match", [
    (["--compute", "-1"], "compute must be finite and > 0"),
    (["--compute", "nan"], "compute must be finite"),
    (["--compute", "abc"], "invalid float value"),
    ([], "--compute"),
    (["--compute", "1", "--fit", "/nonexistent/fit.json"], "does not exist"),
])
def test_plan_cli_bad_input(capsys, argv, match):
  assert plan_cli.main(argv) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("error: ") and match in err[0]


def test_plan_rejects_a_fit_without_constants(tmp_path, capsys):
  path = tmp_path / "fit.json"
  path.write_text(json.dumps({"law": "Cmin", "params": {}}))
  assert plan_cli.main(["--compute", "1", "--fit", str(path)]) == 2
  assert capsys.readouterr().err.startswith("error: ")
  assert math.isfinite(laws.plan(1e20).loss)


def test_plan_rejects_a_fit_it_cannot_use(capsys):
  with pytest.raises(laws.LawInputError, match="no constants the planner uses"):
    laws.plan(1.0, fits=[{"law": "C", "params": {"alpha_C": 0.05,
                                                  "C_c": 1e7}}])
