"""A run directory: what scaling-train and scaling-eval write, and how to read it.

  config.json             the resolved run config (older ones lack newer keys)
  summary.json            the Summary, rewritten when the run ends or stops
  metrics.jsonl           one row per training step: step, tokens, loss, lr, ...
  eval.jsonl              one row per evaluation: step, tokens, val_loss, val_bpb, ...
  vocab.json, vocab.model the vocabulary the run was trained with (vocab.tiktoken
                          for GPT-2's BPE)
  eval_<name>.json        a scaling-eval result
  per_position_loss.json  the latest per-position loss (Fig. 20 fits)
  failed.json             why a sweep member failed (scaling.sweep.runner)
  command.txt, train.log  a sweep member's command line and output
  submitted.json          a sweep member's cluster job (scaling.sweep.slurm): its
                          id, written when submitted, so a rerun of a killed sweep
                          waits for that job instead of submitting it again
  checkpoints/, tb/       orbax checkpoints, TensorBoard events
"""

from __future__ import annotations

import dataclasses
import os

from scaling import config as configlib
from scaling.results import io

SUMMARY = "summary.json"
CONFIG = "config.json"
METRICS = "metrics.jsonl"
EVALS = "eval.jsonl"
VOCAB_JSON = "vocab.json"
VOCAB_MODEL = "vocab.model"
VOCAB_BPE = "vocab.tiktoken"
PER_POSITION = "per_position_loss.json"
FAILED = "failed.json"  # a sweep member's failure record
COMMAND = "command.txt"  # a sweep member's scaling-train command line
SUBMITTED = "submitted.json"  # a sweep member's submitted cluster job


@dataclasses.dataclass
class Summary:
  """summary.json: what a run was and how it ended. Keys an older run lacks
  read as None; keys this schema does not name (val_loss/NAME, ...) are kept
  in `extra`."""

  name: str = ""
  status: str = "completed"   # completed | preempted | diverged
  n_layer: int | None = None
  d_model: int | None = None
  n_ctx: int | None = None
  n_params_nonembedding: int | None = None
  n_params_embedding: int | None = None
  model_kind: str | None = None
  n_params_applied: int | None = None
  n_params_formula: int | None = None
  flops_per_token: int | None = None
  c_forward_per_token: int | None = None
  steps: int | None = None
  batch_size: int | None = None
  batch_tokens: int | None = None
  tokens_seen: int | None = None
  compute_flops: float | None = None
  compute_pf_days: float | None = None
  epochs: float | None = None
  train_tokens_available: int | None = None
  max_train_tokens: int | None = None
  lr: float | None = None
  train_loss: float | None = None
  val_loss: float | None = None
  best_val_loss: float | None = None
  val_bpb: float | None = None
  per_position_loss: list | None = None
  per_position_val_loss: float | None = None
  position_stride: int | None = None
  wallclock_s: float | None = None
  tokens_per_sec: float | None = None
  diverged_step: int | None = None   # written only when status is diverged
  skipped_steps: int | None = None
  extra: dict = dataclasses.field(default_factory=dict)

  @classmethod
  def from_dict(cls, row: dict) -> "Summary":
    names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
    return cls(**{k: v for k, v in row.items() if k in names},
               extra={k: v for k, v in row.items() if k not in names})

  def to_dict(self) -> dict:
    out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
           if f.name != "extra"}
    if out["diverged_step"] is None:
      del out["diverged_step"]
    out.update(self.extra)
    return out

  @property
  def completed(self) -> bool:
    return self.status == "completed"


def completed(row) -> bool:
  """Whether a summary row (or a results.jsonl row) is of a finished run."""
  return row.get("status", "completed") == "completed"


def run_dirs(root: str) -> list[str]:
  """Directories under root (root included) that hold a summary.json."""
  found = []
  for dirpath, dirnames, filenames in os.walk(root):
    dirnames.sort()
    if SUMMARY in filenames:
      found.append(dirpath)
      dirnames[:] = []  # a run's own subdirectories (checkpoints) are not runs
  return found


class RunDir:
  """One run directory; every read and write of its files goes through here."""

  def __init__(self, path: str):
    self.path = path

  def file(self, name: str) -> str:
    return os.path.join(self.path, name)

  def exists(self, name: str = SUMMARY) -> bool:
    return os.path.isfile(self.file(name))

  # summary.json
  def summary_dict(self) -> dict | None:
    """summary.json as written (None if absent; ResultsError if unreadable)."""
    return io.read_json(self.file(SUMMARY)) if self.exists(SUMMARY) else None

  def summary(self) -> Summary | None:
    row = self.summary_dict()
    return None if row is None else Summary.from_dict(row)

  def summary_or_none(self) -> dict | None:
    """summary.json, or None if it is absent or unreadable (a run still going)."""
    try:
      return self.summary_dict()
    except (OSError, io.ResultsError):
      return None

  def is_finished(self) -> bool:
    row = self.summary_or_none()
    return bool(row) and completed(row)

  def write_summary(self, summary: Summary | dict) -> None:
    row = summary.to_dict() if isinstance(summary, Summary) else summary
    io.write_json(self.file(SUMMARY), row)

  # config.json
  def config_dict(self) -> dict:
    if not self.exists(CONFIG):
      raise FileNotFoundError(f"{self.path} is not a run directory (no {CONFIG}); "
                              "give the --workdir of a scaling-train run")
    return io.read_json(self.file(CONFIG))

  def config(self):
    """The run's resolved config, older config.json files filled with today's
    defaults for the keys they lack."""
    return configlib.from_saved(self.config_dict())

  def write_config(self, config: dict) -> None:
    io.write_json(self.file(CONFIG), config)

  # metrics.jsonl and eval.jsonl
  def metrics(self) -> list[dict]:
    return io.read_jsonl(self.file(METRICS))

  def evals(self) -> list[dict]:
    return io.read_jsonl(self.file(EVALS))

  def metrics_writer(self) -> io.JsonlWriter:
    return io.JsonlWriter(self.file(METRICS))

  def evals_writer(self) -> io.JsonlWriter:
    return io.JsonlWriter(self.file(EVALS))

  # scaling-eval's results
  def write_eval(self, name: str, result: dict) -> str:
    path = self.file(f"eval_{name}.json")
    io.write_json(path, result)
    return path

  def per_position(self) -> dict | None:
    return io.read_json(self.file(PER_POSITION)) if self.exists(PER_POSITION) else None

  def write_per_position(self, record: dict) -> None:
    io.write_json(self.file(PER_POSITION), record)

  # the vocabulary record
  def vocab_info(self) -> dict | None:
    """vocab.json, or None if it is absent or unreadable."""
    try:
      return io.read_json(self.file(VOCAB_JSON)) if self.exists(VOCAB_JSON) else None
    except (OSError, io.ResultsError):
      return None

  def write_vocab_info(self, info: dict) -> None:
    io.write_json(self.file(VOCAB_JSON), info)

  def copy_vocab_file(self, path: str, name: str = VOCAB_MODEL) -> None:
    """Copies the vocabulary's file in as `name` (vocab.model for SentencePiece,
    vocab.tiktoken for GPT-2's BPE), atomically; a no-op if it is that file."""
    target = self.file(name)
    if os.path.abspath(path) != os.path.abspath(target):
      with open(path, "rb") as f:
        io.write_files(self.path, {name: f.read()})

  # a sweep member's command line
  def write_command(self, argv: list[str]) -> None:
    io.write_text(self.file(COMMAND), " ".join(argv) + "\n")

  # a sweep member's failure record
  def write_failed(self, info: dict) -> None:
    io.write_json(self.file(FAILED), info)

  # a sweep member's cluster job
  def write_submission(self, record: dict) -> None:
    """Records the cluster job now running this member (atomic)."""
    io.write_json(self.file(SUBMITTED), record)

  def submission(self) -> dict | None:
    """The last recorded cluster job of this member, None if none (or unreadable)."""
    try:
      return io.read_json(self.file(SUBMITTED))
    except (OSError, io.ResultsError):
      return None
