"""A run's data: its vocabulary, training and evaluation batches, extra
evaluation sets. The glue between `data.*` / `eval.*` config and the modules
that do the work; used by the training loop and scaling-eval. The run's own
copy of its vocabulary is the train side's (scaling/train/vocab_files.py).
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
from scaling.data.vocab import get_vocab, vocab_size_of

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
