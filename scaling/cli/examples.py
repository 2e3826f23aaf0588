"""The closing lines of every argparse tool's --help: a working example."""

from __future__ import annotations

import argparse

FORMATTER = argparse.RawDescriptionHelpFormatter  # keeps the example's lines as written


def epilog(*commands: str, before: str = "") -> str:
  """`before` (if any), then 'example:' and each command indented."""
  lines = "example:\n" + "\n".join(f"  {c}" for c in commands)
  return f"{before}\n\n{lines}" if before else lines
