"""absl flag parsing for the config-file tools (scaling-train, scaling-bench):
a mistyped --config.KEY is one line with a suggestion, not ml_collections'
traceback, and --help ends with a working example.

  app.run(main, flags_parser=flag_parsing.parser(EXAMPLE))
"""

from __future__ import annotations

import difflib
import sys

from absl import app
from absl import flags

HELP = ("--help", "-h", "-?", "--helpshort", "--helpfull")


def _keys(node) -> list[str]:
  try:
    return list(node.keys())
  except AttributeError:
    return []


def unknown_key(config, path: str) -> str | None:
  """'unknown config key train.stepz; did you mean train.steps?' for a dotted
  `path` that `config` lacks, else None."""
  node, done = config, []
  for part in path.split("."):
    keys = _keys(node)
    if part not in keys:
      key = ".".join([*done, part])
      close = difflib.get_close_matches(part, keys, n=1)
      hint = (f"did you mean {'.'.join([*done, close[0]])}?" if close else
              f"{'.'.join(done) or 'the config'} has {', '.join(sorted(keys)[:12])}"
              if keys else f"{'.'.join(done)} is a value, not a section")
      return f"unknown config key {key}; {hint}"
    node, done = node[part], [*done, part]
  return None


def _override_paths(argv, name: str = "config") -> list[str]:
  prefix = f"--{name}."
  return [a[len(prefix):].partition("=")[0] for a in argv if a.startswith(prefix)]


def _config_of(argv, name: str):
  """The config --NAME loads (ml_collections applies the overrides while it
  parses --NAME, so a bad one leaves the flag without a value)."""
  spec = None
  for i, arg in enumerate(argv):
    if arg == f"--{name}" and i + 1 < len(argv):
      spec = argv[i + 1]
    elif arg.startswith(f"--{name}="):
      spec = arg.partition("=")[2]
  if not spec:
    return None
  from scaling.config import load_config_file  # pylint: disable=g-import-not-at-top
  try:
    return load_config_file(spec)
  except Exception:  # pylint: disable=broad-except  # any config file error: no suggestion
    return None


def parser(example: str, name: str = "config"):
  """An absl flags_parser: FLAGS(argv), with the two changes above."""

  def parse(argv):
    if any(a in HELP for a in argv[1:]):
      app.usage(shorthelp="--helpfull" not in argv, writeto_stdout=True)
      print(f"\nexample:\n  {example}")
      sys.exit(0)
    try:
      return flags.FLAGS(argv)
    except (AttributeError, KeyError) as e:  # ml_collections: an override names no key
      config = _config_of(argv, name)
      for path in _override_paths(argv, name) if config is not None else ():
        message = unknown_key(config, path)
        if message:
          print(f"error: {message}", file=sys.stderr)
          sys.exit(2)
      text = str(e).strip("'\"").replace("\\n", " ").replace("\n", " ")
      print(f"error: unknown config key ({text}); see --help", file=sys.stderr)
      sys.exit(2)

  return parse
