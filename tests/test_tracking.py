"""The metrics writer interface: JSONL, TensorBoard and W&B (offline mode) take
the same calls; resume truncates JSONL and continues the same W&B run; a sweep
member is grouped under the sweep's name."""

import glob
import importlib
import json
import os

import pytest

from scaling import tracking
from scaling.sweep.runner import Runner
from scaling.results import io as records

ROWS = [{"step": s, "loss": 5.0 - s / 10, "lr": 1e-3, "tokens_per_sec": None} for s in (1, 2, 3)]
EVAL = {"step": 3, "val_loss": 4.5, "val_bpb": 6.0}


def _tb_tags(workdir):
  reader = importlib.import_module("tensorboard.backend.event_processing.event_accumulator")
  acc = reader.EventAccumulator(os.path.join(workdir, "tb"))
  acc.Reload()
  return set(acc.Tags()["scalars"])


def test_jsonl_and_tensorboard_through_one_writer(tmp_path):
  workdir = str(tmp_path / "run")
  os.makedirs(workdir)
  writer = tracking.make_writer(workdir)
  writer.write("metrics", ROWS)
  writer.write("eval", [EVAL])
  writer.close()
  steps = lambda: [r["step"] for r in records.read_jsonl(os.path.join(workdir, "metrics.jsonl"))]
  assert steps() == [1, 2, 3]
  assert records.read_jsonl(os.path.join(workdir, "eval.jsonl")) == [EVAL]
  assert glob.glob(os.path.join(workdir, "tb", "events.out.tfevents.*"))
  try:
    assert {"loss", "lr", "eval/val_loss", "eval/val_bpb"} <= _tb_tags(workdir)
  except ImportError:  # no tensorboard to read the events back
    pass

  resumed = tracking.make_writer(workdir)
  resumed.truncate_after(2)  # resume from step 2's checkpoint
  resumed.write("metrics", [ROWS[2]])
  resumed.close()
  assert steps() == [1, 2, 3]
  with pytest.raises(ValueError, match="unknown"):
    resumed.write("other", ROWS)


def test_no_writes_off_the_main_process(tmp_path):
  writer = tracking.make_writer(str(tmp_path), enabled=False)
  writer.write("metrics", ROWS)
  writer.close()
  assert not os.listdir(tmp_path)


def test_wandb_offline_groups_a_member_under_its_sweep_and_resumes_one_run(tmp_path, monkeypatch):
  pytest.importorskip("wandb")
  monkeypatch.setenv("WANDB_MODE", "offline")
  monkeypatch.setenv("WANDB_SILENT", "true")
  monkeypatch.setenv("WANDB_DIR", str(tmp_path))
  sweep_dir = tmp_path / "model_size"
  workdir = str(sweep_dir / "n1e5")
  os.makedirs(workdir)
  env = Runner.__new__(Runner)
  env.sweep_dir = str(sweep_dir)
  monkeypatch.setenv(tracking.GROUP_ENV, env.member_env()[tracking.GROUP_ENV])

  writer = tracking.make_writer(workdir, tensorboard=False, wandb_project="scaling-test",
                                config={"train": {"steps": 3}})
  run = writer.writers[-1].run
  assert (run.group, run.name, run.project) == ("model_size", "n1e5", "scaling-test")
  writer.write("metrics", ROWS)
  writer.write("eval", [EVAL])  # the same step as the last metrics row: one W&B step
  writer.write("metrics", [{"step": 4, "loss": 4.6}])  # (W&B commits a step at the next)
  assert run.summary["loss"] == ROWS[-1]["loss"] and run.summary["eval/val_loss"] == 4.5
  first_id = run.id
  writer.close()
  assert glob.glob(os.path.join(workdir, "wandb", "offline-run-*", "run-*.wandb"))

  again = tracking.make_writer(workdir, tensorboard=False, wandb_project="scaling-test")
  assert again.writers[-1].run.id == first_id  # the same W&B run continues
  again.close()
  with open(os.path.join(workdir, tracking.WANDB_ID_FILE)) as f:
    assert f.read().strip() == first_id
  assert json.loads(json.dumps(records.read_jsonl(os.path.join(workdir, "metrics.jsonl"))))


def test_missing_wandb_is_one_line(tmp_path, monkeypatch):
  import builtins  # pylint: disable=g-import-not-at-top
  real_import = builtins.__import__

  def no_wandb(name, *args, **kwargs):
    if name == "wandb":
      raise ImportError(name)
    return real_import(name, *args, **kwargs)
  monkeypatch.setattr(builtins, "__import__", no_wandb)
  with pytest.raises(tracking.TrackingError, match=r"pip install 'scaling\[cluster\]'"):
    tracking.make_writer(str(tmp_path), tensorboard=False, wandb_project="p")


@pytest.mark.slow
def test_a_training_run_logs_through_the_writer_to_wandb_offline(tmp_path, monkeypatch):
  """log.wandb: the real loop's metrics and evaluations reach W&B (offline) and
  TensorBoard as well as the JSONL files."""
  pytest.importorskip("wandb")
  from conftest import small_config  # pylint: disable=g-import-not-at-top
  from scaling.train.loop import train  # pylint: disable=g-import-not-at-top
  monkeypatch.setenv("WANDB_MODE", "offline")
  monkeypatch.setenv("WANDB_SILENT", "true")
  monkeypatch.setenv("WANDB_DIR", str(tmp_path))
  c = small_config("nano", **{"train.steps": 10, "train.log_every": 5, "log.wandb": "scaling-test"})
  workdir = str(tmp_path / "run")
  train(c, workdir, progress=False)
  assert [r["step"] for r in records.read_jsonl(os.path.join(workdir, "metrics.jsonl"))] == \
      list(range(1, 11))
  assert [r["step"] for r in records.read_jsonl(os.path.join(workdir, "eval.jsonl"))] == [0, 10]
  assert glob.glob(os.path.join(workdir, "wandb", "offline-run-*", "run-*.wandb"))
  assert os.path.isfile(os.path.join(workdir, tracking.WANDB_ID_FILE))
  assert glob.glob(os.path.join(workdir, "tb", "events.out.tfevents.*"))
