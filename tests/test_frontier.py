"""Compute frontier from learning curves."""

import json

import numpy as np
import pytest

from scaling import laws
from scaling.laws import curves as curves_lib
from scaling.laws import frontier

# Learning curves from L(N, S) = (N_c/N)^a_N + (S_c/S)^a_S at a fixed batch B:
# at fixed C = 6*N*B*S the optimum is N_opt ~ C^(a_S/(a_N + a_S)) exactly.
A_N, A_S, N_C, S_C = 0.076, 0.76, 6.5e13, 2.1e3
BATCH = 2.0 ** 19
N_EXP = A_S / (A_N + A_S)


def loss_ns(n, s):
  return (N_C / n) ** A_N + (S_C / s) ** A_S


def make_curves(sizes=np.geomspace(1e5, 1e9, 17), steps=None):
  steps = np.geomspace(10, 2e5, 120) if steps is None else steps
  return [curves_lib.Curve(f"n{n:.3g}", n, steps * BATCH, loss_ns(n, steps),
                           steps, BATCH) for n in sizes]


def write_sweep(root, sizes, steps, noise=0.0, seed=0):
  rng = np.random.default_rng(seed)
  for i, n in enumerate(sizes):
    d = root / f"run{i:02d}"
    d.mkdir(parents=True)
    loss = loss_ns(n, steps) * np.exp(noise * rng.standard_normal(len(steps)))
    (d / "summary.json").write_text(json.dumps({
        "n_params_nonembedding": n, "batch_size": 512, "n_ctx": 1024,
        "batch_tokens": BATCH, "status": "completed",
        "val_loss": float(loss[-1])}))
    with open(d / "eval.jsonl", "w") as f:
      for s, l in zip(steps, loss):
        f.write(json.dumps({"step": int(s), "tokens": int(s * BATCH),
                            "val_loss": float(l), "val_bpb": 1.0}) + "\n")
    with open(d / "metrics.jsonl", "w") as f:
      for s, l in zip(steps, loss):
        f.write(json.dumps({"step": int(s), "tokens": int(s * BATCH),
                            "loss": float(l) + 0.1, "lr": 1e-3}) + "\n")


def test_envelope_is_the_lowest_curve_at_each_compute():
  cs = make_curves(np.geomspace(1e5, 1e8, 7))
  env = frontier.envelope([c.C for c in cs], [c.loss for c in cs],
                          [c.N for c in cs], [c.name for c in cs], n_grid=30)
  assert env.x[0] == pytest.approx(min(c.C[0] for c in cs))
  assert env.x[-1] == pytest.approx(max(c.C[-1] for c in cs))
  for x, l, run, k in zip(env.x, env.loss, env.run, env.n_covering):
    covering = [c for c in cs if c.C[0] <= x * (1 + 1e-9)
                and x <= c.C[-1] * (1 + 1e-9)]
    at_x = {c.name: np.exp(np.interp(np.log(x), np.log(c.C), np.log(c.loss)))
            for c in covering}
    assert k == len(covering)
    assert l == pytest.approx(min(at_x.values()), rel=1e-9)
    assert at_x[run] == pytest.approx(l, rel=1e-9)
  # The frontier only goes down with more compute.
  assert np.all(np.diff(env.loss) <= 1e-12)


def test_frontier_recovers_the_optimal_size_exponent():
  result = laws.compute_frontier(make_curves(), n_grid=48)
  alloc = result.allocation["C"]
  assert alloc["N"]["exponent"] == pytest.approx(N_EXP, abs=0.01)
  assert alloc["D"]["exponent"] == pytest.approx(1 - N_EXP, abs=0.01)
  env = result.envelopes["C"]
  np.testing.assert_allclose(env.extras["D"], env.x / (6 * env.N))
  # The fitted points bracket the optimum with smaller and larger models.
  mask = result.masks["C"]
  assert mask.sum() >= 10 and np.all(env.interior[mask])
  # Exact optimum at a fitted grid point: minimise over a dense N grid.
  g = np.flatnonzero(mask)[mask.sum() // 2]
  n = np.geomspace(1e4, 1e10, 20001)
  best = n[np.argmin(loss_ns(n, env.x[g] / (6 * n * BATCH)))]
  assert env.N[g] == pytest.approx(best, rel=0.15)
  assert result.loss_fits["C"].r2 > 0.99


def test_cmin_frontier_uses_eq_5_5():
  cs = make_curves()
  result = laws.compute_frontier(cs, n_grid=40)
  assert "C_min" in result.envelopes
  env = result.envelopes["C_min"]
  bc = laws.bcrit_of_loss(env.loss)
  np.testing.assert_allclose(env.extras["B"], bc)
  np.testing.assert_allclose(env.extras["S_min"], env.x / (6 * env.N * bc))
  np.testing.assert_allclose(env.extras["D"],
                             2 * env.extras["B"] * env.extras["S_min"])
  c = cs[3]
  cmin = laws.c_min_of(c.C, c.B, c.loss)
  np.testing.assert_allclose(cmin, c.C / (1 + BATCH / bc_of(c.loss)))
  assert np.all(cmin < c.C)
  # Less compute is needed at B << B_crit: C_min frontier lies left of C's.
  assert env.x[0] < result.envelopes["C"].x[0]
  for key in ("N", "B", "S_min", "D"):
    assert f"C_min.{key}_exp" in result.params
  assert result.paper["C_min.N_exp"] == 0.73
  assert result.paper["C_min.alpha_Cmin"] == 0.05


def bc_of(loss):
  return 2e8 / loss ** (1 / 0.21)


def test_no_batch_sizes_means_no_cmin_frontier():
  cs = make_curves(np.geomspace(1e5, 1e8, 6))
  for c in cs:
    c.B = None
  result = laws.compute_frontier(cs, n_grid=24)
  assert set(result.envelopes) == {"C"}


def test_load_curves_from_a_sweep_directory(tmp_path):
  sizes, steps = np.geomspace(1e5, 1e9, 9), np.geomspace(10, 2e5, 40).round()
  write_sweep(tmp_path, sizes, steps)
  cs = laws.load_curves(str(tmp_path))  # eval.jsonl: every run has 40 rows
  assert len(cs) == 9
  assert sorted(c.N for c in cs) == pytest.approx(sorted(sizes))
  c = cs[0]
  assert c.B == BATCH
  np.testing.assert_allclose(c.loss, loss_ns(c.N, c.steps), rtol=1e-6)
  train = laws.load_curves(str(tmp_path), source="train")
  np.testing.assert_allclose(train[0].loss, c.loss + 0.1, rtol=1e-6)
  result = laws.compute_frontier(cs, n_grid=32)
  assert result.allocation["C"]["N"]["exponent"] == pytest.approx(N_EXP,
                                                                  abs=0.05)


def test_load_curves_from_a_long_table(tmp_path):
  path = tmp_path / "curves.csv"
  lines = ["run,N,tokens,loss"]
  for c in make_curves(np.geomspace(1e5, 1e8, 4), np.geomspace(10, 1e4, 5)):
    lines += [f"{c.name},{c.N},{t},{l}" for t, l in zip(c.tokens, c.loss)]
  path.write_text("\n".join(lines) + "\n")
  cs = laws.load_curves(str(path))
  assert len(cs) == 4 and all(len(c.tokens) == 5 for c in cs)
  with pytest.raises(laws.LawInputError, match="at least 2 runs"):
    laws.compute_frontier(cs[:1])


def test_bootstrap_over_runs_gives_intervals():
  result = laws.compute_frontier(make_curves(np.geomspace(1e5, 1e9, 13)),
                                 n_grid=32, bootstrap=12, seed=0)
  lo, hi = result.ci95["C.N_exp"]
  assert lo <= result.params["C.N_exp"] <= hi
  assert lo <= N_EXP + 0.02 and hi >= N_EXP - 0.02
  d = result.to_dict()
  json.dumps(d)
  assert d["law"] == "frontier" and d["allocation"]["C"]["N"]["exponent"] > 0


def test_frontier_holdout_predicts_the_largest_models():
  cs = make_curves()
  result = frontier.frontier_holdout(cs, 3, n_grid=48)
  assert result.n_runs == len(cs) - 3
  h = result.holdout
  held = {c.name for c in sorted(cs, key=lambda c: c.N)[-3:]}
  assert set(h["runs"]) == held and h["rows"]
  assert {r["run"] for r in h["rows"]} <= held
  # A pure power law extrapolates this frontier to within a few percent.
  assert h["max_abs_rel_error"] < 0.1


def test_an_envelope_held_by_one_run_gives_n_opt_exponent_exactly_zero():
  # Two runs where the larger is below the smaller at every compute they share: N_opt
  # is that run's N throughout, so its exponent is 0 exactly (a bootstrap resample of
  # this kind puts an interval's low end at 0, not at a round-off +-1e-16 above it).
  steps = np.geomspace(10, 2e5, 60)
  small, large = (curves_lib.Curve(f"n{n:g}", n, 6 * n * steps * BATCH, loss, steps, BATCH)
                  for n, loss in ((1e6, loss_ns(1e6, steps) + 1e3), (1e7, loss_ns(1e7, steps))))
  result = frontier.compute_frontier([small, large, large], min_runs=2)
  assert set(np.array(result.envelopes["C"].run)[result.masks["C"]]) == {"n1e+07"}
  assert result.params["C.N_exp"] == 0.0
  fit = frontier.power_fit(np.geomspace(1e-6, 1e-2, 9), np.full(9, 3.3e5))
  assert fit == {"coef": 3.3e5, "exponent": 0.0}
  growing = frontier.power_fit(np.geomspace(1e-6, 1e-2, 9), np.geomspace(1e4, 1e6, 9))
  assert growing["exponent"] == pytest.approx(0.5)
