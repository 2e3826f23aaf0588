"""`tfds:` sources, and the helpers `seqio:` sources (seqio_source.py) share.
Everything here imports TensorFlow, lazily: a spec's fingerprint is computed
without it, so opening an existing token store of these sources stays
TensorFlow-free.

  tfds:NAME[/CONFIG][:VERSION]   read through seqio.TfdsDataSource; the text
                                 feature is data.feature or, by default, `text`
                                 (else the one feature whose name has "text")
Their documents are re-tokenised with the run's vocabulary.
"""

from __future__ import annotations

import functools
import re

from scaling.data.errors import DataError
from scaling.data.text_source import SourceOptions, TextSource

FINGERPRINT_VERSION = "v1"
_TFDS_NAME = re.compile(r"[a-z0-9_]+(/[A-Za-z0-9_.+-]+)?")


def require_seqio(spec: str):
  try:
    import seqio  # pylint: disable=g-import-not-at-top
    import tensorflow_datasets  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    raise DataError(f"{spec}: needs seqio and tensorflow-datasets; "
                    "pip install 'scaling[data]'") from None
  return seqio


def options_key(options: SourceOptions) -> str:
  return "|".join((options.feature, options.train_split, options.validation_split))


def pick_feature(spec: str, names, text_names, wanted: str, what: str) -> str:
  """`wanted` if given, else "text", else the one text feature whose name has
  "text", else the only text feature."""
  names, text_names = sorted(names), sorted(text_names)
  if wanted:
    if wanted not in names:
      raise DataError(f"{spec}: {what} has no feature {wanted!r}; its features are "
                      f"{', '.join(names)}: set data.feature to one of them")
    if wanted not in text_names:
      raise DataError(f"{spec}: feature {wanted!r} of {what} is not text; its text "
                      f"features are {', '.join(text_names) or 'none'}: set data.feature")
    return wanted
  if "text" in text_names:
    return "text"
  candidates = ([n for n in text_names if "text" in n]
                or (text_names if len(text_names) == 1 else []))
  if len(candidates) != 1:
    raise DataError(f"{spec}: cannot tell which feature of {what} is the text "
                    f"({', '.join(names)}); set data.feature")
  return candidates[0]


def _is_string(np_dtype) -> bool:
  import numpy as np  # pylint: disable=g-import-not-at-top
  try:
    return np.dtype(np_dtype).kind in "OSU"
  except TypeError:
    return False


def validation_split(spec: str, available, options: SourceOptions) -> str:
  if options.validation_split:
    return options.validation_split
  available = set(available)
  if not available or "validation" in available:
    return "validation"
  if "test" in available:
    return "test"
  raise DataError(f"{spec}: has no validation or test split (only "
                  f"{', '.join(sorted(available))}); set data.validation_split, "
                  "e.g. to 'train[-1%:]' with data.train_split='train[:99%]'")


def decode_all(dataset):
  for text in dataset.as_numpy_iterator():
    yield text.decode("utf-8", errors="replace")


def tfds_source(spec: str, options: SourceOptions) -> TextSource:
  rest = spec.partition(":")[2].strip()
  name, _, version = rest.partition(":")
  if not _TFDS_NAME.fullmatch(name) or (version and not re.fullmatch(r"[0-9*.]+", version)):
    raise DataError(f"{spec}: is not tfds:NAME[/CONFIG][:VERSION], e.g. tfds:lm1b, "
                    "tfds:c4/en:3.1.0, tfds:wiki40b/en")
  tfds_name = f"{name}:{version or '*.*.*'}"
  data_dir = options.tfds_data_dir or None
  fingerprint = f"tfds-{tfds_name}|{options_key(options)}|{FINGERPRINT_VERSION}"
  data_hint = (f"prepare it where there is network with `tfds build {name}` and copy it, "
               "or point data.tfds_data_dir (or $TFDS_DATA_DIR) at a prepared copy, "
               "e.g. gs://BUCKET/tensorflow_datasets")

  @functools.lru_cache(maxsize=None)
  def resolve():
    """(feature, {our split: TFDS split}) from the dataset's info."""
    require_seqio(spec)
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    try:
      builder = tfds.builder(tfds_name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
      raise DataError(f"{spec}: TFDS has no dataset {name.split('/')[0]!r}; check the name "
                      "against the TFDS catalog (`tfds.list_builders()`)") from None
    except (ValueError, AssertionError) as e:  # unknown config or version
      reason = str(e).splitlines()[0].rstrip(" :;")
      raise DataError(f"{spec}: {reason}; check the config and version against the "
                      "TFDS catalog") from None
    features = builder.info.features
    strings = [k for k, v in features.items()
               if _is_string(getattr(v, "np_dtype", None)) and tuple(getattr(v, "shape", ())) == ()]
    feature = pick_feature(spec, list(features), strings, options.feature,
                            f"TFDS dataset {tfds_name}")
    splits = {"train": options.train_split,
              "validation": validation_split(spec, builder.info.splits.keys(), options)}
    return feature, splits

  def seqio_source():
    seqio = require_seqio(spec)
    feature, splits = resolve()
    source = seqio.TfdsDataSource(tfds_name, tfds_data_dir=data_dir, splits=splits,
                                  read_only=True)
    return source, [functools.partial(seqio.preprocessors.rekey, key_map={"text": feature})]

  def documents(split):
    source, _ = seqio_source()
    feature, _ = resolve()
    ds = source.get_dataset(split, shuffle=False, seed=0)
    return decode_all(ds.map(lambda ex: ex[feature]))

  return TextSource(name=spec, fingerprint=fingerprint, documents=documents,
                    seqio_source=seqio_source, needs_seqio=True, data_hint=data_hint)
