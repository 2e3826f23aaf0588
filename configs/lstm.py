"""LSTM language model: the recurrent baseline of Kaplan et al. Fig. 7.

Embedding, n_layer LSTM layers of width d_model, final LayerNorm, logits; the
same trainer, outputs and checkpoints as configs/transformer.py. Variants,
comma-separated after the file name:
  size=nano|micro|tiny|mini|small|medium|base|large|xl   n_layer, d_model, n_ctx and batch
                                                          from scaling.config.SIZES
  runlocal                                                shrink training for a laptop CPU

  scaling-train --config configs/lstm.py:size=tiny --workdir runs/lstm-tiny
  scaling-train --config configs/lstm.py:size=micro,runlocal --workdir runs/l \
      --config.model.n_layer=4 --config.model.lstm_impl=scan

model.lstm_impl: auto (cuDNN through jax.experimental.rnn on a GPU, else a
jax.lax.scan), scan or cudnn. d_ff, d_attn and n_heads are ignored.
"""

from scaling import config as configlib


def get_config(arg=None):
  return configlib.variant_config(arg, kind="lstm")
