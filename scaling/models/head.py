"""What every language model here shares: logits from the final activations."""

from __future__ import annotations


class LanguageModelHead:
  """Mixin for models with `embed`, optional `unembed`, `shape.tie_embeddings`
  and a `hidden(tokens_BxT, rngs)` giving the final activations; `shape.n_ctx`
  bounds the sequence length."""

  def check_length(self, tokens_BxT) -> int:
    """The sequence length T, refused when longer than model.n_ctx."""
    t = tokens_BxT.shape[1]
    if t > self.shape.n_ctx:
      raise ValueError(
          f"sequence of {t} tokens is longer than model.n_ctx={self.shape.n_ctx}; "
          "shorten data.seq_len or raise model.n_ctx")
    return t

  def logits(self, x_BxTxD):
    """Logits over the padded vocabulary, in the compute dtype."""
    if self.shape.tie_embeddings:
      return self.embed.attend(x_BxTxD)
    return self.unembed(x_BxTxD)

  def __call__(self, tokens_BxT, rngs=None):
    return self.logits(self.hidden(tokens_BxT, rngs))
