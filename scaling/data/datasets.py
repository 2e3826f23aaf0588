"""A run's data: its vocabulary, training and evaluation batches, extra
evaluation sets. The glue between `data.*` / `eval.*` config and the modules
that do the work; used by the training loop and scaling-eval.

A run's vocabulary is fixed when it starts: it is written into the workdir
(vocab.json, and vocab.model for SentencePiece or vocab.tiktoken for GPT-2's
BPE), and a resumed run or an evaluation uses that copy, so all of them see
the same ids.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from scaling.config_formats import default_name, eval_sets_of, parse_eval_datasets  # pylint: disable=unused-import
from scaling.data.batches import Batches, eval_batches, window_batches
from scaling.data.errors import DataError
from scaling.data.sources import SourceOptions, get_source
from scaling.data.store import Store, build_store
from scaling.data.synthetic import SYNTHETIC_VOCAB_SIZE, SyntheticData
from scaling.data.gpt2_vocab import Gpt2Vocab, is_gpt2
from scaling.data.vocab import ByteVocab, SpmVocab, get_vocab, vocab_size_of
from scaling.results import run as run_files
from scaling.results.run import RunDir

RUN_VOCAB_JSON, RUN_VOCAB_MODEL = run_files.VOCAB_JSON, run_files.VOCAB_MODEL
RUN_VOCAB_BPE = run_files.VOCAB_BPE


def model_vocab_size(config) -> int:
  """The vocabulary size a run's model needs; trains and builds nothing."""
  if config.data.source == "synthetic":
    return config.model.vocab_size or SYNTHETIC_VOCAB_SIZE
  return vocab_size_of(config.data.vocab)


def _cache_dir(data_cfg) -> str | None:
  return data_cfg.cache_dir or None


def open_dataset(data_cfg, *, source: str | None = None, vocab=None, progress: bool = True,
                 vocab_size: int = 0) -> Store | SyntheticData:
  """The token store of `source` (default data.source) in `vocab` (default
  data.vocab, trained on that source for spm:SIZE), built on first use; for
  `synthetic`, a SyntheticData of `vocab_size` ids."""
  spec = source or data_cfg.source
  if spec == "synthetic":
    return SyntheticData(vocab_size or SYNTHETIC_VOCAB_SIZE)
  text_source = get_source(spec, SourceOptions.from_config(data_cfg))
  if vocab is None:
    seen = data_cfg.max_train_tokens if spec == data_cfg.source else 0
    vocab = get_vocab(data_cfg.vocab, source=text_source, cache_dir=_cache_dir(data_cfg),
                      progress=progress, max_train_tokens=seen)
  return build_store(text_source, vocab, _cache_dir(data_cfg), progress=progress)


def run_vocab(data_cfg, workdir: str, *, progress: bool = True):
  """The run's vocabulary: the workdir's copy if the run has one for this
  data.vocab, else data.vocab itself (trained or reused for spm:SIZE)."""
  if data_cfg.source == "synthetic":
    return None
  saved = RunDir(workdir).vocab_info()
  if saved and saved.get("spec") == data_cfg.vocab and saved.get("file"):
    vocab = _saved_spm(workdir, saved)
    spm_path = not is_gpt2(saved["spec"]) and not saved["spec"].partition(":")[2].isdigit()
    if spm_path:  # spm:PATH: must still match
      current = get_vocab(data_cfg.vocab)
      if current.sha256 != vocab.sha256:
        raise DataError(
            f"data.vocab={data_cfg.vocab} is not the SentencePiece model this run was "
            f"trained with (sha256 {current.sha256[:12]} vs {vocab.sha256[:12]}, kept in "
            f"{vocab.path}); put the original model back or use a new --workdir")
    return vocab
  text_source = get_source(data_cfg.source, SourceOptions.from_config(data_cfg))
  return get_vocab(data_cfg.vocab, source=text_source, cache_dir=_cache_dir(data_cfg),
                   progress=progress, max_train_tokens=data_cfg.max_train_tokens)


def _saved_spm(workdir: str, saved: dict) -> SpmVocab | Gpt2Vocab:
  path = RunDir(workdir).file(saved["file"])
  if is_gpt2(saved["spec"]):
    vocab = Gpt2Vocab(saved["spec"], path=path)
  else:
    vocab = SpmVocab(path, spec=saved["spec"])
  if vocab.sha256 != saved.get("sha256"):
    raise DataError(f"{vocab.path} is not the vocabulary this run was trained with "
                    f"(its sha256 differs from {RUN_VOCAB_JSON}'s); restore it or use a "
                    "new --workdir")
  return vocab


def save_run_vocab(workdir: str, vocab) -> None:
  """Writes vocab.json (and a copy of the spm model) into the workdir."""
  if vocab is None:
    return
  info = {"spec": vocab.spec, "name": vocab.name, "vocab_size": vocab.vocab_size,
          "eos_id": vocab.eos_id, "sha256": vocab.sha256, "file": None}
  run = RunDir(workdir)
  if vocab.path:
    name = RUN_VOCAB_BPE if is_gpt2(vocab.spec) else RUN_VOCAB_MODEL
    run.copy_vocab_file(vocab.path, name)
    info["file"] = name
  if run.vocab_info() != info:
    run.write_vocab_info(info)


def load_run_vocab(workdir: str, data_cfg):
  """The vocabulary a run in `workdir` was trained with (for evaluation)."""
  saved = RunDir(workdir).vocab_info()
  if saved is None:
    if data_cfg.vocab == "byte":
      return ByteVocab()
    raise DataError(f"{workdir} has no {RUN_VOCAB_JSON}, so its data.vocab={data_cfg.vocab} "
                    "cannot be recovered; evaluate a run made by this version")
  if saved.get("file"):
    return _saved_spm(workdir, saved)
  return ByteVocab()


def train_batches(dataset, cfg) -> Batches:
  if isinstance(dataset, SyntheticData):
    return dataset.train_batches(cfg.data.seq_len, cfg.train.batch_size, cfg.train.seed)
  return Batches(dataset.tokens("train"), cfg.data.seq_len, cfg.train.batch_size,
                 cfg.train.seed, max_tokens=cfg.data.max_train_tokens,
                 source=dataset.source)


def _split_tokens(dataset, split: str, max_tokens: int):
  """A split's tokens, or the first `max_tokens` of them (the D a run trains on)."""
  if split not in dataset.manifest["splits"]:
    raise DataError(f"split {split!r} is unknown; use train or validation")
  tokens = dataset.tokens(split)
  return tokens[:max_tokens] if max_tokens else tokens


def evaluation_batches(dataset, cfg, *, n_batches: int, process_index: int = 0,
                       process_count: int = 1, split: str = "validation",
                       clip: bool = True, progress: bool = False,
                       max_tokens: int = 0) -> list:
  """The fixed evaluation batches of a split (of its first `max_tokens` tokens
  if > 0); with `clip`, fewer than `n_batches` where it is short (said on
  stderr with `progress`)."""
  if isinstance(dataset, SyntheticData):
    return dataset.eval_batches(cfg.data.seq_len, cfg.train.batch_size, n_batches,
                                process_index, process_count)
  sets = eval_batches(_split_tokens(dataset, split, max_tokens), cfg.data.seq_len, cfg.train.batch_size,
                      n_batches, process_index=process_index, process_count=process_count,
                      clip=clip, source=dataset.source, split=split)
  if progress and len(sets) < n_batches:
    print(f"note: the {split} split of {dataset.source} holds {len(sets)} batches of "
          f"{cfg.train.batch_size}x{cfg.data.seq_len + 1} tokens; evaluating on those "
          f"instead of eval.batches={n_batches}", file=sys.stderr)
  return sets


def position_batches(dataset, cfg, *, process_index: int = 0, process_count: int = 1,
                     split: str = "validation", stride: int | None = None,
                     n_batches: int = 0, max_tokens: int = 0) -> Iterable[dict]:
  """The per-position evaluation's batches: with eval.position_stride (or
  `stride`) S > 0, windows starting every S tokens over as much of the split as
  the regular evaluation reads (`n_batches`, default eval.batches, x
  train.batch_size sequences); with S = 0 (or synthetic data), the regular
  evaluation batches."""
  stride = cfg.eval.position_stride if stride is None else stride
  n_batches = n_batches or cfg.eval.batches
  if not stride or isinstance(dataset, SyntheticData):
    return evaluation_batches(dataset, cfg, n_batches=n_batches, split=split,
                              process_index=process_index, process_count=process_count,
                              max_tokens=max_tokens)
  span = n_batches * cfg.train.batch_size * (cfg.data.seq_len + 1)
  return window_batches(_split_tokens(dataset, split, max_tokens), cfg.data.seq_len, cfg.train.batch_size,
                        stride, span, process_index=process_index,
                        process_count=process_count, source=dataset.source, split=split)


def extra_eval_sets(cfg, vocab, *, process_index: int = 0, process_count: int = 1,
                    progress: bool = True) -> dict:
  """{name: (batches, tokens_per_byte)} of each extra evaluation set
  (eval_sets_of), in the run's vocabulary, from its validation split (fewer
  batches if it is short)."""
  out = {}
  for name, spec in eval_sets_of(cfg.eval):
    store = open_dataset(cfg.data, source=spec, vocab=vocab, progress=progress)
    sets = evaluation_batches(store, cfg, n_batches=cfg.eval.batches, progress=progress,
                              process_index=process_index, process_count=process_count)
    out[name] = (sets, store.tokens_per_byte("validation"))
  return out
