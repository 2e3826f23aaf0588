"""`seqio:[MODULE:]TASK` sources: any registered seqio Task or Mixture.

The project's own Tasks are in scaling/data/tasks.py; MODULE (a module name or
a .py path) is imported first. A task's documents are re-tokenised with the
run's vocabulary: its text is its `<feature>_pretokenized` copy, or its tokens
decoded. TensorFlow and seqio are imported lazily, as in tfds_source.py.
"""

from __future__ import annotations

import functools
import importlib
import os

from scaling import pyfile
from scaling.data.errors import DataError
from scaling.data.seqio_tokenize import INTERNAL_PREFIX
from scaling.data.text_source import SPLITS, SourceOptions, TextSource
from scaling.data.tfds_source import (FINGERPRINT_VERSION, decode_all, options_key,
                                      pick_feature, require_seqio, validation_split)

PROJECT_TASKS = "scaling.data.tasks"


def load_project_tasks(module: str = "") -> None:
  """Imports scaling/data/tasks.py (the project's Tasks) and `module`, once each."""
  for target in (PROJECT_TASKS, module):
    if target.endswith(".py"):
      pyfile.load(target, "tasks", once=True)
    elif target:
      importlib.import_module(target)


def seqio_task_source(spec: str, options: SourceOptions) -> TextSource:
  rest = spec.partition(":")[2].strip()
  module, _, task_name = rest.rpartition(":")
  fingerprint = f"seqio-{rest}|{options_key(options)}|{FINGERPRINT_VERSION}"

  @functools.lru_cache(maxsize=None)
  def resolve():
    seqio = require_seqio(spec)
    if module and module.endswith(".py") and not os.path.exists(module):
      raise DataError(f"{spec}: module file {module!r} does not exist; check the path")
    try:
      load_project_tasks(module)
    except ImportError as e:
      raise DataError(f"{spec}: cannot import {module!r} ({e}); check the module name") from None
    try:
      provider = seqio.get_mixture_or_task(task_name)
    except ValueError:
      known = sorted(n for n in (*seqio.TaskRegistry.names(), *seqio.MixtureRegistry.names())
                     if n.startswith("scaling") and not n.startswith(INTERNAL_PREFIX))
      raise DataError(f"{spec}: no seqio Task or Mixture is named {task_name!r}; define it "
                      "in scaling/data/tasks.py or name its module as seqio:MODULE:TASK (the "
                      f"project's: {', '.join(known) or 'none'})") from None
    feature = options.feature or (
        "targets" if "targets" in provider.output_features else "")
    feature = pick_feature(spec, provider.output_features, provider.output_features,
                            feature, f"seqio task {task_name}")
    splits = {"train": options.train_split,
              "validation": validation_split(spec, provider.splits, options)}
    return provider, feature, splits

  def dataset_fn(split, shuffle_files=False, seed=None):
    del shuffle_files, seed  # documents keep their order; batches are shuffled later
    seqio = require_seqio(spec)
    provider, feature, splits = resolve()
    kwargs = {"copy_pretokenized": True} if isinstance(provider, seqio.Mixture) else {}
    ds = provider.get_dataset(sequence_length=None, split=splits[split], shuffle=False,
                              num_epochs=1, seed=0, try_in_mem_cache=False, **kwargs)
    vocab = provider.output_features[feature].vocabulary
    def to_text(ex):
      if f"{feature}_pretokenized" in ex:
        return {"text": ex[f"{feature}_pretokenized"]}
      return {"text": vocab.decode_tf(ex[feature])}
    return ds.map(to_text)

  def seqio_source():
    seqio = require_seqio(spec)
    return seqio.FunctionDataSource(dataset_fn, splits=SPLITS), []

  def documents(split):
    return decode_all(dataset_fn(split).map(lambda ex: ex["text"]))

  return TextSource(name=spec, fingerprint=fingerprint, documents=documents,
                    seqio_source=seqio_source, needs_seqio=True,
                    data_hint="make the task's data available (see its DataSource)")
