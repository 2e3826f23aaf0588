"""scaling-data: build and inspect token stores.

  scaling-data build --source text:book.txt --vocab spm:1024
  scaling-data info  --source text:book.txt --vocab spm:1024    (or --path STORE_DIR)
  scaling-data list

Stores live in --cache_dir (default $SCALING_CACHE or ~/.cache/scaling) and are
reused by every run with the same source, source options and vocabulary.
Exit codes: 0 done, 1 `info` of a store that is not built, 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys

from scaling.cli import Parser, examples, fail, script
from scaling.data.sources import TEXT_DOCUMENTS


def _add_data_args(p: argparse.ArgumentParser, *, source_required: bool) -> None:
  p.add_argument("--source", required=source_required,
                 help="embedded | text:PATH[,PATH] | tfds:NAME[/CONFIG][:VERSION] | seqio:TASK"
                      " | nltk:CORPUS[,CORPUS][:tune]")
  p.add_argument("--vocab", default="byte", help="byte | spm:SIZE | spm:PATH")
  p.add_argument("--text_documents", default="paragraph", choices=TEXT_DOCUMENTS)
  p.add_argument("--feature", default="", help="tfds:/seqio: text feature (default: auto)")
  p.add_argument("--train_split", default="train")
  p.add_argument("--validation_split", default="")
  p.add_argument("--tfds_data_dir", default="")
  p.add_argument("--nltk_data", default="", help="nltk: an NLTK data directory "
                 "(default: $NLTK_DATA, then ~/nltk_data)")


def _parser() -> argparse.ArgumentParser:
  p = Parser(prog="scaling-data", description=__doc__.split("\n")[0],
             formatter_class=examples.FORMATTER, epilog=examples.epilog(
                 "scaling-data build --source text:README.md --vocab byte"))
  p.add_argument("--cache_dir", default="", help="default: $SCALING_CACHE or ~/.cache/scaling")
  sub = p.add_subparsers(dest="command", required=True)
  build = sub.add_parser("build", help="tokenise a source into a store (once)")
  _add_data_args(build, source_required=True)
  build.add_argument("--force", action="store_true", help="rebuild even if it exists")
  build.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)
  info = sub.add_parser("info", help="sizes, vocab and tokens per byte of a store")
  _add_data_args(info, source_required=False)
  info.add_argument("--path", default="", help="a store directory (instead of --source)")
  info.add_argument("--checksums", action="store_true", help="also verify the checksums")
  sub.add_parser("list", help="the stores and SentencePiece models in the cache")
  return p


def _data_cfg(args):
  from scaling.config import base_config  # pylint: disable=g-import-not-at-top
  d = base_config().data
  for key in ("source", "vocab", "text_documents", "feature", "train_split",
              "validation_split", "tfds_data_dir", "nltk_data", "cache_dir"):
    d[key] = getattr(args, key)
  return d


def describe(store) -> str:
  m = store.manifest
  lines = [f"store       {store.path}",
           f"source      {m['source']}  (fingerprint {m['fingerprint']})",
           f"vocab       {m['vocab']} ({m.get('vocab_spec', m['vocab'])}), "
           f"{m['vocab_size']:,} ids, eos {m['eos_id']}, stored as {m['dtype']}",
           f"tokenizer   {m.get('tokenizer', '?')}, built {m.get('created', '?')}",
           f"{'split':<11} {'documents':>10} {'tokens':>14} {'bytes':>14} {'tokens/byte':>12}"]
  for split, info in m["splits"].items():
    lines.append(f"{split:<11} {info['documents']:>10,} {info['tokens']:>14,} "
                 f"{info['bytes']:>14,} {store.tokens_per_byte(split):>12.4f}")
  bad = m.get("invalid_utf8_bytes", 0)
  lines.append(f"invalid UTF-8: {bad:,} bytes replaced with U+FFFD"
               + (f" ({', '.join(f'{k}: {v:,}' for k, v in m['invalid_utf8_files'].items())})"
                  if bad else ""))
  return "\n".join(lines)


def _find(args):
  """The store named by --path or --source/--vocab, or None if not built."""
  from scaling.data import spm_train, store as storelib  # pylint: disable=g-import-not-at-top
  from scaling.data.sources import SourceOptions, get_source  # pylint: disable=g-import-not-at-top
  from scaling.data.vocab import get_vocab  # pylint: disable=g-import-not-at-top
  if args.path:
    return storelib.open_store(args.path, checksums=args.checksums)
  if not args.source:
    fail("info needs --source SOURCE [--vocab VOCAB] or --path STORE_DIR")
  cfg = _data_cfg(args)
  source = get_source(cfg.source, SourceOptions.from_config(cfg))
  size = args.vocab.partition(":")[2]
  if args.vocab.startswith("spm:") and size.isdigit() and not os.path.exists(
      spm_train.model_path(source, int(size), args.cache_dir or None)):
    return None
  vocab = get_vocab(args.vocab, source=source, cache_dir=args.cache_dir or None)
  store = storelib.find_store(source, vocab, args.cache_dir or None)
  if store is not None and args.checksums:
    store.verify(checksums=True)
  return store


def _list(cache_dir: str) -> None:
  import json  # pylint: disable=g-import-not-at-top
  from scaling.data import store as storelib  # pylint: disable=g-import-not-at-top
  cache_dir = cache_dir or storelib.default_cache_dir()
  stores = storelib.list_stores(cache_dir)
  print(f"token stores in {cache_dir}: {len(stores)}")
  for path, m in stores:
    if m is None:
      print(f"  (incomplete or damaged) {path}")
      continue
    size = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))
    tokens = {s: i["tokens"] for s, i in m["splits"].items()}
    print(f"  {m['source']:<40} {m['vocab']:<22} train {tokens.get('train', 0):>13,} "
          f"validation {tokens.get('validation', 0):>11,} tokens {size / 2**20:>9.1f} MiB  "
          f"{os.path.basename(path)}")
  spm_dir = os.path.join(cache_dir, "spm")
  models = sorted(f for f in os.listdir(spm_dir) if f.endswith(".model")) if os.path.isdir(
      spm_dir) else []
  print(f"SentencePiece models: {len(models)}")
  for f in models:
    try:
      with open(os.path.join(spm_dir, f + ".json")) as fh:
        info = json.load(fh)
      print(f"  {info['source']:<40} spm:{info['size']:<18} {info['train_chars']:>13,} "
            f"characters  {f}")
    except (OSError, ValueError, KeyError):
      print(f"  {f}")


@script
def main(argv=None) -> None:
  args = _parser().parse_args(argv)
  from scaling.data.errors import DataError  # pylint: disable=g-import-not-at-top
  try:
    if args.command == "list":
      _list(args.cache_dir)
    elif args.command == "build":
      from scaling.data import store as storelib  # pylint: disable=g-import-not-at-top
      from scaling.data.sources import SourceOptions, get_source  # pylint: disable=g-import-not-at-top
      from scaling.data.vocab import get_vocab  # pylint: disable=g-import-not-at-top
      cfg = _data_cfg(args)
      if cfg.source == "synthetic":
        fail("synthetic has no store: its tokens are made at each step")
      source = get_source(cfg.source, SourceOptions.from_config(cfg))
      vocab = get_vocab(args.vocab, source=source, cache_dir=args.cache_dir or None,
                        progress=args.progress)
      store = storelib.build_store(source, vocab, args.cache_dir or None,
                                   progress=args.progress, force=args.force)
      print(describe(store))
    else:
      store = _find(args)
      if store is None:
        print(f"not built: {args.source} with {args.vocab}; run scaling-data build "
              f"--source {args.source} --vocab {args.vocab}", file=sys.stderr)
        sys.exit(1)
      print(describe(store))
  except DataError as e:
    fail(str(e))


if __name__ == "__main__":
  main()
