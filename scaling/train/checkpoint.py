"""Checkpoints with orbax's CheckpointManager and the args API.

Each checkpoint holds the train state (StandardSave) and a JSON `meta` item
with the model and data config it was made with, so a resume with a different
model or data is refused before anything is restored or overwritten.
"""

from __future__ import annotations

import os

import orbax.checkpoint as ocp

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


class ResumeError(ValueError):
  pass


class CheckpointError(RuntimeError):
  """A save that did not complete (disk full, permissions, I/O): never ignored."""


def _first_line(error: BaseException) -> str:
  text = str(error).strip().splitlines()
  return f"{type(error).__name__}: {text[-1] if text else ''}"


def identity(config) -> dict:
  """The part of a resolved config that a checkpoint belongs to."""
  return {section: {k: config[section][k] for k in keys if k in config[section]}
          for section, keys in RESUME_KEYS.items()}


class Checkpointer:
  def __init__(self, workdir: str, *, keep: int, async_save: bool = True,
               read_only: bool = False):
    self.directory = os.path.join(os.path.abspath(workdir), "checkpoints")
    self.manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(
            max_to_keep=keep, create=not read_only, read_only=read_only,
            enable_async_checkpointing=async_save and not read_only))

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def check_compatible(self, config) -> int | None:
    """The step to resume from, or None; raises ResumeError on a mismatch."""
    step = self.latest_step()
    if step is None:
      return None
    saved = self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
    saved_id, now_id = saved.meta["identity"], identity(config)
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
    try:
      return self.manager.save(step, args=ocp.args.Composite(
          state=ocp.args.StandardSave(state),
          meta=ocp.args.JsonSave({"identity": identity(config), "step": int(step)})),
          force=force)
    except Exception as e:  # pylint: disable=broad-except
      raise CheckpointError(f"saving a checkpoint in {self.directory} failed at step "
                            f"{step}: {_first_line(e)}; free space or fix the "
                            "directory, then rerun to resume from the last complete one"
                            ) from e

  def restore(self, step: int, abstract_state):
    """The state saved at `step`; raises ResumeError when its tree differs from
    `abstract_state` (another train.optimizer, or an `adafactor` checkpoint from
    before Adafactor became Adam with factored second moments)."""
    try:
      restored = self.manager.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(abstract_state)))
    except ValueError as e:
      if "tree structures do not match" not in str(e):
        raise
      raise ResumeError(
          f"the checkpoint in {self.directory} holds another optimizer state than this "
          "run's train.optimizer makes (a changed optimizer, or adafactor before its "
          "rewrite); use a new --workdir or the optimizer it was made with") from None
    return restored.state

  def reached_preemption(self, step: int) -> bool:
    """True on every process at the same step once any one got SIGTERM (orbax's
    preemption sync point through jax.distributed)."""
    return self.manager.reached_preemption(step)

  def wait(self) -> None:
    """Blocks until pending saves are on disk; raises CheckpointError if one failed."""
    try:
      self.manager.wait_until_finished()
    except Exception as e:  # pylint: disable=broad-except
      raise CheckpointError(f"saving a checkpoint in {self.directory} failed: "
                            f"{_first_line(e)}; free space or fix the directory, then "
                            "rerun to resume from the last complete one") from e

  def close(self) -> None:
    self.manager.close()
