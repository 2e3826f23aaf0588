"""Checkpoints with orbax's CheckpointManager and the args API.

Each checkpoint holds the train state (StandardSave) and a JSON `meta` item
with the model and data config it was made with, so a resume with a different
model or data is refused before anything is restored or overwritten, and a
digest of the state's values (scaling/train/fingerprint.py), so a damaged
checkpoint is never trained on: restore falls back to the newest intact one
and moves the damaged ones to DIR/checkpoints-damaged/. Checkpoints made
before the digest existed restore unchecked.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import shutil
import sys

import jax
import orbax.checkpoint as ocp

from scaling.train import fingerprint
from scaling.errors import UserError

# Config keys that must match for a resume; the rest (steps, logging, mesh,
# compute dtype, attention kernel) may change between runs of one workdir.
RESUME_KEYS = {
    "model": ("kind", "n_layer", "d_model", "d_ff", "d_attn", "n_heads", "n_ctx",
              "vocab_size", "param_dtype", "share_layers", "tie_embeddings",
              "scan_layers"),
    "data": ("source", "vocab", "seq_len", "max_train_tokens", "text_documents", "feature",
             "train_split", "validation_split"),
    "gns": ("enabled",),  # the noise-scale moving averages are part of the state
}
# What a checkpoint made before a key was added to RESUME_KEYS was made with.
RESUME_DEFAULTS = {("gns", "enabled"): False}


class ResumeError(UserError):
  pass


class CheckpointError(UserError, RuntimeError):
  """A save that did not complete (disk full, permissions, I/O), or no intact
  checkpoint to resume from: never ignored."""


def _first_line(error: BaseException) -> str:
  text = str(error).strip().splitlines()
  return f"{type(error).__name__}: {text[-1] if text else ''}"


def _root_cause(error: BaseException, limit: int = 300) -> str:
  """The innermost cause's first line (TensorStore wraps the useful one)."""
  while error.__cause__ is not None or error.__context__ is not None:
    error = error.__cause__ or error.__context__
  text = (str(error).strip().splitlines() or [""])[0]
  return f"{type(error).__name__}: {text[:limit]}"


def _silence_failed_read_leftovers() -> None:
  """After a failed restore, orbax's abandoned read coroutines and TensorStore's
  callbacks into the closed event loop print a traceback each when they are
  collected (through the unraisable and except hooks, or asyncio's "exception
  was never retrieved" log record); the one line that says what happened is
  enough. Only those are dropped, everything else still gets through."""
  if getattr(sys.unraisablehook, "_scaling_quiet", False):
    return
  old_unraisable, old_except = sys.unraisablehook, sys.excepthook

  def leftover(exc) -> bool:
    return (isinstance(exc, RuntimeError) and "Event loop is closed" in str(exc)) or (
        "Encountered error while reading array index" in str(exc))

  def unraisable(info):
    if not leftover(info.exc_value):
      old_unraisable(info)

  def excepthook(kind, value, tb):
    if not leftover(value):
      old_except(kind, value, tb)

  def never_retrieved(record) -> bool:  # a logging filter: False drops the record
    exc = record.exc_info[1] if record.exc_info else None
    return not ((exc is not None and leftover(exc))
                or "Encountered error while reading array index" in record.getMessage())

  unraisable._scaling_quiet = True  # pylint: disable=protected-access
  sys.unraisablehook, sys.excepthook = unraisable, excepthook
  logging.getLogger("asyncio").addFilter(never_retrieved)


def identity(config) -> dict:
  """The part of a resolved config that a checkpoint belongs to."""
  return {section: {k: config[section][k] for k in keys if k in config[section]}
          for section, keys in RESUME_KEYS.items()}


COMMIT_MARKER = "commit_success.txt"  # orbax writes it just before the final rename


class Checkpointer:
  def __init__(self, workdir: str, *, keep: int, async_save: bool = True,
               read_only: bool = False, log=None):
    self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    self.workdir = os.path.abspath(workdir)
    self.directory = os.path.join(os.path.abspath(workdir), "checkpoints")
    self.manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(
            max_to_keep=keep, create=not read_only, read_only=read_only,
            enable_async_checkpointing=async_save and not read_only))
    self._unconfirmed: list[int] = []  # steps saved since the last successful wait

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def start_from(self, source_workdir: str, step: int) -> bool:
    """A branch: when this run has no checkpoint of its own, copies
    `source_workdir`'s complete checkpoint at `step` into it (under a temporary
    name, renamed into place, so a killed copy is never taken for a
    checkpoint). Returns whether it copied; own checkpoints always win (a
    branch that already ran resumes from itself). check_compatible then
    refuses a source of another model or data, as for any resume."""
    if self.latest_step() is not None:
      return False
    src = os.path.join(os.path.abspath(source_workdir), "checkpoints", str(step))
    if not os.path.exists(os.path.join(src, COMMIT_MARKER)):
      have = sorted(int(d) for d in os.listdir(os.path.dirname(src)) if d.isdigit()) \
          if os.path.isdir(os.path.dirname(src)) else []
      raise CheckpointError(
          f"checkpoint.start_from: {source_workdir} has no complete checkpoint at step "
          f"{step} (it has {have or 'none'}); train it with checkpoint.every_steps dividing "
          f"{step} and checkpoint.keep large enough, or start from one of those")
    if jax.process_index() == 0:
      os.makedirs(self.directory, exist_ok=True)
      staging = os.path.join(self.directory, f".start_from-{step}.tmp")
      shutil.rmtree(staging, ignore_errors=True)
      shutil.copytree(src, staging)
      os.replace(staging, os.path.join(self.directory, str(step)))
    if jax.process_count() > 1:
      from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
      multihost_utils.sync_global_devices("scaling: start_from copied")
    self.manager.reload()
    return True

  def check_compatible(self, config) -> int | None:
    """The step to resume from, or None; raises ResumeError on a mismatch."""
    step = self.latest_step()
    if step is None:
      return None
    saved = None
    for candidate in sorted(self.manager.all_steps(), reverse=True):
      try:  # the newest readable meta decides; restore() deals with damage
        saved = self._meta(candidate)
        break
      except Exception:  # pylint: disable=broad-except
        continue
    if saved is None:
      return step  # nothing readable: restore() says so in one line
    saved_id, now_id = saved["identity"], identity(config)
    for section, keys in now_id.items():
      for key, value in keys.items():
        old = saved_id.get(section, {}).get(key, RESUME_DEFAULTS.get((section, key)))
        if old != value:
          raise ResumeError(
              f"{section}.{key}={value!r} but the checkpoint in {self.directory} was made "
              f"with {old!r}; use a new --workdir or set {section}.{key}={old!r}")
    return step

  def save(self, step: int, state, config, *, force: bool = False) -> bool:
    """Starts an asynchronous save; raises CheckpointError if this or an earlier
    save failed (orbax reports a background failure at the next call)."""
    self._unconfirmed.append(int(step))
    try:
      return self.manager.save(step, args=ocp.args.Composite(
          state=ocp.args.StandardSave(state),
          meta=ocp.args.JsonSave({"identity": identity(config), "step": int(step),
                                  "digest": fingerprint.digest(state),
                                  "digest_algorithm": fingerprint.ALGORITHM})),
          force=force)
    except Exception as e:  # pylint: disable=broad-except
      self._set_aside_unfinished()
      raise CheckpointError(f"saving a checkpoint in {self.directory} failed at step "
                            f"{step}: {_first_line(e)}; free space or fix the "
                            "directory, then rerun to resume from the last complete one"
                            ) from e

  def _meta(self, step: int) -> dict:
    return self.manager.restore(
        step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta

  def _checked(self, step: int, abstract_state):
    """(state, None) if checkpoint `step` reads and matches its digest, else
    (None, why it is damaged)."""
    _silence_failed_read_leftovers()  # before the read: its leftovers can come at once
    try:
      meta = self._meta(step)
      state = self.manager.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(abstract_state))).state
    except ValueError as e:
      if "tree structures do not match" in str(e):  # not damage: another optimizer
        raise ResumeError(
            f"the checkpoint in {self.directory} holds another optimizer state than this "
            "run's train.optimizer makes (a changed optimizer, or adafactor before its "
            "rewrite); use a new --workdir or the optimizer it was made with") from None
      return self._unreadable(e)
    except Exception as e:  # pylint: disable=broad-except
      return self._unreadable(e)
    if meta.get("digest_algorithm") != fingerprint.ALGORITHM:  # made before digests
      return state, None
    leaf = fingerprint.mismatch(meta["digest"], state)
    if leaf is not None:
      return None, f"{leaf} does not match the digest saved with it"
    return state, None

  @staticmethod
  def _unreadable(error):
    _silence_failed_read_leftovers()
    gc.collect()  # the abandoned reads are dropped now, while the hooks are quiet
    return None, f"unreadable: {_root_cause(error)}"

  def restore(self, step: int, abstract_state, *, fallback: bool = True):
    """(step, state) of the newest intact checkpoint at or before `step`
    (only `step` itself unless `fallback`).

    Damaged newer ones are moved to DIR/checkpoints-damaged/ (one line says
    so); if none is intact nothing is moved and CheckpointError names them.
    """
    damaged = []
    candidates = sorted((s for s in self.manager.all_steps() if s <= step), reverse=True)
    for candidate in candidates if fallback else [step]:
      state, why = self._checked(candidate, abstract_state)
      if state is None:
        damaged.append((candidate, why))
        continue
      if damaged:
        self._move_aside([s for s, _ in damaged])
        newest, why = damaged[0]
        self.log(f"warning: checkpoint {self.directory}/{newest} is damaged ({why}); "
                 f"moved {len(damaged)} damaged checkpoint(s) to {self._aside_dir} "
                 f"and resuming from step {candidate}, the newest intact one")
      return candidate, state
    newest, why = damaged[0]
    if not fallback:
      raise CheckpointError(f"checkpoint {self.directory}/{newest} is damaged ({why})")
    raise CheckpointError(
        f"checkpoint {self.directory}/{newest} is damaged ({why}) and no earlier one "
        f"is intact; move {self.directory} aside (or use a new --workdir) to start over")

  @property
  def _aside_dir(self) -> str:
    return os.path.join(self.workdir, "checkpoints-damaged")

  def _move_aside(self, steps) -> None:
    """Renames damaged step directories out of orbax's sight (nothing is deleted),
    so later saves of the same steps do not collide with them."""
    if jax.process_index() == 0:
      os.makedirs(self._aside_dir, exist_ok=True)
      for step in steps:
        target = os.path.join(self._aside_dir, str(step))
        n = 1
        while os.path.exists(target):
          target, n = os.path.join(self._aside_dir, f"{step}.{n}"), n + 1
        os.rename(os.path.join(self.directory, str(step)), target)
    if jax.process_count() > 1:
      from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
      multihost_utils.sync_global_devices("scaling: damaged checkpoints moved")
    self.manager.reload()

  def reached_preemption(self, step: int) -> bool:
    """True on every process at the same step once any one got SIGTERM (orbax's
    preemption sync point through jax.distributed)."""
    return self.manager.reached_preemption(step)

  def wait(self) -> None:
    """Blocks until pending saves are on disk; raises CheckpointError if one failed."""
    try:
      self.manager.wait_until_finished()
    except Exception as e:  # pylint: disable=broad-except
      raise self._failed(e) from e
    self._unconfirmed = []

  def _failed(self, error) -> CheckpointError:
    """What a pending save that failed (reported by wait or close) raises, once
    the unfinished step directories are set aside."""
    self._set_aside_unfinished()
    return CheckpointError(f"saving a checkpoint in {self.directory} failed: "
                           f"{_first_line(error)}; free space or fix the directory, then "
                           "rerun to resume from the last complete one")

  def _set_aside_unfinished(self) -> None:
    """After a failed save: a step directory of an unconfirmed save under its
    final name but without orbax's commit marker is moved to
    checkpoints-damaged/, so no later run can take it for a checkpoint. (orbax
    renames only after the marker is written, so this guards against a
    storage layer or orbax version that does otherwise.) A failure after the
    rename leaves a complete checkpoint, which stays."""
    unfinished = [s for s in self._unconfirmed
                  if os.path.isdir(os.path.join(self.directory, str(s)))
                  and not os.path.exists(os.path.join(self.directory, str(s), COMMIT_MARKER))]
    self._unconfirmed = []
    if unfinished and jax.process_count() == 1:  # (_move_aside syncs every process)
      with contextlib.suppress(Exception):  # the save's own error is what gets reported
        self._move_aside(unfinished)

  def close(self) -> None:
    """Closes the manager (waiting for saves); a second call does nothing.
    Raises CheckpointError, as wait() does, if a save fails only now."""
    if not getattr(self, "_closed", False):
      self._closed = True
      try:
        self.manager.close()
      except Exception as e:  # pylint: disable=broad-except
        raise self._failed(e) from e
