"""Gradient noise scale: estimator, accumulation, train-step integration, B_crit fits."""

import json
import math
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import REPO, run_cli, small_config
from scaling import config as configlib
from scaling.gns import estimate_noise_scale
from scaling.gns import estimator as gnslib
from scaling.laws import bcrit as critical_batch
from scaling.laws.bcrit import BcritError, fit_bcrit_from_runs
from scaling.results import io as records
from scaling.train import optim
from scaling.train import state as statelib
from scaling.train import step as steplib
from scaling.train.checkpoint import ResumeError
from scaling.train.loop import prepare, train
from scaling.sharding import make_mesh
from scaling.validation import ConfigError, validate


# ------------------------------------------------------------ linear regression

def _linear_regression(d=8, sigma=0.5, seed=0):
  """y = x·w* + ε, x ~ N(0, I_d), ε ~ N(0, σ²); loss ½(x·w − y)², δ = w − w*.

  Per-example gradient g = x(x·δ − ε): G = δ and, by Isserlis' theorem,
  Σ = E[ggᵀ] − GGᵀ = (|δ|² + σ²)·I + δδᵀ, so tr(Σ) = (d+1)|δ|² + dσ².
  """
  rng = np.random.default_rng(seed)
  w_star, delta = rng.normal(size=d), rng.normal(size=d)

  def batch(n):
    x = rng.normal(size=(n, d))
    return {"x": x.astype(np.float32),
            "y": (x @ w_star + sigma * rng.normal(size=n)).astype(np.float32)}

  g2 = float(delta @ delta)
  trace_sigma = (d + 1) * g2 + d * sigma ** 2
  loss = lambda w, b: 0.5 * jnp.mean((b["x"] @ w - b["y"]) ** 2)
  return loss, jnp.asarray(w_star + delta, jnp.float32), batch, g2, trace_sigma


@pytest.mark.parametrize("microbatches", [8, None])
def test_b_simple_on_linear_regression_is_within_10_percent_of_closed_form(microbatches):
  loss, w, batch, g2, trace_sigma = _linear_regression()
  ns = estimate_noise_scale(loss, w, [batch(256) for _ in range(40)],
                            microbatches=microbatches)
  assert ns.b_simple == pytest.approx(trace_sigma / g2, rel=0.10)
  assert ns.g2 == pytest.approx(g2, rel=0.10)
  assert ns.trace_sigma == pytest.approx(trace_sigma, rel=0.10)
  assert ns.b_big == 256 and ns.b_small == (32 if microbatches else 1)


def test_train_step_moving_averages_converge_to_the_closed_form():
  """The train step's path: micro-batch norms -> unbiased estimates -> EMA -> ratio."""
  loss, w, batch, g2, trace_sigma = _linear_regression(seed=1)
  stats_fn = jax.jit(lambda b: gnslib.accumulate_gradients(
      lambda p, mb, i: loss(p, mb), w, b, 4)[2])
  ema = gnslib.ema_init()
  for _ in range(300):
    ema, metrics = gnslib.step_update(ema, stats_fn(batch(64)), 64, 4, 0.99, 10)
  assert float(metrics["gns_b_simple"]) == pytest.approx(trace_sigma / g2, rel=0.10)
  assert float(metrics["gns_b_simple_tokens"]) == pytest.approx(
      10 * float(metrics["gns_b_simple"]), rel=1e-6)


def test_unbiased_estimates_invert_the_expected_norms():
  # E|G_B|² = |G|² + tr(Σ)/B: feeding the expectations back gives |G|², tr(Σ) exactly.
  g2, tr = 3.0, 120.0
  small, big = g2 + tr / 8, g2 + tr / 64
  assert gnslib.unbiased_estimates(small, big, 8, 64) == pytest.approx((g2, tr))


def test_standalone_refuses_bad_microbatches():
  loss, w, batch, _, _ = _linear_regression()
  with pytest.raises(ValueError, match="one micro-batch cannot estimate noise"):
    estimate_noise_scale(loss, w, batch(16), microbatches=1)
  with pytest.raises(ValueError, match="microbatches=3 does not divide the batch of 16"):
    estimate_noise_scale(loss, w, batch(16), microbatches=3)


# ------------------------------------------------------------ the real train step

def _step_fn(cfg, gns_cfg):
  setup = statelib.make_setup(cfg.model, optim.optimizer(cfg.train), make_mesh(cfg.mesh),
                              cfg.train.seed, gns=bool(gns_cfg and gns_cfg.enabled))
  step = jax.jit(steplib.make_train_step(setup, cfg.model, cfg.train,
                                         optim.schedule(cfg.train), gns_cfg))
  return setup, step


def test_accumulated_update_equals_the_one_batch_update():
  cfg = prepare(small_config("nano", **{"train.batch_size": 16, "train.optimizer": "adam",
                                        "train.warmup_steps": 0, "train.lr": 1e-3}))
  from scaling.data.datasets import open_dataset  # pylint: disable=g-import-not-at-top
  from scaling.data.batches import Batches  # pylint: disable=g-import-not-at-top
  batches = Batches(open_dataset(cfg.data, progress=False).tokens("train"),
                    cfg.data.seq_len, cfg.train.batch_size, cfg.train.seed)
  finals = {}
  for name, k, enabled in (("one", 1, False), ("accum", 4, False), ("gns", 4, True)):
    gns_cfg = configlib.base_config().gns
    gns_cfg.microbatches, gns_cfg.enabled = k, enabled
    setup, step = _step_fn(cfg, gns_cfg)
    state = statelib.init_state(cfg.model, setup, cfg.train.seed)
    assert ("gns" in state) == enabled
    rows = []
    for i in range(3):
      state, metrics = step(state, batches(i))
      rows.append(metrics)
    finals[name] = (state, rows)
  one_state, one_rows = finals["one"]
  for name in ("accum", "gns"):
    state, rows = finals[name]
    for a, b in zip(one_rows, rows):
      assert float(b["loss"]) == pytest.approx(float(a["loss"]), rel=1e-5)
      assert float(b["grad_norm"]) == pytest.approx(float(a["grad_norm"]), rel=1e-4)
    diffs = jax.tree.map(lambda x, y: float(jnp.max(jnp.abs(x - y))),
                         one_state["params"], state["params"])
    assert max(jax.tree.leaves(diffs)) < 1e-5, name
  assert "gns_b_simple" in finals["gns"][1][0] and "gns_b_simple" not in finals["accum"][1][0]


# ------------------------------------------------------------ a tiny run with gns on

@pytest.fixture(scope="module")
def gns_run(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("gns-run"))
  c = small_config("nano", **{"train.steps": 30, "train.lr": 3e-3, "train.log_every": 4,
                              "checkpoint.every_steps": 15, "checkpoint.keep": 5,
                              "eval.every_steps": 15})
  c.gns.enabled, c.gns.microbatches = True, 4
  train(c, workdir, progress=False)
  return c, workdir


def _rows(workdir):
  return [{k: v for k, v in r.items() if k != "tokens_per_sec"}
          for r in records.read_jsonl(os.path.join(workdir, "metrics.jsonl"))]


@pytest.mark.slow
def test_tiny_train_logs_finite_positive_b_noise(gns_run):
  c, workdir = gns_run
  rows = _rows(workdir)
  assert [r["step"] for r in rows] == list(range(1, 31))
  for r in rows:
    for key in ("gns_b_simple", "gns_b_simple_tokens", "gns_g2", "gns_trace_sigma",
                "gns_g2_raw", "gns_trace_sigma_raw"):
      assert isinstance(r[key], float) and math.isfinite(r[key]), (key, r)
    assert r["gns_b_simple_tokens"] == pytest.approx(r["gns_b_simple"] * c.model.n_ctx,
                                                     rel=1e-5)
    assert r["gns_trace_sigma"] > 0
  assert all(r["gns_b_simple"] > 0 for r in rows[-10:])
  # the smoothed values are the bias-corrected EMA of the raw ones
  decay, ema = c.gns.ema, 0.0
  for i, r in enumerate(rows):
    ema = decay * ema + (1 - decay) * r["gns_trace_sigma_raw"]
  assert rows[-1]["gns_trace_sigma"] == pytest.approx(ema / (1 - decay ** len(rows)), rel=1e-4)


@pytest.mark.slow
def test_resume_with_gns_is_exact_because_the_ema_is_checkpointed(gns_run, tmp_path):
  c, workdir = gns_run
  resumed = str(tmp_path / "resumed")
  shutil.copytree(workdir, resumed)
  shutil.rmtree(os.path.join(resumed, "checkpoints", "30"))  # died after step 15's save
  train(c, resumed, progress=False)
  assert _rows(resumed) == _rows(workdir)


@pytest.mark.slow
def test_resume_with_gns_toggled_is_refused(gns_run):
  c, workdir = gns_run
  off = c.copy_and_resolve_references()
  off.gns.enabled, off.train.steps = False, 40
  with pytest.raises(ResumeError, match="gns.enabled=False but the checkpoint"):
    train(off, workdir, progress=False)


# ------------------------------------------------------------ bad config

BAD = [
    ({"gns.microbatches": 3}, False, "gns.microbatches=3 does not divide train.batch_size=16"),
    ({"gns.microbatches": 1}, True, "one micro-batch cannot estimate noise"),
    ({"gns.microbatches": 0}, True, "gns.microbatches=0 must be a positive integer"),
    ({"gns.ema": 1.0}, True, r"gns.ema=1.0 must be in \[0, 1\)"),
]


@pytest.mark.parametrize("overrides,enabled,message", BAD)
def test_bad_gns_config_is_refused(overrides, enabled, message):
  c = small_config("nano", **overrides)
  c.gns.enabled = enabled
  if "gns.microbatches" not in overrides:
    c.gns.microbatches = 4
  with pytest.raises(ConfigError, match=message):
    prepare(c)


def test_microbatches_must_divide_the_per_device_batch():
  c = small_config("nano", **{"gns.microbatches": 4, "train.batch_size": 16})
  r = configlib.resolve(c, vocab_size=259, platform="cpu")
  validate(r, n_devices=4)  # 4 rows per device
  with pytest.raises(ConfigError, match="does not divide the per-device batch of 2"):
    validate(r, n_devices=8)


def test_cli_refuses_one_microbatch_with_gns_in_one_line(tmp_path):
  out = run_cli("scaling.cli.train", "--config", "configs/transformer.py:size=nano",
                "--workdir", str(tmp_path / "run"), "--config.gns.enabled=True")
  assert out.returncode == 2
  lines = [l for l in out.stderr.strip().splitlines() if l.strip()]
  assert len(lines) == 1 and "one micro-batch cannot estimate noise" in lines[0]
  assert not os.path.exists(tmp_path / "run")


# ------------------------------------------------------------ critical batch size

B_STAR, ALPHA_B = 3e4, 0.3            # B_crit(L) = B*/L^(1/α_B), tokens
S_C, ALPHA_S, L_INF = 50.0, 0.76, 1.5  # S_min(L) = S_c/(L − L_inf)^(1/α_S)
SEQ_LEN = 64


def true_s_min(loss):
  return S_C / (loss - L_INF) ** (1 / ALPHA_S)


def true_b_crit(loss):
  return B_STAR / loss ** (1 / ALPHA_B)


def write_synthetic_scan(root, batch_sizes=(4, 8, 16, 32, 64), noise=0.002, seed=0):
  """Runs whose curves lie on S = S_min(L)·(1 + B_crit(L)/B) (Eqs. 5.1, 5.4)."""
  rng = np.random.default_rng(seed)
  grid = np.linspace(4.0, 1.9, 4000)           # losses, falling
  for b in batch_sizes:
    steps_needed = true_s_min(grid) * (1 + true_b_crit(grid) / (b * SEQ_LEN))
    steps = np.arange(1, int(steps_needed[-1]) + 1)
    loss = np.interp(steps, steps_needed, grid) + noise * rng.normal(size=len(steps))
    run = os.path.join(root, f"b{b}")
    os.makedirs(run)
    records.write_json(os.path.join(run, "config.json"), {
        "train": {"batch_size": b}, "data": {"seq_len": SEQ_LEN}, "model": {"n_ctx": SEQ_LEN}})
    with open(os.path.join(run, "metrics.jsonl"), "w") as f:
      for s, l in zip(steps, loss):
        f.write(json.dumps({"step": int(s), "loss": float(l),
                            "gns_b_simple_tokens": float(0.5 * true_b_crit(l))}) + "\n")
  return root


def test_se_fit_recovers_s_min_and_e_min_of_the_hyperbola(tmp_path):
  root = write_synthetic_scan(str(tmp_path / "scan"))
  targets = [2.6, 2.4, 2.2, 2.0]
  fit = fit_bcrit_from_runs(root, targets)
  assert [l["loss"] for l in fit["levels"]] == targets
  for level in fit["levels"]:
    s_min = true_s_min(level["loss"])
    assert level["s_min"] == pytest.approx(s_min, rel=0.05)
    assert level["e_min_tokens"] == pytest.approx(s_min * true_b_crit(level["loss"]), rel=0.05)
    assert level["b_noise_tokens"] == pytest.approx(0.5 * true_b_crit(level["loss"]), rel=0.05)
  assert fit["law"]["alpha_b"] == pytest.approx(ALPHA_B, rel=0.05)
  assert fit["law"]["b_star_tokens"] == pytest.approx(B_STAR, rel=0.15)


def test_fit_hyperbola_is_exact_on_exact_points():
  b = np.array([256.0, 1024, 4096, 16384])
  s = 120 + 2.4e5 / b
  assert critical_batch.fit_hyperbola(b, s) == pytest.approx((120, 2.4e5), rel=1e-6)


@pytest.mark.slow
def test_bcrit_cli_prints_b_crit_beside_b_noise_and_writes_fit(tmp_path):
  root = write_synthetic_scan(str(tmp_path / "scan"))
  out = run_cli("scaling.cli.fit", "bcrit", root, "--levels", "4")  # as scaling-fit bcrit
  assert out.returncode == 0, out.stderr[-2000:]
  table = [l.split() for l in out.stdout.splitlines() if l.strip()[:1].isdigit()]
  assert len(table) == 4
  for row in table:  # loss, S_min, E_min, B_crit, B_noise, ratio, runs
    assert float(row[4]) > 0 and float(row[5]) == pytest.approx(2.0, rel=0.1)
  fit_dir = os.path.join(root, "fit_bcrit")
  assert sorted(os.listdir(fit_dir)) == ["bcrit_frontier.png", "bcrit_vs_loss.png", "fit.json"]
  with open(os.path.join(fit_dir, "fit.json")) as f:
    fit = json.load(f)
  assert fit["kind"] == "bcrit" and len(fit["levels"]) == 4 and fit["law"]["alpha_b"] > 0


def test_too_few_batch_sizes_is_named(tmp_path):
  root = write_synthetic_scan(str(tmp_path / "scan"), batch_sizes=(8, 32))
  with pytest.raises(BcritError, match=r"too few batch sizes.*found 2 \(B=8, B=32\)"):
    fit_bcrit_from_runs(root)


@pytest.mark.slow
def test_unreached_target_loss_names_the_runs_and_the_cli_writes_nothing(tmp_path):
  root = write_synthetic_scan(str(tmp_path / "scan"))
  with pytest.raises(BcritError, match=r"target loss 1.5000 was reached by 0 run.*b4 \(B=4"):
    fit_bcrit_from_runs(root, [2.5, 1.5])
  out = run_cli("scaling.cli.bcrit", root, "--target-losses", "2.5,1.5")
  assert out.returncode == 2 and out.stderr.startswith("error: target loss 1.5000")
  assert not os.path.exists(os.path.join(root, "fit_bcrit"))
  empty = run_cli("scaling.cli.bcrit", str(tmp_path))
  assert empty.returncode == 2 and "no runs in" in empty.stderr


# ------------------------------------------------------------ the experiment file

def test_batch_size_scan_experiment_members_are_valid_configs():
  import importlib.util  # pylint: disable=g-import-not-at-top
  path = os.path.join(REPO, "experiments", "batch_size_scan.py")
  spec = importlib.util.spec_from_file_location("batch_size_scan", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  for arg in ("tiny", "full"):
    members = module.sweep(arg)
    assert len({m["name"] for m in members}) == len(members) >= 3
    assert len({m["overrides"]["train.batch_size"] for m in members}) == len(members)
    for m in members:
      c = module.get_config(arg)
      assert c.gns.enabled
      for key, value in m["overrides"].items():
        section, name = key.split(".")
        c[section][name] = value
      validate(configlib.resolve(c, vocab_size=259, platform="cpu"), n_devices=1)
    steps = [m["overrides"]["train.steps"] for m in members]
    assert steps == sorted(steps, reverse=True)  # small batches get more steps
