"""The run config: defaults, size table, string variants and resolution.

A run is defined by one ml-collections ConfigDict. Config files in `configs/`
call `base_config()` and `apply_args()`; `resolve()` fills the values that
depend on others or on the machine (d_ff, d_attn, dtype, the Kaplan LR).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import ml_collections
from ml_collections import config_dict

from scaling import pyfile
from scaling.config_formats import data_parallel, eval_sets_of
from scaling.constants import LR_A, LR_B

# size: (n_layer, d_model, n_heads, n_ctx, batch_size). The small rows are sized
# for a CPU; from `small` up they follow the paper's n_ctx = 1024.
SIZES = {
    "nano": (1, 32, 2, 64, 16),
    "micro": (2, 64, 4, 128, 16),
    "tiny": (2, 128, 4, 128, 16),
    "mini": (4, 256, 4, 256, 32),
    "small": (6, 384, 6, 1024, 512),
    "medium": (8, 512, 8, 1024, 512),
    "base": (12, 768, 12, 1024, 512),     # GPT-2 small shape
    "large": (24, 1024, 16, 1024, 512),   # GPT-2 medium (350M) shape
    "xl": (24, 2048, 16, 1024, 512),
}

OPTIMIZERS = ("adam", "adamw", "adafactor")
SCHEDULES = ("cosine", "constant", "linear")


def parse_arg(arg: str | None) -> dict[str, str]:
  """Parses 'size=tiny,runlocal' into {'size': 'tiny', 'runlocal': ''}."""
  out = {}
  for part in (arg or "").split(","):
    part = part.strip()
    if part:
      key, _, value = part.partition("=")
      out[key.strip()] = value.strip()
  return out


@dataclasses.dataclass(frozen=True)
class Variant:
  """The ARG of a `configs/X.py:ARG` or `experiments/X.py:ARG` spec, parsed and
  checked once: a variant name (tiny, full, ...), flags and key=value options."""

  name: str | None
  flags: frozenset
  options: dict

  @classmethod
  def parse(cls, arg: str | None, *, names=(), flags=(), keys=(),
            default: str | None = None) -> "Variant":
    """`names`: bare words naming a variant (at most one; none given: `default`);
    `flags`: words that switch something on; `keys`: KEY=VALUE options.
    ValueError names the choices."""
    args = parse_arg(arg)
    given = [k for k in args if k in names and not args[k]]
    unknown = sorted(set(args) - set(given) - set(flags) - set(keys))
    choices = ", ".join([*names, *flags, *(f"{k}=..." for k in keys)])
    if unknown:
      raise ValueError(f"variant {', '.join(map(repr, unknown))} is unknown; use one of "
                       f"{choices}")
    if len(given) > 1:
      raise ValueError(f"variants {', '.join(given)} conflict; give one of {choices}")
    return cls(given[0] if given else default, frozenset(set(args) & set(flags)),
               {k: v for k, v in args.items() if k in keys})


def experiment_variant(arg: str | None, names=("tiny", "full"), default: str = "full") -> str:
  """The variant an experiment file's ARG names (e.g. 'tiny'; none: `default`)."""
  return Variant.parse(arg, names=names, default=default).name


def base_config() -> ml_collections.ConfigDict:
  """Every key a run has, with the paper's defaults."""
  c = ml_collections.ConfigDict()
  c.name = ""

  c.model = m = ml_collections.ConfigDict()
  m.kind = "transformer"
  m.size = "tiny"
  m.n_layer = 2
  m.d_model = 128
  m.d_ff = 0          # 0: 4·d_model
  m.d_attn = 0        # 0: d_model
  m.n_heads = 4
  m.n_ctx = 128
  m.vocab_size = 0    # 0: the data vocabulary's size
  m.dtype = "auto"    # auto: bfloat16 on GPU/TPU, float32 on CPU
  m.param_dtype = "float32"
  m.attention = "auto"  # auto: cudnn on GPU, xla elsewhere
  m.share_layers = False
  m.tie_embeddings = True
  m.dropout = 0.0
  m.scan_layers = False  # scan over stacked blocks: compile time flat in depth
  m.remat = "none"       # none | block: recompute block activations in backward
  m.loss_chunk = 0       # >0: logits and loss computed this many tokens at a time
  m.logits_bf16 = False  # speed only: logits and their gradient stay bf16, fp32 log-sum-exp
  m.lstm_impl = "auto"  # kind=lstm: auto (cudnn on GPU without dropout, else scan), scan, cudnn
  m.lstm_unroll = 1     # kind=lstm, scan path: positions per jax.lax.scan iteration

  c.data = d = ml_collections.ConfigDict()
  d.source = "embedded"  # embedded | text:PATH | tfds:NAME | seqio:TASK | nltk:CORPUS[,...] | synthetic
  d.vocab = "byte"    # byte | spm:SIZE (trained on the train split) | spm:PATH
  d.cache_dir = ""    # "": $SCALING_CACHE or ~/.cache/scaling
  d.seq_len = 0       # 0: model.n_ctx
  d.max_train_tokens = 0      # D: train on the first D tokens of the train split (0: all)
  d.text_documents = "paragraph"  # text: one document per paragraph | file | line
  d.feature = ""      # tfds:/seqio: the text feature ("": text, or the one named *text*)
  d.train_split = "train"     # tfds:/seqio: split or TFDS slice to train on
  d.validation_split = ""     # tfds:/seqio: "": validation, else test
  d.tfds_data_dir = ""        # tfds: "": $TFDS_DATA_DIR or ~/tensorflow_datasets (gs:// works)
  d.nltk_data = ""            # nltk: an NLTK data directory ("": $NLTK_DATA, ~/nltk_data, ...)

  c.train = t = ml_collections.ConfigDict()
  t.steps = 1000
  t.batch_size = 16   # sequences
  t.optimizer = "adamw"  # adam | adamw | adafactor (Adam with factored second moments)
  t.lr = config_dict.FieldReference("kaplan", field_type=object)
  t.warmup_steps = 100
  t.schedule = "cosine"
  t.grad_clip = 1.0
  t.weight_decay = 0.1  # adamw, adafactor: lr_t·wd·W on matrices and embedding (optim.DECAYED)
  t.b1 = 0.9
  t.b2 = 0.95
  t.seed = 0
  t.log_every = 10
  t.nan_policy = "halt"   # halt | skip: what a non-finite loss or gradient does
  t.max_skipped = 10      # skip: halt after this many consecutive skipped steps
  t.inject_nonfinite = ""  # fault drill: "loss@STEP" or "grad@STEP" poisons that step

  c.checkpoint = k = ml_collections.ConfigDict()
  k.every_steps = 500
  k.keep = 2
  # "RUN_DIR@STEP": a run with no checkpoint of its own starts from RUN_DIR's
  # checkpoint at STEP (a branch: state, optimizer and step counter copied;
  # batch, learning rate and steps may differ). RUN_DIR relative to the workdir.
  k.start_from = ""

  c.eval = e = ml_collections.ConfigDict()
  e.every_steps = 200
  e.batches = 8
  e.datasets = ""     # extra sources evaluated too: "[NAME=]SOURCE;..." -> val_loss/NAME
  e.sets = ml_collections.ConfigDict()  # the same, nested: e.sets.NAME = "SOURCE"
  e.position_stride = 0  # >0: the final per_position_loss over windows starting every S tokens

  c.mesh = ml_collections.ConfigDict()
  c.mesh.data = -1    # -1: every device not used by the other axes
  c.mesh.fsdp = 1     # parameters and optimizer state sharded over this axis
  c.mesh.model = 1    # tensor parallel: heads, MLP and vocabulary split

  # Gradient noise scale B_simple (McCandlish et al. 2018; scaling.gns). The step
  # splits the batch into `microbatches` (k) micro-batches: this is also gradient
  # accumulation, on with gns off too when k > 1. The estimate needs k >= 2.
  c.gns = g = ml_collections.ConfigDict()
  g.enabled = False
  g.microbatches = 1  # k: must divide the per-device batch
  g.ema = 0.95        # decay of the moving averages of |G|² and tr(Σ)

  # Where metrics go besides metrics.jsonl, eval.jsonl and TensorBoard (scaling.tracking).
  c.log = ml_collections.ConfigDict()
  c.log.wandb = ""    # a Weights & Biases project ("": none); pip install 'scaling[cluster]'
  return c


def variant_config(arg: str | None, kind: str) -> ml_collections.ConfigDict:
  """The config a `configs/*.py:size=...,runlocal` string asks for, for model `kind`."""
  variant = Variant.parse(arg, flags=("runlocal",), keys=("size",))
  c = base_config()
  apply_size(c, variant.options.get("size") or "tiny")
  if "runlocal" in variant.flags:
    apply_runlocal(c)
  c.model.kind = kind
  c.name = f"{kind}-{c.model.size}"
  return c


def apply_size(c: ml_collections.ConfigDict, size: str) -> None:
  if size not in SIZES:
    raise ValueError(f"size={size!r} is unknown; use one of {', '.join(SIZES)}")
  n_layer, d_model, n_heads, n_ctx, batch = SIZES[size]
  c.model.size = size
  c.model.n_layer, c.model.d_model, c.model.n_heads = n_layer, d_model, n_heads
  c.model.n_ctx = n_ctx
  c.train.batch_size = batch
  if n_ctx >= 1024:  # the paper's schedule (Section 2.3)
    c.train.steps, c.train.warmup_steps = 250_000, 3000
    c.checkpoint.every_steps, c.eval.every_steps = 5000, 1000
    c.train.log_every = 100


def apply_runlocal(c: ml_collections.ConfigDict) -> None:
  """Shrinks any size to something a laptop CPU finishes in a minute."""
  c.model.n_ctx = min(c.model.n_ctx, 128)
  c.train.batch_size = min(c.train.batch_size, 8)
  c.train.steps = min(c.train.steps, 100)
  c.train.warmup_steps = min(c.train.warmup_steps, 10)
  c.train.log_every = 10
  c.checkpoint.every_steps = 50
  c.eval.every_steps, c.eval.batches = 50, 2


def resolve(c: ml_collections.ConfigDict, *, vocab_size: int,
            platform: str) -> ml_collections.ConfigDict:
  """A copy with every derived value filled in; the input is left alone."""
  r = ml_collections.ConfigDict(c.to_dict(), type_safe=False)
  m = r.model
  m.d_ff = m.d_ff or 4 * m.d_model
  m.d_attn = m.d_attn or m.d_model
  m.vocab_size = m.vocab_size or vocab_size
  if m.dtype == "auto":
    m.dtype = "float32" if platform == "cpu" else "bfloat16"
  if m.attention == "auto":
    m.attention = "cudnn" if platform == "gpu" and m.dtype == "bfloat16" else "xla"
  if m.lstm_impl == "auto":
    m.lstm_impl = "cudnn" if platform == "gpu" and not m.dropout else "scan"
  r.data.seq_len = r.data.seq_len or m.n_ctx
  r.train.lr = learning_rate(r)
  return r


SECTIONS = ("model", "data", "train", "checkpoint", "eval", "mesh", "gns", "log")


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """A resolved, validated run: every section filled in and frozen, and the
  values derived from it computed once. Sections read as in the ConfigDict
  (cfg.model.d_model, cfg["train"]["lr"]); `to_dict()` is config.json."""

  name: str
  model: Any        # FrozenConfigDict sections
  data: Any
  train: Any
  checkpoint: Any
  eval: Any
  mesh: Any
  gns: Any
  log: Any
  family: Any       # scaling.models.family: build, N, FLOPs per token
  batch_tokens: int     # train.batch_size x data.seq_len
  padded_vocab: int     # the embedding rows: vocab_size rounded up to 128
  data_parallel: int    # devices the batch is split over (mesh.data x mesh.fsdp)
  eval_sets: tuple      # ((name, source), ...): eval.datasets and eval.sets
  saved: dict = dataclasses.field(compare=False, repr=False, default=None)

  @classmethod
  def from_resolved(cls, r: ml_collections.ConfigDict, *, n_devices: int) -> "RunConfig":
    from scaling.models.family import family, padded_vocab  # pylint: disable=g-import-not-at-top
    sections = {k: config_dict.FrozenConfigDict(r[k]) for k in SECTIONS}
    return cls(name=r.name, **sections, family=family(r.model),
               batch_tokens=r.train.batch_size * r.data.seq_len,
               padded_vocab=padded_vocab(r.model.vocab_size),
               data_parallel=data_parallel(r, n_devices),
               eval_sets=tuple(eval_sets_of(r.eval)), saved=r.to_dict())

  def __getitem__(self, section: str):
    return getattr(self, section)

  def to_dict(self) -> dict:
    return self.saved


def kaplan_lr(n: float) -> float:
  """LR(N) ≈ 0.003239 − 0.0001395·ln(N) (Kaplan et al. Appendix D.6)."""
  return LR_A + LR_B * math.log(n)


def learning_rate(c: ml_collections.ConfigDict) -> float:
  lr = c.train.lr
  if isinstance(lr, str) and lr.strip().lower() == "kaplan":
    from scaling.models.family import FAMILIES  # pylint: disable=g-import-not-at-top
    # An unknown model.kind is validation's to report (after resolution).
    fam = FAMILIES.get(c.model.kind, FAMILIES["transformer"])
    return kaplan_lr(fam.n_formula(c.model, applied=True))
  try:
    return float(lr)
  except (TypeError, ValueError):
    raise ValueError(f"train.lr={lr!r} is not a number; give a float or 'kaplan'") from None


def from_saved(saved: dict) -> ml_collections.ConfigDict:
  """A run's config.json as a ConfigDict: an older file's missing keys take
  today's defaults, so code reads every key without restating its default."""
  return ml_collections.ConfigDict(_merged(base_config().to_dict(), saved))


def _merged(defaults: dict, saved: dict) -> dict:
  out = dict(defaults)
  for key, value in saved.items():
    both = isinstance(value, dict) and isinstance(defaults.get(key), dict)
    out[key] = _merged(defaults[key], value) if both else value
  return out


def load_config_file(spec: str) -> ml_collections.ConfigDict:
  """Loads 'path/to/config.py[:ARGS]' by calling its get_config(ARGS)."""
  path, _, arg = spec.partition(":")
  return pyfile.load(path, "config").get_config(arg or None)
