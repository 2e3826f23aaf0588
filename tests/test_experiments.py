"""Every experiment file loads, its members' configs are valid, and the tiny
variant's first member trains a step."""

import glob
import os

import pytest

from conftest import REPO
from scaling.sweep.experiment import load_experiment
from scaling.train.loop import prepare, train

EXPERIMENTS = sorted(p for p in glob.glob(os.path.join(REPO, "experiments", "*.py"))
                     if "\ndef sweep(" in open(p).read())


def test_every_paper_result_has_an_experiment():
  names = {os.path.basename(p)[:-3] for p in EXPERIMENTS}
  assert {"model_size", "data_size", "compute_frontier", "shape", "transfer",
          "batch_size_scan", "learning_curves", "context_position", "learning_rate"} <= names


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: os.path.basename(p)[:-3])
def test_tiny_first_member_trains_a_step_and_full_members_are_valid(path, tmp_path):
  for variant in ("tiny", None):
    experiment = load_experiment(path + (f":{variant}" if variant else ""))
    members = experiment.members()
    assert len(members) >= 2
    assert callable(getattr(experiment.module, "analyze", None))
    assert experiment.module.__doc__ and "Fig" in experiment.module.FIGURE
    for member in members:  # every member's config resolves and validates
      cfg = experiment.member_config(member)
      if variant is None:
        cfg.data.source, cfg.eval.datasets = "synthetic", ""  # no TFDS download here
      prepare(cfg)
  experiment = load_experiment(path + ":tiny")
  cfg = experiment.member_config(experiment.members()[0])
  cfg.train.steps, cfg.eval.batches = 1, 1
  summary = train(cfg, str(tmp_path / "run"), progress=False)
  assert summary["status"] == "completed" and summary["steps"] == 1
