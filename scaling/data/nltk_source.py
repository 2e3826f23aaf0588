"""`nltk:CORPUS[,CORPUS...][:tune]`: corpora of an NLTK data directory.

Reads the plain-text corpora NLTK's downloader installs (`corpora/NAME.zip`,
or the unzipped `corpora/NAME/`) from `data.nltk_data`, else the first
directory of $NLTK_DATA (or NLTK's usual places, ~/nltk_data first) that
holds them; nothing is imported from nltk itself. Each corpus is decoded with
the encoding NLTK's own reader uses and cut into documents:

  brown          one document per sample (500), `word/TAG` tokens with the tags stripped
  movie_reviews  one per review (2,000)
  abc            one per story (blank-line separated blocks of its two files)
  state_union    one per address (65)
  inaugural      one per address (59)
  webtext        one per line (each file is a list: posts, ads, reviews, lines of a script)

Each distinct text is one document (webtext repeats some lines); its split is
fixed by a hash of the text: one in 20 is `validation`,
another one in 20 is the tuning split, the rest train. `nltk:...:tune` is the
same corpora with the tuning documents as its validation split (for an
`eval.datasets` entry that picks hyper-parameters: never a data.source).
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from typing import Iterator

from scaling.data.errors import DataError
from scaling.data.text_source import SourceOptions, TextSource, VALIDATION_EVERY

_FORMAT = "nltk-v1"
TUNE = "tune"
TUNE_BUCKET = 1  # hash bucket of the tuning documents (bucket 0 is validation)

# corpus -> (encoding NLTK's reader uses, or {file stem: encoding}; how its files
# become documents: "file", "block" or "line")
CORPORA = {
    "brown": ("ascii", "tagged"),
    "movie_reviews": ("ascii", "file"),
    "abc": ({"science": "latin-1", "rural": "utf-8"}, "block"),
    "state_union": ("iso-8859-2", "file"),
    "inaugural": ("latin-1", "file"),
    "webtext": ("iso-8859-2", "line"),
}
_SKIP = ("README", "CONTENTS", "cats.txt")


def parse_spec(spec: str) -> tuple[list[str], str]:
  """(corpora, part) of `nltk:brown,abc[:tune]`; DataError for a bad spec."""
  rest = spec.partition(":")[2]
  names, _, part = rest.partition(":")
  corpora = [n.strip() for n in names.split(",") if n.strip()]
  unknown = [n for n in corpora if n not in CORPORA]
  if not corpora or unknown:
    raise DataError(f"{spec}: " + (f"unknown corpus {unknown[0]!r}; " if unknown else
                                   "names no corpus; ")
                    + f"use some of {', '.join(CORPORA)} (e.g. nltk:brown,abc)")
  if part not in ("", TUNE):
    raise DataError(f"{spec}: ':{part}' is unknown; the only part is ':{TUNE}' "
                    "(the tuning documents as the validation split)")
  if len(set(corpora)) != len(corpora):
    raise DataError(f"{spec}: names a corpus twice")
  return corpora, part


def search_path(options: SourceOptions) -> list[str]:
  """Where to look for corpora: data.nltk_data, else $NLTK_DATA, then NLTK's defaults."""
  if options.nltk_data:
    return [os.path.expanduser(options.nltk_data)]
  env = [p for p in os.environ.get("NLTK_DATA", "").split(os.pathsep) if p]
  return env + [os.path.expanduser("~/nltk_data"), "/usr/share/nltk_data",
                "/usr/local/share/nltk_data", "/usr/lib/nltk_data", "/usr/local/lib/nltk_data"]


def _find(corpus: str, path: list[str]) -> str | None:
  for root in path:
    for candidate in (os.path.join(root, "corpora", f"{corpus}.zip"),
                      os.path.join(root, "corpora", corpus)):
      if os.path.exists(candidate):
        return candidate
  return None


def _members(location: str, corpus: str) -> list[tuple[str, bytes]]:
  """(file name, bytes) of a corpus's text files, sorted by name."""
  if location.endswith(".zip"):
    with zipfile.ZipFile(location) as z:
      names = sorted(n for n in z.namelist() if not n.endswith("/"))
      files = [(n.partition("/")[2], z.read(n)) for n in names]
  else:
    files = []
    for dirpath, _, filenames in sorted(os.walk(location)):
      for f in sorted(filenames):
        full = os.path.join(dirpath, f)
        with open(full, "rb") as fh:
          files.append((os.path.relpath(full, location), fh.read()))
  return [(n, b) for n, b in files
          if os.path.basename(n) not in _SKIP and not os.path.basename(n).startswith(".")]


def strip_tags(text: str) -> str:
  """Brown's `word/TAG` tokens as words (the tag is after the last '/'), one
  sentence a line, as NLTK's tagged reader gives them."""
  lines = []
  for line in text.splitlines():
    words = [tok.rpartition("/")[0] or tok for tok in line.split()]
    if words:
      lines.append(" ".join(words))
  return "\n".join(lines)


def _encoding(encoding, name: str) -> str:
  if isinstance(encoding, dict):
    stem = os.path.splitext(os.path.basename(name))[0]
    return encoding.get(stem, "utf-8")
  return encoding


def corpus_documents(corpus: str, files: list[tuple[str, bytes]]) -> Iterator[str]:
  """The documents of one corpus, in file order."""
  encoding, unit = CORPORA[corpus]
  for name, data in files:
    text = data.decode(_encoding(encoding, name), errors="replace")
    if unit == "tagged":
      yield strip_tags(text)
    elif unit == "file":
      yield text
    elif unit == "line":
      yield from text.splitlines()
    else:
      yield from text.replace("\r\n", "\n").split("\n\n")


def bucket(doc: str) -> int:
  """A document's hash bucket (0 .. VALIDATION_EVERY - 1); 0 is validation, as
  sources.is_validation has it."""
  digest = hashlib.sha1(doc.encode("utf-8")).digest()
  return int.from_bytes(digest[:4], "little") % VALIDATION_EVERY


def in_split(doc: str, split: str, part: str) -> bool:
  """Whether a (stripped) document belongs to `split` of the spec's `part`."""
  b = bucket(doc)
  if part == TUNE:
    return b == TUNE_BUCKET  # both splits: the tuning documents (evaluation only)
  return b == 0 if split == "validation" else b not in (0, TUNE_BUCKET)


def _missing(corpora: list[str], path: list[str]) -> DataError:
  where = path[0] if path else "~/nltk_data"
  return DataError(
      f"NLTK corpora {', '.join(corpora)} not found in {', '.join(path[:2])}; install them "
      f"with `python -m nltk.downloader -d {where} {' '.join(corpora)}` (or point "
      "NLTK_DATA or data.nltk_data at an NLTK data directory)")


def nltk_source(spec: str, options: SourceOptions) -> TextSource:
  corpora, part = parse_spec(spec)
  path = search_path(options)
  locations = {c: _find(c, path) for c in corpora}
  missing = [c for c, loc in locations.items() if loc is None]
  if missing:
    raise _missing(missing, path)
  files = {c: _members(locations[c], c) for c in corpora}
  h = hashlib.sha256(_FORMAT.encode())
  for c in corpora:
    for name, data in files[c]:
      h.update(f"{c}/{name}:{len(data)}:".encode())
      h.update(hashlib.sha256(data).digest())
  fingerprint = f"nltk-{h.hexdigest()[:16]}" + (f"-{TUNE}" if part else "")

  def documents(split):
    seen = set()
    for c in corpora:
      for doc in corpus_documents(c, files[c]):
        doc = doc.strip()
        key = hashlib.sha1(doc.encode("utf-8")).digest()
        if doc and key not in seen and in_split(doc, split, part):
          seen.add(key)
          yield doc

  return TextSource(name=spec, fingerprint=fingerprint, documents=documents,
                    split_hint="one document in 20 is held out by a hash of its text; "
                               "name corpora with more documents",
                    data_hint=str(_missing(corpora, path)))
