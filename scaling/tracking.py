"""Experiment tracking: a run's metrics go through one writer, fanned out to
JSONL files, TensorBoard and, optionally, Weights & Biases.

  writer = tracking.make_writer(workdir, wandb_project=cfg.log.wandb, config=cfg.to_dict())
  writer.truncate_after(start_step)          # on resume: drop rows past the checkpoint
  writer.write("metrics", rows)              # rows: dicts with a "step"
  writer.write("eval", [row])
  writer.close()

kinds: "metrics" -> WORKDIR/metrics.jsonl, TensorBoard tags as they are;
"eval" -> WORKDIR/eval.jsonl, TensorBoard/W&B tags under "eval/".

W&B (`pip install 'scaling[cluster]'`): the run's id is kept in
WORKDIR/wandb_id, so a resumed run continues the same W&B run; W&B is append
only, so steps already logged before a resume keep their first values. A sweep
member is grouped under its sweep's name ($SCALING_SWEEP_NAME, which the sweep
runner sets) and named after its directory. WANDB_MODE=offline works as usual.
Only the main process writes (make_writer(..., enabled=False) elsewhere).
"""

from __future__ import annotations

import math
import os
import uuid

from scaling.results import RunDir
from scaling.results import io as results_io
from scaling.errors import UserError

KINDS = ("metrics", "eval")
GROUP_ENV = "SCALING_SWEEP_NAME"
WANDB_ID_FILE = "wandb_id"


class TensorBoard:
  """Scalar event files via tensorboardX (no TensorFlow)."""

  def __init__(self, logdir: str):
    from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
    self.writer = SummaryWriter(logdir)

  def scalars(self, step: int, values: dict, prefix: str = "") -> None:
    for key, value in values.items():
      if isinstance(value, (int, float)) and math.isfinite(value):
        self.writer.add_scalar(prefix + key, value, step)

  def close(self) -> None:
    self.writer.close()


class TrackingError(UserError):
  """A writer that cannot start (e.g. wandb missing): one line."""


def _scalars(row: dict) -> dict:
  return {k: v for k, v in row.items() if k != "step" and isinstance(v, (int, float))
          and not isinstance(v, bool) and math.isfinite(v)}


def _check(kind: str) -> None:
  if kind not in KINDS:
    raise ValueError(f"metrics kind {kind!r} is unknown; use one of {', '.join(KINDS)}")


class MetricWriter:
  """The interface: every writer takes the same calls."""

  def write(self, kind: str, rows: list[dict]) -> None:
    raise NotImplementedError

  def truncate_after(self, step: int) -> None:
    """Forgets rows after `step` (a resume from that step's checkpoint)."""

  def close(self) -> None:
    pass


class JsonlMetrics(MetricWriter):
  """WORKDIR/metrics.jsonl and WORKDIR/eval.jsonl, one line per row."""

  def __init__(self, workdir: str):
    run = RunDir(workdir)  # the run directory's files are scaling.results'
    self.files = {"metrics": run.metrics_writer(), "eval": run.evals_writer()}

  def write(self, kind, rows):
    _check(kind)
    self.files[kind].write(rows)

  def truncate_after(self, step):
    for f in self.files.values():
      f.truncate_after(step)


class TensorBoardMetrics(MetricWriter):
  """Scalar event files in WORKDIR/tb (tensorboardX, no TensorFlow)."""

  def __init__(self, workdir: str):
    self.tb = TensorBoard(os.path.join(workdir, "tb"))

  def write(self, kind, rows):
    _check(kind)
    for row in rows:
      self.tb.scalars(row["step"], _scalars(row), "eval/" if kind == "eval" else "")

  def close(self):
    self.tb.close()


class WandbMetrics(MetricWriter):
  """One W&B run per workdir, resumed by the id kept in WORKDIR/wandb_id."""

  def __init__(self, workdir: str, project: str, *, group: str | None = None,
               name: str | None = None, config: dict | None = None):
    try:
      import wandb  # pylint: disable=g-import-not-at-top
    except ImportError:
      raise TrackingError(f"log.wandb={project} needs the wandb package; "
                          "pip install 'scaling[cluster]' (or leave log.wandb empty)") from None
    self.wandb = wandb
    run_id = _run_id(workdir)
    self.run = wandb.init(project=project, group=group, name=name or os.path.basename(
        os.path.abspath(workdir)), id=run_id, resume="allow", dir=workdir, config=config,
                          reinit="create_new")

  def write(self, kind, rows):
    _check(kind)
    prefix = "eval/" if kind == "eval" else ""
    for row in rows:
      self.run.log({prefix + k: v for k, v in _scalars(row).items()}, step=int(row["step"]))

  def close(self):
    self.run.finish()


def _run_id(workdir: str) -> str:
  path = os.path.join(workdir, WANDB_ID_FILE)
  try:
    with open(path) as f:
      run_id = f.read().strip()
    if run_id:
      return run_id
  except OSError:
    pass
  run_id = uuid.uuid4().hex[:16]
  os.makedirs(workdir, exist_ok=True)
  results_io.write_text(path, run_id + "\n")
  return run_id


class MultiWriter(MetricWriter):
  """Fans each call out to several writers, in order."""

  def __init__(self, writers: list[MetricWriter]):
    self.writers = list(writers)

  def write(self, kind, rows):
    for w in self.writers:
      w.write(kind, rows)

  def truncate_after(self, step):
    for w in self.writers:
      w.truncate_after(step)

  def close(self):
    for w in self.writers:
      w.close()


def make_writer(workdir: str, *, enabled: bool = True, tensorboard: bool = True,
                wandb_project: str = "", group: str | None = None, name: str | None = None,
                config: dict | None = None) -> MultiWriter:
  """JSONL (+ TensorBoard) (+ W&B when `wandb_project`); nothing if not `enabled`
  (processes other than the main one). `group` defaults to $SCALING_SWEEP_NAME."""
  if not enabled:
    return MultiWriter([])
  writers: list[MetricWriter] = [JsonlMetrics(workdir)]
  if tensorboard:
    writers.append(TensorBoardMetrics(workdir))
  if wandb_project:
    writers.append(WandbMetrics(workdir, wandb_project, group=group or os.environ.get(GROUP_ENV),
                                name=name, config=config))
  return MultiWriter(writers)
