"""Critical batch by branching (scaling/laws/branching.py, experiments/branch_bcrit.py).

Acceptance criteria, fixed before any analysis was run:
- synthetic branches from Kaplan's Eq. 5.1 (fraction of the reference's
  progress (1 + B/B_crit)/(1 + kB/B_crit)), k = 2, 4, 8, 16, tolerance 0.5,
  planted B_crit/B = 1.5, 3, 6, 12, 20: the largest matching batch is
  k·B = 2, 4, 8, 8, 16 ×B (k <= B_crit/B + 2), the last flagged ">=", and the
  Eq. 5.1 fit recovers every planted B_crit within 1e-6 (relative);
- with 0.005 nats of noise per branch (progress 0.1 nats, seed 0) the fit is
  within 30% at B_crit/B = 3 and 6, and the largest matching batch unchanged.
  The second half FAILED at B_crit/B = 12 (k = 16 lies 0.0036 nats inside the
  threshold, under 0.005 nats of noise; at 6, k = 8 sits exactly on it): the
  criterion was badly chosen, since a discrete answer flips near its
  threshold whatever the estimator. It is dropped, not weakened; the noisy
  test keeps the fit's 30% bound;
- a branch that did not start from the reference's checkpoint, or a reference
  without an evaluation at a window's end: one LawInputError naming the fix;
- the experiment copies the reference's checkpoint into a branch, which then
  resumes from that step at k·B (a real 4-step run).
"""

import json
import os

import numpy as np
import pytest

from scaling.cli import fit as fit_cli
from scaling.laws import branching
from scaling.laws.errors import LawInputError

B, WINDOW, KS = 256.0, 64, (2, 4, 8, 16)
PLANTED = {32: 1.5, 64: 3.0, 128: 6.0, 256: 12.0, 512: 20.0}  # step: B_crit/B
EXPECTED_K = {32: 2, 64: 4, 128: 8, 256: 8, 512: 16}


# the reference's evaluations: 0.1 nats of progress over every branch's window
REF = {32: 3.9, 64: 3.85, 96: 3.8, 128: 3.75, 192: 3.65, 256: 3.6, 320: 3.5, 512: 3.4,
       576: 3.3}


def ref_loss(step):
  return 4.0 - 0.1 * np.log2(step)  # the training loss of the fake metrics.jsonl


def synthetic(noise=0.0, seed=0):
  rng = np.random.default_rng(seed)
  losses = dict(REF)
  branches = []
  for s, ratio in PLANTED.items():
    l0, l1 = losses[s], losses[s + WINDOW]
    for k in KS:
      f = branching.progress_model(k, 1.0 / ratio)
      loss = float(l0 - f * (l0 - l1) + noise * rng.standard_normal())
      branches.append(branching.Branch(s, k, loss, f"s{s}_k{k}"))
  return losses, branches


def test_planted_critical_batch_is_recovered():
  losses, branches = synthetic()
  points = branching.critical_batches(losses, B, WINDOW, branches, 0.5)
  for p in points:
    assert p.b_crit == EXPECTED_K[p.start] * B
    assert p.bound == (">=" if p.start == 512 else "")
    assert p.b_crit_model == pytest.approx(PLANTED[p.start] * B, rel=1e-6)


def test_noisy_branches():
  losses, branches = synthetic(noise=0.005, seed=0)
  points = {p.start: p for p in branching.critical_batches(losses, B, WINDOW, branches, 0.5)}
  for s in (64, 128):
    assert points[s].b_crit_model == pytest.approx(PLANTED[s] * B, rel=0.30)


def test_no_matching_branch_is_an_upper_bound():
  losses, _ = synthetic()
  worse = [branching.Branch(64, k, REF[64] + 0.1) for k in KS]
  (p,) = branching.critical_batches(losses, B, WINDOW, worse, 0.5)
  assert p.b_crit == B and p.bound == "<="


def write_sweep(root, branches, losses, first_step_offset=1):
  ref = root / "reference"
  ref.mkdir(parents=True)
  (ref / "summary.json").write_text(json.dumps({
      "name": "reference", "status": "completed", "batch_tokens": 256, "batch_size": 4,
      "lr": 0.003, "steps": 576, "val_loss": 3.0}))
  (ref / "config.json").write_text(json.dumps({
      "data": {"seq_len": 64}, "model": {"n_ctx": 64},
      "train": {"batch_size": 4, "warmup_steps": 0}, "gns": {"ema": 0.95}}))
  (ref / "eval.jsonl").write_text("".join(json.dumps({"step": s, "val_loss": l}) + "\n"
                                          for s, l in losses.items()))
  (ref / "metrics.jsonl").write_text("".join(json.dumps(
      {"step": s, "loss": float(ref_loss(s)), "gns_trace_sigma_raw": 100.0 * s,
       "gns_g2_raw": 10.0, "gns_b_simple_tokens": 640.0 * s}) + "\n" for s in range(1, 577)))
  for b in branches:
    d = root / "branches" / b.name
    d.mkdir(parents=True)
    (d / "summary.json").write_text(json.dumps({
        "name": b.name, "status": "completed", "batch_tokens": 256 * b.k,
        "steps": b.start + WINDOW // b.k, "val_loss": b.loss, "lr": 0.003 * b.k ** 0.5}))
    (d / "metrics.jsonl").write_text(json.dumps(
        {"step": b.start + first_step_offset, "loss": 3.0}) + "\n")


def test_cli_reads_a_branch_sweep(tmp_path, capsys):
  losses, branches = synthetic()
  write_sweep(tmp_path / "sweep", branches, losses)
  scan = tmp_path / "scan.json"
  scan.write_text(json.dumps({"law": {"b_star_tokens": 3.29e5, "alpha_b": 0.182},
                              "levels": [{"loss": 3.0, "b_crit_tokens": 900.0}]}))
  seed1 = tmp_path / "sweep" / "reference_seed1"
  seed1.mkdir()
  (seed1 / "eval.jsonl").write_text(json.dumps({"step": 96, "val_loss": REF[96] + 0.02}) + "\n")
  out = tmp_path / "fit"
  assert fit_cli.main(["branches", str(tmp_path / "sweep"), "--scan", str(scan),
                       "--out", str(out)]) == 0
  text = capsys.readouterr().out
  assert "k=2: lr×1.414" in text and "scan: B_crit(L)" in text
  data = json.loads((out / "fit.json").read_text())
  assert data["window_steps"] == {str(s): WINDOW for s in PLANTED}
  assert [p["b_crit"] for p in data["points"]] == [EXPECTED_K[s] * B for s in sorted(PLANTED)]
  p = data["points"][0]
  assert p["b_crit_scan"] == pytest.approx(3.29e5 / REF[32] ** (1 / 0.182))
  assert p["b_noise"] == pytest.approx(64 * 100.0 * 32 / 10.0, rel=0.01)  # seq_len·tr/|G|²
  assert p["seed_spread"] == pytest.approx(0.2)  # 0.02 nats of 0.1 nats of progress
  assert data["points"][1]["seed_spread"] is None
  assert os.path.getsize(out / "branches.png") > 1000


def test_bad_branch_sweeps_are_one_line(tmp_path, capsys):
  losses, branches = synthetic()
  write_sweep(tmp_path / "a", branches, losses, first_step_offset=-31)
  assert fit_cli.main(["branches", str(tmp_path / "a"), "--out", str(tmp_path / "o")]) == 2
  err = capsys.readouterr().err
  assert "did not start from the reference's step" in err and len(err.strip().splitlines()) == 1
  with pytest.raises(LawInputError, match="eval.every_steps"):
    branching.critical_batches({32: 3.0}, B, WINDOW, branches[:1], 0.5)
  assert fit_cli.main(["branches", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2


@pytest.mark.slow
def test_a_branch_resumes_from_the_copied_checkpoint(tmp_path):
  from scaling.sweep.experiment import load_experiment
  from scaling.train.checkpoint import CheckpointError
  from scaling.train.loop import train
  from conftest import REPO
  path = os.path.join(REPO, "experiments", "branch_bcrit.py")
  ref = load_experiment(path + ":tiny")
  cfg = ref.member_config(ref.members()[0])
  cfg.train.steps, cfg.train.warmup_steps, cfg.checkpoint.every_steps = 4, 1, 2
  cfg.eval.every_steps, cfg.eval.batches = 2, 2
  sweep = tmp_path / "sweep"
  train(cfg, str(sweep / "reference"), progress=False)
  branch = load_experiment(path + ":tiny,branches")
  member = next(m for m in branch.members() if m.name.endswith("_k2"))
  assert member.overrides["checkpoint.start_from"].startswith("../../reference@")
  bcfg = branch.member_config(member)
  bcfg.train.steps, bcfg.eval.batches = 4, 2
  bcfg.checkpoint.start_from = "../../reference@3"  # the reference kept steps 2 and 4
  with pytest.raises(CheckpointError, match="no complete checkpoint at step 3 .it has .2, 4"):
    train(bcfg, str(sweep / "branches" / "s3_k2"), progress=False)
  bcfg.checkpoint.start_from = "../../reference@2"
  summary = train(bcfg, str(sweep / "branches" / "s2_k2"), progress=False)
  assert summary["status"] == "completed" and summary["batch_size"] == 8
  with open(sweep / "branches" / "s2_k2" / "metrics.jsonl") as f:
    assert json.loads(f.readline())["step"] == 3  # it resumed from the reference's step 2
  assert os.listdir(sweep / "branches" / "s2_k2" / "checkpoints") == ["4"]  # keep=1
  assert sorted(os.listdir(sweep / "reference" / "checkpoints")) == ["2", "4"]  # untouched
