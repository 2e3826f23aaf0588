"""`text:PATH[,PATH...]`: a user's own corpus from plain or gzipped files.

Each PATH is a file, a glob (`books/**/*.txt`) or a directory (its *.txt,
*.text, *.md, *.rst files, gzipped or not, recursively). Documents are one per
paragraph (blank-line separated, the default), per file or per line
(`data.text_documents`). Invalid UTF-8 is replaced with U+FFFD and counted per
file in the source's `stats`, which the token store's manifest reports.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import zlib
from typing import Iterator

from scaling.data.errors import DataError
from scaling.data.text_source import TEXT_DOCUMENTS, SourceOptions, TextSource, split_documents

TEXT_SUFFIXES = (".txt", ".text", ".md", ".rst")
_FINGERPRINT_VERSION = "text-v1"


def _is_text_name(name: str) -> bool:
  name = name.lower()
  if name.endswith(".gz"):
    name = name[:-3]
  return name.endswith(TEXT_SUFFIXES)


def _text_files_in(directory: str) -> list[str]:
  out = []
  for dirpath, dirnames, filenames in os.walk(directory):
    dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    out += [os.path.join(dirpath, f) for f in sorted(filenames) if _is_text_name(f)]
  return out


def expand_paths(spec: str) -> list[str]:
  """The files `spec` names, in order; raises DataError for a bad part."""
  files, skipped_empty = [], []
  for part in spec.partition(":")[2].split(","):
    part = os.path.expanduser(part.strip())
    if not part:
      continue
    if any(c in part for c in "*?["):
      import glob  # pylint: disable=g-import-not-at-top
      matches = sorted(glob.glob(part, recursive=True))
      if not matches:
        raise DataError(f"{spec}: the glob {part!r} matches no file; check the pattern "
                        "(and quote it so that the shell leaves it alone)")
      found = []
      for m in matches:
        found += _text_files_in(m) if os.path.isdir(m) else [m]
    elif os.path.isdir(part):
      found = _text_files_in(part)
      if not found:
        raise DataError(f"{spec}: directory {part!r} has no text files (*{', *'.join(TEXT_SUFFIXES)}, "
                        "or those gzipped); name the files or a glob such as DIR/*.log instead")
    elif not os.path.exists(part):
      raise DataError(f"{spec}: file {part!r} does not exist; check the path "
                      f"(relative paths start from {os.getcwd()})")
    else:
      if os.path.getsize(part) == 0:
        raise DataError(f"{spec}: file {part!r} is empty; remove it from the source "
                        "or put text in it")
      found = [part]
    for f in found:
      if os.path.getsize(f) == 0:
        skipped_empty.append(f)  # an empty file among many found by a glob or directory
      elif f not in files:
        files.append(f)
  if not files:
    raise DataError(f"{spec}: names only empty files ({', '.join(skipped_empty[:3])}); "
                    "give it files with text")
  return files


def decode_counting(data: bytes) -> tuple[str, int]:
  """UTF-8 text of `data` with each invalid byte sequence replaced by U+FFFD,
  and the number of bytes replaced."""
  try:
    return data.decode("utf-8"), 0
  except UnicodeDecodeError:
    pass
  parts, bad, pos = [], 0, 0
  while pos < len(data):
    try:
      parts.append(data[pos:].decode("utf-8"))
      break
    except UnicodeDecodeError as e:
      parts.append(data[pos:pos + e.start].decode("utf-8"))
      parts.append("\ufffd")
      bad += e.end - e.start
      pos += e.end
  return "".join(parts), bad


def _open(path: str):
  return gzip.open(path, "rb") if path.lower().endswith(".gz") else open(path, "rb")


def _read_lines(spec: str, path: str, stats: dict) -> Iterator[str]:
  """Decoded lines of one file (newline kept); counts invalid UTF-8 into stats."""
  bad = 0
  try:
    with _open(path) as f:
      for raw in f:  # b"\n" never occurs inside a multi-byte UTF-8 sequence
        line, n = decode_counting(raw)
        bad += n
        yield line
  except (OSError, EOFError, zlib.error) as e:
    raise DataError(f"{spec}: cannot read {path!r} ({e}); fix or remove the file") from None
  finally:
    if bad:
      stats.setdefault("invalid_utf8_bytes", {})[path] = bad


def _file_documents(spec, paths, mode, stats) -> Iterator[str]:
  for path in paths:
    if mode == "file":
      yield "".join(_read_lines(spec, path, stats))
      continue
    paragraph = []
    for line in _read_lines(spec, path, stats):
      if mode == "line":
        yield line
      elif line.strip():
        paragraph.append(line)
      elif paragraph:
        yield "".join(paragraph)
        paragraph = []
    if paragraph:
      yield "".join(paragraph)


def text_source(spec: str, options: SourceOptions) -> TextSource:
  mode = options.text_documents
  if mode not in TEXT_DOCUMENTS:
    raise DataError(f"data.text_documents={mode!r} is unknown; use one of "
                    f"{', '.join(TEXT_DOCUMENTS)}")
  paths = expand_paths(spec)
  listing = [[os.path.realpath(p), os.path.getsize(p), os.stat(p).st_mtime_ns] for p in paths]
  fingerprint = hashlib.sha256(
      json.dumps([_FINGERPRINT_VERSION, mode, listing]).encode()).hexdigest()[:16]
  stats: dict = {}

  def documents(split):
    return split_documents(_file_documents(spec, paths, mode, stats), split, dedupe=False)

  hint = ("one document in 20 is held out for validation by a hash of its text, "
          f"and this source has few documents (data.text_documents={mode}); "
          + ("use data.text_documents=paragraph or line, or add files" if mode == "file"
             else "add text"))
  return TextSource(name=spec, fingerprint=f"text-{fingerprint}", documents=documents,
                    split_hint=hint, stats=stats)
