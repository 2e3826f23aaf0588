"""The run config: defaults, size table, string variants and resolution.

A run is defined by one ml-collections ConfigDict. Config files in `configs/`
call `base_config()` and `apply_args()`; `resolve()` fills the values that
depend on others or on the machine (d_ff, d_attn, dtype, the Kaplan LR).
"""

from __future__ import annotations

import importlib.util
import math
import os

import ml_collections
from ml_collections import config_dict

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
  d.source = "embedded"  # embedded | text:PATH[,PATH] | tfds:NAME[/CONFIG][:VER] | seqio:TASK | synthetic
  d.vocab = "byte"    # byte | spm:SIZE (trained on the train split) | spm:PATH
  d.cache_dir = ""    # "": $SCALING_CACHE or ~/.cache/scaling
  d.seq_len = 0       # 0: model.n_ctx
  d.max_train_tokens = 0      # D: train on the first D tokens of the train split (0: all)
  d.text_documents = "paragraph"  # text: one document per paragraph | file | line
  d.feature = ""      # tfds:/seqio: the text feature ("": text, or the one named *text*)
  d.train_split = "train"     # tfds:/seqio: split or TFDS slice to train on
  d.validation_split = ""     # tfds:/seqio: "": validation, else test
  d.tfds_data_dir = ""        # tfds: "": $TFDS_DATA_DIR or ~/tensorflow_datasets (gs:// works)

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

  c.eval = e = ml_collections.ConfigDict()
  e.every_steps = 200
  e.batches = 8
  e.datasets = ""     # extra sources evaluated too: "[NAME=]SOURCE;..." -> val_loss/NAME
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
  return c


def variant_config(arg: str | None, kind: str) -> ml_collections.ConfigDict:
  """The config a `configs/*.py:size=...,runlocal` string asks for, for model `kind`."""
  args = parse_arg(arg)
  unknown = set(args) - {"size", "runlocal"}
  if unknown:
    raise ValueError(f"unknown config variant(s) {sorted(unknown)}; use size=..., runlocal")
  c = base_config()
  apply_size(c, args.get("size") or "tiny")
  if "runlocal" in args:
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
  if m.get("lstm_impl", "auto") == "auto":
    m.lstm_impl = "cudnn" if platform == "gpu" and not m.dropout else "scan"
  r.data.seq_len = r.data.seq_len or m.n_ctx
  r.train.lr = learning_rate(r)
  return r


def kaplan_lr(n: float) -> float:
  """LR(N) ≈ 0.003239 − 0.0001395·ln(N) (Kaplan et al. Appendix D.6)."""
  return 0.003239 - 0.0001395 * math.log(n)


def learning_rate(c: ml_collections.ConfigDict) -> float:
  lr = c.train.lr
  if isinstance(lr, str) and lr.strip().lower() == "kaplan":
    from scaling.accounting import lstm_n_formula, n_formula
    m = c.model
    n = n_formula(m.n_layer, m.d_model, m.d_attn or m.d_model, m.d_ff or 4 * m.d_model)
    if m.kind == "lstm":
      n = lstm_n_formula(m.n_layer, m.d_model)
    return kaplan_lr(n)
  try:
    return float(lr)
  except (TypeError, ValueError):
    raise ValueError(f"train.lr={lr!r} is not a number; give a float or 'kaplan'") from None


def load_config_file(spec: str) -> ml_collections.ConfigDict:
  """Loads 'path/to/config.py[:ARGS]' by calling its get_config(ARGS)."""
  path, _, arg = spec.partition(":")
  if not os.path.isfile(path):
    raise FileNotFoundError(f"config file {path!r} does not exist")
  module_spec = importlib.util.spec_from_file_location("_scaling_config", path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module.get_config(arg or None)
