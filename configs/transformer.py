"""Decoder-only Transformer language model (Kaplan et al. 2020, Section 2).

Variants, comma-separated after the file name:
  size=nano|micro|tiny|mini|small|medium|base|large|xl   model shape (scaling.config.SIZES)
  runlocal                                                shrink training for a laptop CPU

  scaling-train --config configs/transformer.py:size=tiny --workdir runs/tiny
  scaling-train --config configs/transformer.py:size=base,runlocal --workdir runs/b
"""

from scaling import config as configlib


def get_config(arg=None):
  return configlib.variant_config(arg, kind="transformer")
