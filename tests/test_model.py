"""The Transformer: shapes, causality, parameter accounting, initial loss."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from scaling import accounting
from scaling import config as configlib
from scaling import formulas
from scaling.models import build_model, padded_vocab
from scaling.train.loss import token_losses


def _model_cfg(size="nano", **kw):
  c = configlib.base_config()
  configlib.apply_size(c, size)
  for k, v in kw.items():
    c.model[k] = v
  return configlib.resolve(c, vocab_size=259, platform="cpu").model


def test_logits_shape_and_padded_vocab():
  cfg = _model_cfg()
  model = build_model(cfg, seed=0)
  tokens = jnp.zeros((3, 17), jnp.int32)
  logits = model(tokens)
  assert logits.shape == (3, 17, padded_vocab(259))
  assert padded_vocab(259) % 128 == 0 and padded_vocab(259) >= 259


def test_sequence_longer_than_n_ctx_is_refused():
  cfg = _model_cfg()
  model = build_model(cfg, seed=0)
  with pytest.raises(ValueError, match="n_ctx"):
    model(jnp.zeros((1, cfg.n_ctx + 1), jnp.int32))


def test_causality_gradient_of_position_t_ignores_later_inputs():
  cfg = _model_cfg("micro")
  model = build_model(cfg, seed=0)
  graphdef, state = nnx.split(model)
  params = nnx.to_pure_dict(state)
  tokens = jax.random.randint(jax.random.key(1), (2, 24), 0, 259)
  t = 9

  def loss_at_t(p):
    logits = nnx.merge(graphdef, p)(tokens[:, :-1])
    return token_losses(logits, tokens[:, 1:], 259)[:, t].sum()

  grad_pos = jax.jit(jax.grad(loss_at_t))(params)["pos_embed"]  # d loss_t / d input_s
  assert np.all(np.asarray(grad_pos[t + 1:]) == 0.0)
  assert np.any(np.asarray(grad_pos[:t + 1]) != 0.0)   # and it does see the past


@pytest.mark.parametrize("size", ["nano", "micro", "tiny", "mini"])
def test_n_counts_exactly_and_matches_the_paper_formula(size):
  cfg = _model_cfg(size)
  params = nnx.to_pure_dict(nnx.split(build_model(cfg, seed=0))[1])
  counts = accounting.count_params(params)
  formula = accounting.n_formula(cfg.n_layer, cfg.d_model, cfg.d_attn, cfg.d_ff)
  matrices = sum(x.size for path, x in jax.tree_util.tree_leaves_with_path(params)
                 if x.ndim == 2 and path[0].key not in accounting.EMBEDDING_KEYS)
  assert matrices == formula  # the paper's N is exactly the weight matrices
  biases_and_norms = cfg.n_layer * (3 * cfg.d_attn + cfg.d_model + cfg.d_ff + cfg.d_model
                                    + 4 * cfg.d_model) + 2 * cfg.d_model
  assert counts["nonembedding"] == formula + biases_and_norms
  if cfg.d_ff == 4 * cfg.d_model and cfg.d_attn == cfg.d_model:  # the sweeps' exact count
    assert counts["nonembedding"] == formulas.transformer_nonembedding(cfg.n_layer, cfg.d_model)
  assert counts["embedding"] == padded_vocab(259) * cfg.d_model + cfg.n_ctx * cfg.d_model


def test_formula_is_12_n_layer_d_model_squared_for_standard_shapes():
  assert accounting.n_formula(12, 768, 768, 3072) == 12 * 12 * 768 ** 2
  n = accounting.n_formula(2, 64, 64, 256)
  assert accounting.c_forward_per_token(n, 2, 128, 64) == 2 * n + 2 * 2 * 128 * 64
  assert accounting.train_flops_per_token(n) == 6 * n


def test_untied_unembedding_counts_as_embedding():
  tied = _model_cfg("nano")
  untied = _model_cfg("nano", tie_embeddings=False)
  count = lambda c: accounting.count_params(
      nnx.to_pure_dict(nnx.split(build_model(c, seed=0))[1]))
  assert count(untied)["nonembedding"] == count(tied)["nonembedding"]
  assert count(untied)["embedding"] == count(tied)["embedding"] + tied.d_model * padded_vocab(259)


def test_untrained_loss_is_about_ln_vocab():
  cfg = _model_cfg("micro")
  model = build_model(cfg, seed=0)
  tokens = jax.random.randint(jax.random.key(2), (8, 65), 0, 259)
  loss = token_losses(model(tokens[:, :-1]), tokens[:, 1:], 259).mean()
  assert abs(float(loss) - math.log(259)) < 0.05


def test_padded_vocabulary_rows_get_no_probability():
  logits = jnp.zeros((1, 1, 8))
  loss = token_losses(logits, jnp.zeros((1, 1), jnp.int32), vocab_size=5)
  assert float(loss[0, 0]) == pytest.approx(math.log(5), rel=1e-6)
