"""Faults: non-finite steps, failed, partial and damaged saves. (SIGTERM: test_train.py.)"""

import asyncio
import errno
import json
import os
import re
import shutil
import subprocess
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint._src.checkpointers import async_checkpointer
from orbax.checkpoint._src.checkpointers import checkpointer as checkpointer_lib
from orbax.checkpoint._src.handlers import composite_checkpoint_handler as composite
from orbax.checkpoint._src.multihost import multihost as orbax_multihost
from orbax.checkpoint._src.path import atomicity
import pytest

from conftest import REPO, small_config
from scaling import config as configlib
from scaling import sharding as shardlib
from scaling.data.store import LockBusy, locked
from scaling.results import io as records
from scaling.train import checkpoint
from scaling.train import optim
from scaling.train import state as statelib
from scaling.train import step as steplib
from scaling.train.loop import Diverged, train

pytestmark = pytest.mark.slow  # every test trains through the CLI


def _cfg(**kw):
  base = {"train.steps": 12, "train.log_every": 4, "checkpoint.every_steps": 5,
          "checkpoint.keep": 5, "eval.every_steps": 100, "eval.batches": 1}
  return small_config("nano", **{**base, **kw})


def _rows(workdir):
  return records.read_jsonl(os.path.join(workdir, "metrics.jsonl"))


def _summary(workdir):
  with open(os.path.join(workdir, "summary.json")) as f:
    return json.load(f)


@pytest.mark.parametrize("what", ["loss", "grad"])
def test_halt_stops_at_the_first_nonfinite_step_and_keeps_the_last_checkpoint(what, tmp_path):
  workdir = str(tmp_path / what)
  with pytest.raises(Diverged, match="step 7"):
    train(_cfg(**{"train.inject_nonfinite": f"{what}@7"}), workdir, progress=False)
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["5"]
  summary = _summary(workdir)
  assert summary["status"] == "diverged" and summary["diverged_step"] == 7
  rows = _rows(workdir)
  assert [r["step"] for r in rows] == list(range(1, 8)) and rows[-1]["nonfinite"] == 1.0
  assert all(r["nonfinite"] == 0.0 for r in rows[:-1])


def test_skip_leaves_parameters_and_optimizer_state_unchanged():
  cfg = configlib.resolve(_cfg(**{"train.nan_policy": "skip", "train.warmup_steps": 0,
                                  "train.inject_nonfinite": "grad@1"}),
                          vocab_size=259, platform="cpu")
  mesh = shardlib.make_mesh(cfg.mesh)
  setup = statelib.make_setup(cfg.model, optim.optimizer(cfg.train), mesh, 0)
  step = jax.jit(steplib.make_train_step(setup, cfg.model, cfg.train, optim.schedule(cfg.train),
                                         cfg.gns))
  state = statelib.init_state(cfg.model, setup, 0)
  tokens = np.random.default_rng(0).integers(0, 259, (16, 65)).astype(np.int32)
  batch = {"inputs": tokens[:, :-1], "targets": tokens[:, 1:]}
  new, metrics = step(state, batch)            # step 1 is poisoned: skipped
  assert float(metrics["nonfinite"]) == 1.0 and int(new["step"]) == 1
  for a, b in zip(jax.tree.leaves((new["params"], new["opt_state"])),
                  jax.tree.leaves((state["params"], state["opt_state"]))):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  newer, metrics = step(new, batch)            # step 2 is clean: applied
  assert float(metrics["nonfinite"]) == 0.0
  assert not np.array_equal(np.asarray(newer["params"]["pos_embed"]),
                            np.asarray(state["params"]["pos_embed"]))


def test_skip_counts_skipped_steps_and_halts_after_max_skipped(tmp_path):
  ok_dir = str(tmp_path / "skip")
  summary = train(_cfg(**{"train.nan_policy": "skip", "train.inject_nonfinite": "grad@7"}),
                  ok_dir, progress=False)
  assert summary["status"] == "completed" and summary["skipped_steps"] == 1
  rows = _rows(ok_dir)
  assert rows[6]["nonfinite"] == 1.0 and rows[6]["skipped_steps"] == 1
  assert rows[-1]["skipped_steps"] == 1 and np.isfinite(summary["val_loss"])
  # the schedule follows applied updates: from the skipped step on, one step behind
  schedule = optim.schedule(configlib.resolve(_cfg(), vocab_size=259, platform="cpu").train)
  for r in rows:
    applied = r["step"] - 1 - (r["step"] > 7)
    assert r["lr"] == pytest.approx(float(schedule(applied)), rel=1e-6), r["step"]

  halt_dir = str(tmp_path / "too-many")
  with pytest.raises(Diverged):
    train(_cfg(**{"train.nan_policy": "skip", "train.max_skipped": 0,
                  "train.inject_nonfinite": "loss@7"}), halt_dir, progress=False)
  assert _summary(halt_dir)["status"] == "diverged"


ARGS = ["--config", "configs/transformer.py:size=nano", "--progress=false",
        "--config.train.steps=10", "--config.train.log_every=1",
        "--config.checkpoint.every_steps=5", "--config.eval.batches=1"]


def _train_cli(workdir, *extra, file_limit_kb=None):
  cmd = [sys.executable, "-m", "scaling.cli.train", *ARGS, *extra, "--workdir", workdir]
  if file_limit_kb:  # a disk that refuses large files, as a full disk would
    cmd = ["bash", "-c", f"ulimit -f {file_limit_kb}; trap '' XFSZ; exec \"$@\"", "_", *cmd]
  return subprocess.run(cmd, cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO),
                        capture_output=True, text=True, timeout=600)


def test_a_failed_save_stops_the_run_naming_it_and_a_rerun_recovers(tmp_path):
  reference = str(tmp_path / "ref")
  assert _train_cli(reference).returncode == 0
  workdir = str(tmp_path / "full-disk")
  limit_kb = 100
  failed = _train_cli(workdir, file_limit_kb=limit_kb)
  losses = lambda d: [r["loss"] for r in _rows(d)]
  # Whether a save fits under the limit depends on how TensorStore groups its
  # arrays into data files (it varies run to run: a save's ~270 KB has come in
  # one file and in four of 4-133 KB). Both saves can fit; then nothing was
  # refused (no file reached the limit, which is where the kernel stops a
  # write), and the run must simply be complete and exact.
  if failed.returncode == 0:
    sizes = [os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(workdir) for f in fs]
    assert max(sizes) < limit_kb * 1024, "a write was cut at the limit, yet the run completed"
    assert losses(workdir) == losses(reference)
    return
  assert failed.returncode == 1, failed.stderr[-2000:]
  errors = [l for l in failed.stderr.splitlines() if l.startswith("error: ")]
  # one line of ours (orbax's own traceback may print around it); a failure shows stderr
  assert len(errors) == 1, failed.stderr[-3000:]
  assert errors[0].startswith("error: saving a checkpoint in ") and "File too large" in errors[0]
  assert not os.path.exists(os.path.join(workdir, "summary.json"))  # never "completed"
  # Step 5's save may have fitted (see above): what must hold is that every
  # step directory under its final name is complete, and that the rerun
  # recovers exactly.
  assert _final_named(workdir) == _complete(workdir)
  again = _train_cli(workdir)  # space is back: the partial save is never restored
  assert again.returncode == 0, again.stderr[-2000:]
  assert losses(workdir) == losses(reference)


def _final_named(workdir):
  return sorted(int(d) for d in os.listdir(os.path.join(workdir, "checkpoints")) if d.isdigit())


def _complete(workdir):
  return [s for s in _final_named(workdir) if os.path.exists(
      os.path.join(workdir, "checkpoints", str(s), checkpoint.COMMIT_MARKER))]


def _fail_at_step_10(owner, name):
  """Patches owner.name to raise EFBIG ("File too large") when it works on
  step 10's save, as a full disk at that stage would."""
  real = getattr(owner, name)
  is_async = asyncio.iscoroutinefunction(real)

  def concerns_step_10(args):
    return any(a == 10 if isinstance(a, int) else
               re.search(r'(/|")10(\.orbax-checkpoint-tmp[^/"]*)?("|/|$)', str(a))
               for a in args)

  def check(args):
    if concerns_step_10(args):
      raise OSError(errno.EFBIG, "File too large", f"injected at {name}")

  async def async_fail(*args, **kwargs):
    check(args)
    return await real(*args, **kwargs)

  def fail(*args, **kwargs):
    check(args)
    return real(*args, **kwargs)

  return async_fail if is_async else fail


# Each stage of an orbax save, in order; the rename into place is the last
# step of AtomicRenameTemporaryPath.finalize.
SAVE_STAGES = {
    "create the temporary directory": (atomicity.AtomicRenameTemporaryPath, "create", False),
    "write the arrays and JSON": (async_checkpointer, "_background_wait_for_commit_futures",
                                  False),
    "write the step metadata": (checkpointer_lib.Checkpointer, "_save_step_metadata", False),
    "finalize the items": (composite.CompositeCheckpointHandler, "finalize", False),
    "write the commit marker and rename": (atomicity.AtomicRenameTemporaryPath, "finalize",
                                           False),
    "after the rename": (ocp.CheckpointManager, "_finalize_checkpoint", True),
}


@pytest.fixture(scope="module")
def reference_losses(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("ref"))
  train(_cfg(**{"train.steps": 10, "train.log_every": 1}), workdir, progress=False)
  return [r["loss"] for r in _rows(workdir)]


@pytest.mark.parametrize("stage", list(SAVE_STAGES))
def test_a_save_failing_at_each_stage_never_leaves_a_false_checkpoint(
    stage, reference_losses, tmp_path, monkeypatch):
  owner, name, renamed = SAVE_STAGES[stage]
  workdir, cfg = str(tmp_path / "run"), _cfg(**{"train.steps": 10, "train.log_every": 1})
  with monkeypatch.context() as patch:
    patch.setattr(owner, name, _fail_at_step_10(owner, name))
    # a save that fails before its directory exists leaves orbax's writer threads
    # waiting for the "directory created" signal until this timeout (300 s)
    patch.setattr(orbax_multihost, "_DEFAULT_BARRIER_TIMEOUT", 5)
    with pytest.raises(checkpoint.CheckpointError, match="File too large"):
      train(cfg, workdir, progress=False)
  assert not os.path.exists(os.path.join(workdir, "summary.json"))
  assert _final_named(workdir) == _complete(workdir) == ([5, 10] if renamed else [5])
  summary = train(cfg, workdir, progress=False)  # resumes from the newest complete one
  assert summary["status"] == "completed" and summary["steps"] == 10
  assert [r["loss"] for r in _rows(workdir)] == reference_losses


def test_a_save_failing_only_at_close_stops_the_run_with_one_line(
    reference_losses, tmp_path, monkeypatch):
  """The last place orbax can report a failed save is the manager's close (it
  waits for pending saves): that too is a CheckpointError, never a traceback,
  the run writes no summary, and the rerun recovers exactly."""
  workdir, cfg = str(tmp_path / "run"), _cfg(**{"train.steps": 10, "train.log_every": 1})
  real_close = ocp.CheckpointManager.close

  def failing_close(manager):
    real_close(manager)
    raise OSError(errno.EFBIG, "File too large", "injected at close")

  with monkeypatch.context() as patch:
    patch.setattr(ocp.CheckpointManager, "close", failing_close)
    with pytest.raises(checkpoint.CheckpointError, match="saving a checkpoint in .*File too large"):
      train(cfg, workdir, progress=False)
  assert not os.path.exists(os.path.join(workdir, "summary.json"))  # never "completed"
  assert _final_named(workdir) == _complete(workdir)
  summary = train(cfg, workdir, progress=False)  # resumes at step 10: no step left
  assert [r["loss"] for r in _rows(workdir)] == reference_losses
  # what the resume reports is what the run would have: train loss and the
  # last step's full evaluation, per-position loss included
  reference = train(cfg, str(tmp_path / "reference"), progress=False)
  timing = {"wallclock_s", "tokens_per_sec"}
  assert {k: v for k, v in summary.items() if k not in timing} == \
      {k: v for k, v in reference.items() if k not in timing}


def test_a_final_named_save_without_its_commit_marker_is_moved_aside(tmp_path):
  """The guard for storage that renames before the marker is written."""
  workdir = str(tmp_path / "run")
  train(_cfg(**{"train.steps": 10}), workdir, progress=False)
  ckpt = checkpoint.Checkpointer(workdir, keep=5)
  os.unlink(os.path.join(workdir, "checkpoints", "10", checkpoint.COMMIT_MARKER))
  ckpt._unconfirmed = [10]  # pylint: disable=protected-access  # as after a failed save
  ckpt._set_aside_unfinished()  # pylint: disable=protected-access
  ckpt.close()
  assert _final_named(workdir) == [5]
  assert os.listdir(os.path.join(workdir, "checkpoints-damaged")) == ["10"]


def test_a_checkpoint_interrupted_mid_write_is_never_restored(tmp_path):
  full = str(tmp_path / "full")
  train(_cfg(**{"train.steps": 15, "train.log_every": 1}), full, progress=False)
  broken = str(tmp_path / "broken")
  shutil.copytree(full, broken)
  ckpts = os.path.join(broken, "checkpoints")
  shutil.rmtree(os.path.join(ckpts, "15"))
  # what a kill during the save of step 10 leaves: a temporary dir, a file cut short
  os.rename(os.path.join(ckpts, "10"), os.path.join(ckpts, "10.orbax-checkpoint-tmp-1"))
  for dirpath, _, files in os.walk(os.path.join(ckpts, "10.orbax-checkpoint-tmp-1")):
    for name in files:
      path = os.path.join(dirpath, name)
      with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
  train(_cfg(**{"train.steps": 15, "train.log_every": 1}), broken, progress=False)
  assert [r["loss"] for r in _rows(broken)] == [r["loss"] for r in _rows(full)]


def test_the_same_config_twice_gives_identical_per_step_losses(tmp_path):
  cfg = _cfg(**{"train.steps": 8, "train.log_every": 1})
  losses = []
  for name in ("a", "b"):
    train(cfg, str(tmp_path / name), progress=False)
    losses.append([(r["step"], r["loss"], r["grad_norm"]) for r in _rows(str(tmp_path / name))])
  assert losses[0] == losses[1]


def _damage(checkpoint_dir, n_bytes):
  """Inverts n_bytes spread over the largest array file of a checkpoint (orbax's
  OCDBT layout: state/ocdbt.process_0/d/<hash>, zstd-compressed chunks)."""
  files = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(checkpoint_dir, "state"))
           for f in fs]
  path = max(files, key=os.path.getsize)
  assert f"{os.sep}d{os.sep}" in path, path
  size = os.path.getsize(path)
  with open(path, "r+b") as f:
    for k in range(n_bytes):
      f.seek(size // 3 + k * (size // (3 * n_bytes)))
      byte = f.read(1)[0]
      f.seek(-1, os.SEEK_CUR)
      f.write(bytes([byte ^ 0xFF]))


# 4 bytes still decompress (wrong values: caught by the digest); 3000 make the
# reader itself fail (zstd "Data corruption detected")
@pytest.mark.parametrize("n_bytes", [4, 3000])
def test_a_damaged_checkpoint_is_never_trained_on(n_bytes, tmp_path):
  workdir = str(tmp_path / "run")
  assert _train_cli(workdir).returncode == 0  # checkpoints 5 and 10
  _damage(os.path.join(workdir, "checkpoints", "10"), n_bytes)
  again = _train_cli(workdir, "--config.train.steps=15")
  assert again.returncode == 0, again.stderr[-3000:]
  assert "diverged" not in again.stderr and "Traceback" not in again.stderr, again.stderr
  said = [l for l in again.stderr.splitlines() if "damaged" in l]
  assert len(said) == 1 and f"checkpoints{os.sep}10 is damaged" in said[0], again.stderr
  assert "resuming from step 5" in said[0]
  assert [r["step"] for r in _rows(workdir)] == list(range(1, 16))  # each step once
  assert os.listdir(os.path.join(workdir, "checkpoints-damaged")) == ["10"]  # kept, aside


def test_with_no_intact_checkpoint_the_run_stops_naming_it(tmp_path):
  workdir = str(tmp_path / "run")
  assert _train_cli(workdir).returncode == 0
  for step in ("5", "10"):
    _damage(os.path.join(workdir, "checkpoints", step), 3000)
  again = _train_cli(workdir, "--config.train.steps=15")
  assert again.returncode == 1 and "Traceback" not in again.stderr, again.stderr
  errors = [l for l in again.stderr.splitlines() if l.strip()]
  assert len(errors) == 1 and errors[0].startswith("error: checkpoint "), again.stderr
  assert f"checkpoints{os.sep}10 is damaged" in errors[0]
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["10", "5"]  # untouched


def test_a_second_trainer_on_a_held_workdir_refuses_with_one_line(tmp_path):
  workdir = str(tmp_path / "run")
  os.makedirs(workdir)
  holder = f"pid {os.getpid()} on host testhost since now"
  with locked(os.path.join(workdir, "train.lock"), holder=holder):
    second = _train_cli(workdir)
  assert second.returncode == 73, second.stderr
  lines = [l for l in second.stderr.splitlines() if l.strip()]
  assert len(lines) == 1 and lines[0].startswith("error: "), second.stderr
  assert f"pid {os.getpid()} on host testhost" in lines[0] and workdir in lines[0]
  assert sorted(os.listdir(workdir)) == ["train.lock"]  # nothing written


def test_the_lock_of_a_killed_holder_does_not_block(tmp_path):
  path = str(tmp_path / "train.lock")
  holder = subprocess.Popen(
      [sys.executable, "-c", "import sys, time; from scaling.data.store import locked\n"
       "with locked(sys.argv[1], holder='pid x'):\n  print('held', flush=True); time.sleep(600)",
       path], cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO), stdout=subprocess.PIPE, text=True)
  assert holder.stdout.readline().strip() == "held"
  with pytest.raises(LockBusy, match="held by pid x"):
    with locked(path, wait=0.3):
      pass
  holder.kill()  # SIGKILL: no cleanup runs; the kernel drops the flock
  holder.wait()
  with locked(path, wait=5):
    pass
