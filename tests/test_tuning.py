"""The tuned-frontier protocol: a planted optimum is the one picked, seeds are
averaged, the tuning split never reaches a finding, and a repeat keeps its
first attempt's thresholds."""

import dataclasses
import math
import os

import numpy as np
import pytest

from scaling.findings import registry
from scaling.findings.registry import ReportInputError
from scaling.findings.spec import REPRODUCED, Finding
from scaling.findings.tuned import TunedSweep
from scaling.results import ResultsError
from scaling.sweep.tuning import Tuning, TuningError, grid_members, select
from sweep_fixtures import Member, write_sweep

GRID = Tuning(grid={"train.lr": (1e-3, 3e-3, 1e-2, 3e-2)})
N_M = np.geomspace(7e3, 8e5, 6)
E, N_C, ALPHA = 1.2, 2e3, 0.4


def _best_lr(n):  # the planted optimum: smaller models want larger rates
  return 1e-2 if n < 1e5 else 3e-3


def _penalty(lr, n):
  return 0.05 * math.log(lr / _best_lr(n)) ** 2


def _law(n):
  return E + (N_C / n) ** ALPHA


def _members(seeds=None, tune_offset=0.0):
  models = [{"name": f"m{i}", "overrides": {"model.d_model": int(n)}} for i, n in enumerate(N_M)]
  out = []
  for entry in grid_members(models, GRID, seeds=seeds):
    n, lr = entry["overrides"]["model.d_model"], entry["overrides"]["train.lr"]
    seed = entry["overrides"].get("train.seed", 0)
    final = _law(n) + _penalty(lr, n) + 0.001 * seed
    evals = [{"step": s, "tokens": s * 2048, "val_loss": final + 30.0 / max(s, 10),
              "val_loss/tune": final + tune_offset + 30.0 / max(s, 10)}
             for s in range(0, 851, 50)]
    evals[-1]["val_loss"], evals[-1]["val_loss/tune"] = final, final + tune_offset
    out.append(Member(entry["name"], {"n_params_nonembedding": n, "steps": 850,
                                      "val_loss": final, "val_loss/tune": final + tune_offset},
                      evals, overrides=entry["overrides"]))
  return out


def _rows(members):
  return [{"name": m.name, "overrides": m.overrides, "evals": m.evals} for m in members]


def test_grid_members_cover_every_model_point_and_seed():
  models = [{"name": "a", "overrides": {"model.n_layer": 1}},
            {"name": "b", "overrides": {"model.n_layer": 2}}]
  members = grid_members(models, GRID, seeds={"b": 2})
  assert len(members) == 4 + 8
  assert members[4] == {"name": "b_lr0.001", "overrides": {"model.n_layer": 2, "train.lr": 1e-3}}
  assert members[5]["name"] == "b_lr0.001_s1" and members[5]["overrides"]["train.seed"] == 1


def test_the_planted_optimum_is_picked_and_the_edge_flagged():
  choices = select(_rows(_members()), GRID)
  assert len(choices) == len(N_M)
  for choice, n in zip(sorted(choices, key=lambda c: c.model["model.d_model"]), N_M):
    assert choice.chosen.point == {"train.lr": _best_lr(n)}
    assert choice.at_edge == ()  # 1e-2 and 3e-3 are inside (1e-3 .. 3e-2)
  narrow = Tuning(grid={"train.lr": (1e-3, 3e-3)})
  members = [m for m in _members() if m.overrides["train.lr"] in narrow.grid["train.lr"]]
  small = [c for c in select(_rows(members), narrow) if c.model["model.d_model"] < 1e5]
  assert all(c.chosen.point == {"train.lr": 3e-3} and c.at_edge == ("train.lr",) for c in small)


def test_seeds_are_averaged_before_choosing():
  rows = []
  for lr, losses in ((1e-3, (2.00, 2.10)), (3e-3, (2.04, 2.04))):  # seed 0 alone picks 1e-3
    for seed, loss in enumerate(losses):
      rows.append({"name": f"x_{lr}_{seed}", "overrides": {"train.lr": lr, "train.seed": seed},
                   "evals": [{"step": 10, "val_loss/tune": loss}]})
  (choice,) = select(rows, GRID)
  assert choice.chosen.point == {"train.lr": 3e-3}
  assert choice.chosen.members == ("x_0.003_0", "x_0.003_1")


def test_score_best_picks_the_lowest_early_stopped_tuning_loss():
  # lr 1e-3 overfits: its tuning loss dips to 2.00 at step 200, then ends at 2.30;
  # lr 3e-3 falls to 2.10 and stays. The final loss picks 3e-3, the early-stopped one 1e-3.
  curves = {1e-3: (2.6, 2.00, 2.15, 2.30), 3e-3: (2.6, 2.30, 2.15, 2.10)}
  rows = [{"name": f"x_{lr}", "overrides": {"train.lr": lr},
           "evals": [{"step": 100 * (i + 1), "val_loss/tune": v} for i, v in enumerate(curve)]
           + [{"step": 450, "val_loss/tune": float("nan")}]}
          for lr, curve in curves.items()]
  (final,) = select(rows, GRID)
  assert final.chosen.point == {"train.lr": 3e-3} and final.chosen.losses == (2.10,)
  (best,) = select(rows, dataclasses.replace(GRID, score="best"))
  assert best.chosen.point == {"train.lr": 1e-3} and best.chosen.losses == (2.00,)
  with pytest.raises(TuningError, match="score 'lowest' is not one of final, best"):
    Tuning(grid={"train.lr": (1e-3,)}, score="lowest")


def test_a_model_without_tuning_losses_is_refused_in_one_line():
  rows = [{"name": "x", "overrides": {"train.lr": 1e-3}, "evals": [{"step": 10, "val_loss": 2.0}]}]
  for score in ("final", "best"):  # neither has a finite tuning loss to score
    with pytest.raises(TuningError, match="no member with a finite val_loss/tune"):
      select(rows, dataclasses.replace(GRID, score=score))
  with pytest.raises(TuningError, match="not a grid member"):
    select([{"name": "y", "overrides": {}, "evals": []}], GRID)


L_N = Finding(key="L_N", title="L(N)", claim="", paper="", variant="cpu",
              check="holdout_power_law", registered="2026-11-29",
              criteria={"form": "N+E", "holdout": 1, "max_abs_rel_error": 0.01,
                        "min_decades": 2.0, "bootstrap": 20})


def test_a_finding_reads_only_the_chosen_members_and_never_the_tuning_split(tmp_path):
  # the tuning losses are offset by +1 nat: a check reading them would not
  # recover the law; non-chosen members are off the law by their penalty
  members = _members(seeds={"m5": 2}, tune_offset=1.0)
  path = write_sweep(str(tmp_path / "s"), "experiments/model_size.py", "cpu", members).path
  tuned = registry.check(L_N, path, str(tmp_path / "img"), GRID)
  assert tuned.status == REPRODUCED, tuned.summary
  assert abs(tuned.measured["rel_error"]) < 0.005
  everything = registry.check(L_N, path, str(tmp_path / "img"))  # all 30 members as models
  assert everything.status != REPRODUCED
  view = TunedSweep(registry.SweepDir(path), GRID)
  chosen = [r["name"] for r in view.results()]
  assert chosen == [f"m{i}_lr{_best_lr(n):g}" for i, n in enumerate(N_M)]
  for name in chosen:
    assert not any(k.endswith("/tune") for r in view.member(name).evals() for k in r)
  assert not any(k.endswith("/tune") for r in view.results() for k in r)
  with pytest.raises(ResultsError, match="not chosen"):
    view.member("m0_lr0.001")


def test_a_model_whose_grid_is_still_running_is_not_judged(tmp_path):
  members = [m for m in _members() if not (m.name.startswith("m5_") and
                                           m.overrides["train.lr"] == 3e-2)]
  path = write_sweep(str(tmp_path / "s"), "experiments/model_size.py", "cpu", members).path
  view = TunedSweep(registry.SweepDir(path), GRID)
  assert [c.complete for c in view.choices] == [True] * 5 + [False]
  assert not any(r["name"].startswith("m5_") for r in view.results())


def test_the_held_out_models_seeds_give_the_run_to_run_noise(tmp_path):
  members = _members(seeds={"m5": 2})
  path = write_sweep(str(tmp_path / "s"), "experiments/model_size.py", "cpu", members).path
  view = TunedSweep(registry.SweepDir(path), GRID)
  (name, losses), = view.replicates().items()
  assert name == "m5_lr0.003" and losses[1] - losses[0] == pytest.approx(0.001, abs=1e-6)
  expected = np.std(losses, ddof=1) / np.mean(losses)
  assert view.noise()[name] == pytest.approx(expected)
  verdict = registry.check(L_N, path, str(tmp_path / "img"), GRID)
  assert verdict.measured["run_to_run"] == {name: round(100 * expected, 3)}
  assert any("Run-to-run noise" in n for n in verdict.notes)
  assert any("Tuned: each of 6 models" in n and "every optimum inside the grid" in n
             for n in verdict.notes)


def test_a_repeat_with_a_loosened_threshold_is_refused():
  first = registry.Declared(L_N, "experiments/model_size.py")
  repeat = dataclasses.replace(L_N, key="L_N_again", variant="nltk", repeats="L_N")
  registry.same_criteria([first, registry.Declared(repeat, "experiments/model_size.py")])
  loose = dataclasses.replace(repeat, criteria={**L_N.criteria, "max_abs_rel_error": 0.02})
  with pytest.raises(ReportInputError, match="max_abs_rel_error: 0.01 -> 0.02"):
    registry.same_criteria([first, registry.Declared(loose, "experiments/model_size.py")])
  other = dataclasses.replace(repeat, criteria={**L_N.criteria, "other": "speeches"})
  registry.same_criteria([registry.Declared(dataclasses.replace(
      L_N, criteria={**L_N.criteria, "other": "licences"}), "e.py"),
      registry.Declared(other, "e.py")])  # a data key may change


def test_finding_repeat_keeps_the_thresholds_and_may_rename_only_data():
  again = L_N.repeat("nltk", suffix="nltk", title="broad", why=" why.")
  assert (again.key, again.variant, again.repeats) == ("L_N_nltk", "nltk", "L_N")
  assert again.criteria == L_N.criteria and again.title == "L(N) (broad)"
  with pytest.raises(ValueError, match="only the data keys"):
    L_N.repeat("nltk", suffix="x", title="t", why="w", data={"max_abs_rel_error": 0.02})


def test_every_repeat_in_the_experiments_keeps_its_first_attempts_criteria():
  experiments = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                             "experiments")
  declared = registry.collect(experiments)  # raises on any difference
  repeats = [d for d in declared if d.finding.repeats]
  assert {d.finding.variant for d in repeats} >= {"cpu3", "nltk"}
  untuned = {d.finding.key for d in repeats if d.finding.variant == "nltk" and not d.tuning}
  assert untuned == {"B_crit_nltk"}  # one model: its scan keeps the first attempt's rate
