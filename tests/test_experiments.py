"""Every experiment file loads, its members' configs are valid, and the tiny
variant's first member trains a step."""

import glob
import os

import pytest

from conftest import REPO
from scaling.sweep.experiment import describe, load_experiment
from scaling.train.loop import prepare, train

EXPERIMENTS = sorted(glob.glob(os.path.join(REPO, "experiments", "*.py")))


def _variants(module) -> list:
  names = getattr(module, "VARIANTS", ())
  return [None, *(n for n in names if isinstance(n, str))]


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: os.path.basename(p)[:-3])
def test_every_file_in_experiments_is_an_experiment_whose_variants_expand(path):
  """Experiments are declarative: each file loads as one (get_config and sweep),
  and the default and every variant in VARIANTS expand to valid members (what
  `scaling-sweep --dry-run` lists); scripts belong in the library."""
  module = load_experiment(path).module
  for variant in _variants(module):
    experiment = load_experiment(path + (f":{variant}" if variant else ""))
    for member in experiment.members():
      experiment.member_config(member)


def test_every_paper_result_has_an_experiment():
  names = {os.path.basename(p)[:-3] for p in EXPERIMENTS}
  assert {"model_size", "data_size", "compute_frontier", "shape", "transfer",
          "batch_size_scan", "learning_curves", "context_position", "learning_rate"} <= names


@pytest.mark.slow
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


# The experiments with a `gpu` variant (docs/gpu.md, "Findings on one GPU").
GPU_EXPERIMENTS = ["model_size", "shape", "data_size", "batch_size_scan", "lstm_vs_transformer",
                   "learning_curves", "compute_frontier", "transfer"]


def _hardware_flops(cfg, n: int, tokens: int) -> float:
  """The paper's MFU count of a Transformer's training FLOPs (logits and attention
  included, no causal halving): 6·(N + d_model·V) + 12·n_layer·n_ctx·d_model a token."""
  m = cfg.model
  return tokens * (6 * (n + m.d_model * m.vocab_size) + 12 * m.n_layer * m.n_ctx * m.d_model)


@pytest.mark.parametrize("name", GPU_EXPERIMENTS)
def test_gpu_variant_is_valid_and_fits_one_gpu_in_8_hours(name):
  """Every member's config validates as resolved for a GPU, the data is a public
  TFDS corpus in SentencePiece tokens, and the dry-run's estimate (compute only:
  C = 6·N·D at analysis.GPU_FLOPS) and the MFU count (logits and attention
  included) are each under analysis.GPU_HOURS."""
  from scaling.sweep import analysis  # pylint: disable=g-import-not-at-top
  experiment = load_experiment(os.path.join(REPO, "experiments", f"{name}.py:gpu"))
  members = experiment.members()
  assert len(members) >= 2 and "gpu" in experiment.module.__doc__
  dry_run, mfu_count = 0.0, 0.0
  for member in members:
    cfg = experiment.member_config(member)
    assert cfg.data.source.startswith("tfds:") and cfg.data.vocab.startswith("spm:")
    # As resolved for a GPU (cuDNN attention's head widths checked); an LSTM's cuDNN
    # kernel is refused off a GPU, so LSTMs validate as resolved here.
    run = prepare(cfg, platform=None if cfg.model.kind == "lstm" else "gpu")
    d = describe(experiment, member)
    dry_run += d["C"]
    mfu_count += d["C"] if run.model.kind == "lstm" else _hardware_flops(run, d["N"], d["D"])
  budget = analysis.GPU_HOURS * 3600 * analysis.GPU_FLOPS
  assert dry_run < budget and mfu_count < budget, (dry_run / budget, mfu_count / budget)


def test_the_frontier_design_trains_every_model_toward_one_budget_without_repeats():
  # model_size.py:nltk_frontier: each model runs toward the largest one's compute
  # (C = 6·N·D), capped so that no model reads more than NLTK's 17.6M training bytes.
  experiment = load_experiment(os.path.join(REPO, "experiments", "model_size.py:nltk_frontier"))
  budget = {m.name: describe(experiment, m) for m in experiment.members()}
  largest = max(budget.values(), key=lambda d: d["N"])
  cap = experiment.module.NLTK_FRONTIER_MAX_STEPS * 2048
  for name, d in budget.items():
    assert d["D"] < 17_660_616, name  # under one epoch
    # the same budget (N ≈ 12·n_layer·d_model² sets the steps), or short of it at the cap
    assert d["C"] / largest["C"] - 1 < 0.02, name
    assert d["D"] == cap or d["C"] / largest["C"] - 1 > -0.02, name
  steps = sorted(m.overrides["train.steps"] for m in experiment.members())
  assert steps[0] == 1000 and steps[-1] == 8000


def test_the_frontier_fourth_design_changes_only_the_schedule_of_the_third():
  # model_size.py:nltk_frontier_cos repeats nltk_frontier's runs, each decayed to zero
  # by cosine over its own length: every other setting of every member is the same.
  def flat(config, prefix=""):
    out = {}
    for key, value in config.items():
      if hasattr(value, "items"):
        out.update(flat(value, f"{prefix}{key}."))
      else:
        out[prefix + key] = value
    return out
  third, fourth = (load_experiment(os.path.join(REPO, "experiments", f"model_size.py:{v}"))
                   for v in ("nltk_frontier", "nltk_frontier_cos"))
  assert [m.name for m in third.members()] == [m.name for m in fourth.members()]
  for a, b in zip(third.members(), fourth.members()):
    before, after = flat(third.member_config(a)), flat(fourth.member_config(b))
    changed = {k: (before.get(k), after.get(k)) for k in before.keys() | after.keys()
               if before.get(k) != after.get(k)}
    assert changed == {"train.schedule": ("constant", "cosine")}, (a.name, changed)


def test_the_bcrit_fourth_design_tunes_only_the_rate_of_the_second():
  # batch_size_scan.py:nltk_tuned: nltk's five batch sizes and steps, each at every
  # rate of the grid, evaluated on the same number of tuning tokens at every batch size.
  second, fourth = (load_experiment(os.path.join(REPO, "experiments", f"batch_size_scan.py:{v}"))
                    for v in ("nltk", "nltk_tuned"))
  base = {m.name: second.member_config(m) for m in second.members()}
  rates = {}
  for m in fourth.members():
    c, first = fourth.member_config(m), base[m.name.rpartition("_lr")[0]]
    assert (c.train.batch_size, c.train.steps, c.data.source, c.train.schedule) == (
        first.train.batch_size, first.train.steps, first.data.source, first.train.schedule)
    assert c.eval.batches * c.train.batch_size * c.model.n_ctx == 65_536, m.name
    assert c.eval.datasets.startswith("tune=") and ";" not in c.eval.datasets
    rates.setdefault(c.train.batch_size, []).append(c.train.lr)
  assert rates == {b: [2e-3, 4.5e-3, 1e-2] for b in (4, 8, 16, 32, 64)}
  assert fourth.module.TUNING["nltk_tuned"].metric == "tune"
