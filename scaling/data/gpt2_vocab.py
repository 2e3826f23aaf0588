"""GPT-2's byte-level BPE (`data.vocab=gpt2`), the paper's tokenizer, via tiktoken.

  gpt2         GPT-2's 50257 ids: the encoding file named by $SCALING_GPT2_BPE,
               else tiktoken's cached r50k_base.tiktoken (GPT-2's ranks), else
               downloaded once into tiktoken's cache
  gpt2:PATH    a BPE file in tiktoken's format (one "base64-token rank" a line)

The ids are the file's ranks, then <|endoftext|> (GPT-2's EOS, also its pad)
right after them: 50256 ranks + 1 = 50257 for GPT-2 itself. Text is split with
GPT-2's regex, and a literal "<|endoftext|>" in a document is ordinary text.
Like SentencePiece models, the vocab's `name` is a hash of the file, so token
stores are keyed by content; the run keeps a copy in its workdir.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import urllib.request

from scaling.data.errors import DataError

ENV = "SCALING_GPT2_BPE"
GPT2_VOCAB_SIZE = 50257
EOT = "<|endoftext|>"
URL = "https://openaipublic.blob.core.windows.net/encodings/r50k_base.tiktoken"
SHA256 = "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"
# GPT-2's pre-tokenisation regex (tiktoken's r50k_pat_str).
PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
DOWNLOAD_TIMEOUT_S = 20


def is_gpt2(spec) -> bool:
  return isinstance(spec, str) and (spec == "gpt2" or spec.startswith("gpt2:"))


def _spec_path(spec: str) -> str | None:
  path = spec.partition(":")[2].strip()
  return os.path.expanduser(path) if path else None


def how_to_provide() -> str:
  return (f"download {URL} where there is network and set {ENV}=/path/to/r50k_base.tiktoken "
          "(or data.vocab=gpt2:/path/to/it)")


def spec_error(spec: str) -> str | None:
  """Why a gpt2 spec cannot be used (checked before anything runs), or None."""
  path = _spec_path(spec) or os.environ.get(ENV)
  if path and not os.path.isfile(os.path.expanduser(path)):
    where = f"data.vocab={spec}" if _spec_path(spec) else f"{ENV}"
    return f"{where}: BPE file {path!r} does not exist; " + how_to_provide()
  return None


def _tiktoken_cache_path() -> str | None:
  """Where tiktoken keeps r50k_base.tiktoken (sha1 of its URL), or None if off."""
  cache = os.environ.get("TIKTOKEN_CACHE_DIR", os.environ.get("DATA_GYM_CACHE_DIR"))
  if cache is None:
    import tempfile  # pylint: disable=g-import-not-at-top
    cache = os.path.join(tempfile.gettempdir(), "data-gym-cache")
  if not cache:
    return None
  return os.path.join(cache, hashlib.sha1(URL.encode()).hexdigest())


def _download(url: str) -> bytes:
  with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
    return response.read()


def default_file(spec: str = "gpt2") -> str:
  """The path of GPT-2's encoding file: $SCALING_GPT2_BPE, else tiktoken's
  cache, filled from the network if empty; DataError (one line) if neither."""
  if os.environ.get(ENV):
    return os.path.expanduser(os.environ[ENV])
  cached = _tiktoken_cache_path()
  if cached and os.path.isfile(cached):
    with open(cached, "rb") as f:
      if hashlib.sha256(f.read()).hexdigest() == SHA256:
        return cached
  try:
    data = _download(URL)
  except OSError as e:  # urllib's errors are OSErrors
    reason = getattr(e, "reason", None) or e
    raise DataError(f"data.vocab={spec}: GPT-2's encoding is not cached and cannot be "
                    f"downloaded ({reason}); " + how_to_provide()) from None
  if hashlib.sha256(data).hexdigest() != SHA256:
    raise DataError(f"data.vocab={spec}: the download of {URL} is corrupt (sha256 "
                    "differs); retry, or " + how_to_provide())
  if not cached:
    raise DataError(f"data.vocab={spec}: tiktoken's cache is off (TIKTOKEN_CACHE_DIR is "
                    "empty); " + how_to_provide())
  os.makedirs(os.path.dirname(cached), exist_ok=True)
  tmp = f"{cached}.{os.getpid()}.tmp"
  with open(tmp, "wb") as f:
    f.write(data)
  os.replace(tmp, cached)
  return cached


def read_ranks(path: str, spec: str) -> tuple[dict[bytes, int], str]:
  """(token bytes -> rank, sha256) of a tiktoken BPE file; ranks must be 0..n-1
  and include all 256 single bytes (byte-level BPE encodes any text)."""
  try:
    with open(path, "rb") as f:
      data = f.read()
  except OSError as e:
    raise DataError(f"data.vocab={spec}: cannot read BPE file {path!r} ({e.strerror}); "
                    + how_to_provide()) from None
  ranks = {}
  for number, line in enumerate(data.splitlines(), 1):
    if not line.strip():
      continue
    try:
      token, rank = line.split()
      ranks[base64.b64decode(token, validate=True)] = int(rank)
    except (ValueError, binascii.Error):
      raise DataError(f"data.vocab={spec}: {path!r} line {number} is not 'base64-token "
                      "rank'; give a tiktoken .tiktoken file") from None
  if sorted(ranks.values()) != list(range(len(ranks))):
    raise DataError(f"data.vocab={spec}: the ranks in {path!r} are not 0..{len(ranks) - 1} "
                    "without gaps; give a tiktoken .tiktoken file")
  missing = [b for b in range(256) if bytes([b]) not in ranks]
  if missing:
    raise DataError(f"data.vocab={spec}: {path!r} lacks {len(missing)} single-byte tokens "
                    f"(e.g. {bytes([missing[0]])!r}); a byte-level BPE needs all 256")
  return ranks, hashlib.sha256(data).hexdigest()


class Gpt2Vocab:
  """A byte-level BPE file used through tiktoken with GPT-2's regex and EOS."""

  unk_id = None

  def __init__(self, spec: str = "gpt2", path: str | None = None):
    import tiktoken  # pylint: disable=g-import-not-at-top
    self.spec = spec
    self.path = path or _spec_path(spec) or default_file(spec)
    ranks, self.sha256 = read_ranks(self.path, spec)
    self.eos_id = self.pad_id = len(ranks)
    self.vocab_size = len(ranks) + 1
    self.name = f"gpt2bpe{self.vocab_size}-{self.sha256[:12]}"
    self._enc = tiktoken.Encoding(self.name, pat_str=PATTERN, mergeable_ranks=ranks,
                                  special_tokens={EOT: self.eos_id})

  def encode(self, text: str) -> list[int]:
    return self._enc.encode_ordinary(text)

  def decode(self, ids) -> str:
    return self._enc.decode([int(i) for i in ids if 0 <= i < self.vocab_size])

  def seqio(self):
    from scaling.data.gpt2_seqio import SeqioGpt2  # pylint: disable=g-import-not-at-top
    return SeqioGpt2(self)

  def __repr__(self):
    return f"Gpt2Vocab({self.path!r}, name={self.name!r})"


def vocab_size_of(spec: str) -> int:
  """The number of ids: 50257 for GPT-2's own file, else the given file's."""
  if _spec_path(spec) or os.environ.get(ENV):
    return Gpt2Vocab(spec).vocab_size
  return GPT2_VOCAB_SIZE
