"""The shape, overfitting, B_crit and per-position checks on synthetic sweeps of known answer.

Each sweep is built from planted constants (a spread, an overfitting law, a
B_crit law, per-position gaps) with the members, names and sizes of the
experiment's `cpu` variant; the criteria are the real Finding's. For each
check: a sweep that holds (the planted numbers recovered), one minimally
perturbed so that it does not, and one the check cannot judge.
"""

import dataclasses
import json
import os

import numpy as np
import pytest

from conftest import REPO
from sweep_fixtures import Member, write_sweep
from scaling.findings import spec
from scaling.findings.checks import FindingInputError, get
from scaling.sweep.experiment import load_experiment


def _experiment(name):
  return load_experiment(os.path.join(REPO, "experiments", f"{name}.py")).module


def _finding(module, **criteria):
  (finding,) = [f for f in module.FINDINGS if not f.repeats]  # the first attempt's
  if criteria:
    finding = dataclasses.replace(finding, criteria={**finding.criteria, **criteria})
  return finding


def _check(finding, sweep, out_dir):
  verdict = get(finding.check)(finding, sweep, str(out_dir))
  assert verdict.figure == os.path.join(str(out_dir), finding.key + ".png")
  assert os.path.getsize(verdict.figure) > 0
  json.dumps(verdict.measured)  # JSON-able
  return verdict


# ---------------------------------------------------------------- shape

SHAPE = _experiment("shape")
SHAPE_FINDING = _finding(SHAPE)
ONE_LAYER_INCREASE = 0.10


def shape_sweep(path, spreads, groups=None):
  """val_loss rising linearly in log aspect from each group's best to best·(1 + spread);
  one-layer members ONE_LAYER_INCREASE over the best."""
  members = []
  for i, (size, shapes) in enumerate((groups or SHAPE.CPU_SHAPES).items()):
    best = 2.4 - 0.2 * i
    judged = [(l, d) for l, d, _ in shapes if l >= SHAPE_FINDING.criteria["min_n_layer"]]
    lo, hi = np.log(min(d / l for l, d in judged)), np.log(max(d / l for l, d in judged))
    for l, d, h in shapes:
      frac = (np.log(d / l) - lo) / (hi - lo) if l > 1 else None
      loss = best * (1 + (ONE_LAYER_INCREASE if frac is None else spreads[size] * frac))
      members.append(Member(f"{size}_L{l}_d{d}_h{h}",
                            {"n_layer": l, "d_model": d, "val_loss": float(loss)}))
  return write_sweep(str(path), "experiments/shape.py", "cpu", members)


def test_shape_spread_within_criterion_is_reproduced(tmp_path):
  verdict = _check(SHAPE_FINDING, shape_sweep(tmp_path / "s", {"N1e5": 0.02, "N4e5": 0.01}),
                   tmp_path / "out")
  assert verdict.status == spec.REPRODUCED
  groups = verdict.measured["groups"]
  assert groups["N1e5"]["spread"] == pytest.approx(0.02)
  assert groups["N4e5"]["spread"] == pytest.approx(0.01)
  assert groups["N1e5"]["aspect_range"] == pytest.approx(32 / (26 / 12))
  assert groups["N1e5"]["best"] == "N1e5_L12_d26_h2"  # the smallest aspect: frac 0
  assert groups["N4e5"]["excluded_increase"] == {
      "N4e5_L1_d184_h4": pytest.approx(ONE_LAYER_INCREASE)}
  assert "N1e5_L1_d96_h4" not in groups["N1e5"]["judged"]


def test_shape_one_group_over_the_spread_is_not_reproduced(tmp_path):
  verdict = _check(SHAPE_FINDING, shape_sweep(tmp_path / "s", {"N1e5": 0.02, "N4e5": 0.031}),
                   tmp_path / "out")
  assert verdict.status == spec.NOT_REPRODUCED
  assert verdict.measured["groups"]["N4e5"]["spread"] == pytest.approx(0.031)


def test_shape_too_narrow_aspect_range_cannot_be_judged(tmp_path):
  groups = {"N1e5": [(1, 96, 4), (2, 64, 4), (3, 52, 4), (4, 44, 4)]}  # 32 to 11: 2.9x
  with pytest.raises(FindingInputError, match="N1e5.*2.9"):
    _check(SHAPE_FINDING, shape_sweep(tmp_path / "s", {"N1e5": 0.01}, groups), tmp_path / "o")


# ---------------------------------------------------------------- overfitting

DATA = _experiment("data_size")
DATA_FINDING = _finding(DATA, bootstrap=40)
K, R, ALPHA_D = 20.0, 0.74, 0.2
N_BY_SHAPE = {(1, 32): 13_000, (2, 64): 100_000, (3, 96): 336_000}
WHOLE_SPLIT = 1_793_229


def data_sweep(path, *, r=R, noise=0.003, bump=None, shapes=DATA.CPU_SHAPES):
  """best_val_loss = L_inf·(1 + k·N^r/D)^ALPHA_D, times exp(noise·z) (z fixed by seed),
  k = K at r = R and the same penalties at N = 1e5 for any r; bump: (member name, log
  factor) added to one member."""
  rng = np.random.default_rng(3)
  k = K * 1e5 ** (R - r)
  members = []
  for i, (l, d, h) in enumerate(shapes):
    n, l_inf = N_BY_SHAPE[(l, d)], 2.6 - 0.2 * i
    for tokens in DATA.CPU_D:
      name = f"L{l}_d{d}_D{tokens}" if tokens else f"L{l}_d{d}_Dall"
      log_penalty = ALPHA_D * np.log1p(k * n ** r / tokens) + noise * rng.normal() if tokens else 0
      if bump and bump[0] == name:
        log_penalty += bump[1]
      members.append(Member(name, {
          "best_val_loss": float(l_inf * np.exp(log_penalty)), "n_params_nonembedding": n,
          "train_tokens_available": tokens or WHOLE_SPLIT},
          overrides={"model.n_layer": l, "model.d_model": d, "model.n_heads": h,
                     "data.max_train_tokens": tokens}))
  return write_sweep(str(path), "experiments/data_size.py", "cpu", members)


def test_overfitting_collapse_recovers_the_planted_law(tmp_path):
  verdict = _check(DATA_FINDING, data_sweep(tmp_path / "s"), tmp_path / "out")
  m = verdict.measured
  assert verdict.status == spec.REPRODUCED, verdict.summary
  assert m["r"] == pytest.approx(R, abs=0.05)
  assert m["alpha_D"] == pytest.approx(ALPHA_D, abs=0.03)
  assert m["r_ci95"][0] < R < m["r_ci95"][1] and m["r_ci95"][0] > 0
  assert 0.001 < m["rms"] < 0.006  # the planted noise is 0.003
  assert m["n_points"] == 12 and m["paper_r"] == pytest.approx(0.74, abs=0.005)
  assert {v["name"] for v in m["references"].values()} == {"L1_d32_Dall", "L2_d64_Dall",
                                                           "L3_d96_Dall"}


def test_overfitting_one_member_off_the_curve_is_not_reproduced(tmp_path):
  verdict = _check(DATA_FINDING, data_sweep(tmp_path / "s", bump=("L2_d64_D50000", 0.04)),
                   tmp_path / "out")
  assert verdict.status == spec.NOT_REPRODUCED
  assert verdict.measured["max_abs_residual"] > DATA_FINDING.criteria["max_abs_residual"]
  worst = max(verdict.measured["points"], key=lambda p: abs(p["residual"]))
  assert worst["name"] == "L2_d64_D50000"


def test_overfitting_penalty_independent_of_n_is_not_reproduced(tmp_path):
  verdict = _check(DATA_FINDING, data_sweep(tmp_path / "s", r=0.0), tmp_path / "out")
  m = verdict.measured
  assert verdict.status == spec.NOT_REPRODUCED
  assert m["r_ci95"][0] <= 0 <= m["r_ci95"][1]
  assert m["rms"] <= DATA_FINDING.criteria["max_rms"]  # the collapse holds; r does not


def test_overfitting_one_model_cannot_be_judged(tmp_path):
  with pytest.raises(FindingInputError, match="1 model"):
    _check(DATA_FINDING, data_sweep(tmp_path / "s", shapes=DATA.CPU_SHAPES[:1]), tmp_path / "o")


# ---------------------------------------------------------------- B_crit

SCAN = _experiment("batch_size_scan")
SCAN_FINDING = _finding(SCAN)
_, SEQ_LEN, _, BATCH_SIZES, _, _ = SCAN.VARIANTS["tiny"]
ALPHA_B, L_END = 0.21, 2.7
B_STAR = 1024 * L_END ** (1 / ALPHA_B)  # B_crit(2.7) = 1024 tokens, inside the scan
L_INF, ALPHA_S, L_START = 2.0, 0.76, np.log(259)
S_C = 100 * (L_END - L_INF) ** (1 / ALPHA_S)


def true_b_crit(loss):
  return B_STAR / np.asarray(loss) ** (1 / ALPHA_B)


def scan_sweep(path, noise_ratio, batch_sizes=BATCH_SIZES):
  """Learning curves on S = S_min(L)·(1 + B_crit(L)/B) (Eqs. 5.3, 5.4), raw noise
  estimates with B_noise = noise_ratio·B_crit at each step's loss."""
  grid = np.linspace(L_START, L_END - 0.05, 20000)
  members = []
  for b in batch_sizes:
    needed = S_C / (grid - L_INF) ** (1 / ALPHA_S) * (1 + true_b_crit(grid) / (b * SEQ_LEN))
    steps = np.arange(1, SCAN.member_steps("tiny", b) + 1)
    loss = np.interp(steps, needed, grid, left=L_START)
    metrics = [{"step": int(s), "loss": float(x), "gns_g2_raw": 1.0,
                "gns_trace_sigma_raw": float(noise_ratio * true_b_crit(x) / SEQ_LEN)}
               for s, x in zip(steps, loss)]
    members.append(Member(f"b{b}", {"batch_size": b}, metrics=metrics,
                          overrides={"train.batch_size": b}))
  sweep = write_sweep(str(path), "experiments/batch_size_scan.py", "cpu", members)
  for b in batch_sizes:
    sweep.member(f"b{b}").write_config({
        "train": {"batch_size": b, "warmup_steps": 0}, "data": {"seq_len": SEQ_LEN},
        "model": {"n_ctx": SEQ_LEN}, "gns": {"ema": 0.95}})
  return sweep


def test_bcrit_power_law_predicted_by_the_noise_scale_is_reproduced(tmp_path):
  verdict = _check(SCAN_FINDING, scan_sweep(tmp_path / "s", 1.0), tmp_path / "out")
  m = verdict.measured
  assert verdict.status == spec.REPRODUCED, verdict.summary
  assert m["n_levels"] >= SCAN_FINDING.criteria["min_levels"]
  assert m["alpha_b"] == pytest.approx(ALPHA_B, abs=0.02)
  assert m["r2"] > 0.99
  for level in m["levels"]:
    assert level["b_crit_tokens"] == pytest.approx(true_b_crit(level["loss"]), rel=0.05)
    assert level["noise_ratio"] == pytest.approx(1.0, rel=0.07)


def test_bcrit_noise_scale_beyond_twice_b_crit_is_not_reproduced(tmp_path):
  verdict = _check(SCAN_FINDING, scan_sweep(tmp_path / "s", 2.3), tmp_path / "out")
  m = verdict.measured
  assert verdict.status == spec.NOT_REPRODUCED
  assert m["alpha_b"] == pytest.approx(ALPHA_B, abs=0.02)  # the power law still holds
  assert max(l["noise_ratio"] for l in m["levels"]) > SCAN_FINDING.criteria["max_noise_ratio"]


def test_bcrit_two_batch_sizes_cannot_be_judged(tmp_path):
  with pytest.raises(FindingInputError, match="too few batch sizes"):
    _check(SCAN_FINDING, scan_sweep(tmp_path / "s", 1.0, BATCH_SIZES[:2]), tmp_path / "o")


# ---------------------------------------------------------------- per position

LSTM_VS_TF = _experiment("lstm_vs_transformer")
POSITION_FINDING = _finding(LSTM_VS_TF)
N_CTX = LSTM_VS_TF.VARIANTS["cpu"]["n_ctx"]


def planted_gap(early, late):
  """Δ(T): `early` up to T = 8, rising linearly in log T to `late` at T = 256, then flat."""
  t = np.arange(1, N_CTX + 1)
  frac = np.clip(np.log(t / 8) / np.log(256 / 8), 0, 1)
  return early + (late - early) * frac


def position_sweep(path, early, late, kinds=("lstm", "transformer")):
  """An LSTM (N 411K) whose per-position loss is its Transformer's (N 397K) + Δ(T), and a
  far larger Transformer (N 3.1M) with a much lower curve, that the matching must skip."""
  t = np.arange(1, N_CTX + 1)
  transformer = 1.5 + 2.0 * t ** -0.5
  runs = [("lstm-L2-d160", "lstm", 411_000, transformer + planted_gap(early, late)),
          ("transformer-L2-d128", "transformer", 397_000, transformer),
          ("transformer-L4-d256", "transformer", 3_100_000, transformer - 0.5)]
  members = [Member(name, {"model_kind": kind, "n_params_nonembedding": n,
                           "per_position_loss": curve.tolist(), "val_loss": float(curve.mean())})
             for name, kind, n, curve in runs if kind in kinds]
  return write_sweep(str(path), "experiments/lstm_vs_transformer.py", "cpu", members)


def test_per_position_early_match_and_late_gap_is_reproduced(tmp_path):
  verdict = _check(POSITION_FINDING, position_sweep(tmp_path / "s", 0.02, 0.08), tmp_path / "o")
  assert verdict.status == spec.REPRODUCED, verdict.summary
  (pair,) = verdict.measured["pairs"]
  assert pair["transformer"] == "transformer-L2-d128"
  assert pair["early_gap"] == pytest.approx(0.02) and pair["late_gap"] == pytest.approx(0.08)
  assert pair["early_window"] == [1, 8] and pair["late_window"] == [385, 512]
  assert verdict.measured["n_ctx"] == N_CTX
  octaves = pair["octave_means"]
  assert octaves["1-1"] == pytest.approx(0.02) and octaves["256-511"] == pytest.approx(0.08)


@pytest.mark.parametrize("early,late", [(0.02, 0.045), (0.055, 0.08), (-0.055, 0.08)])
def test_per_position_gap_off_either_window_is_not_reproduced(tmp_path, early, late):
  verdict = _check(POSITION_FINDING, position_sweep(tmp_path / "s", early, late), tmp_path / "o")
  (pair,) = verdict.measured["pairs"]
  assert verdict.status == spec.NOT_REPRODUCED
  assert pair["early_gap"] == pytest.approx(early) and pair["late_gap"] == pytest.approx(late)


def test_per_position_without_an_lstm_cannot_be_judged(tmp_path):
  with pytest.raises(FindingInputError, match="LSTM and Transformer"):
    _check(POSITION_FINDING, position_sweep(tmp_path / "s", 0.0, 0.1, kinds=("transformer",)),
           tmp_path / "o")
