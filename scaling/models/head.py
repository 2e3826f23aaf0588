"""What every language model here shares: logits from the final activations."""

from __future__ import annotations


class LanguageModelHead:
  """Mixin for models with `embed`, optional `unembed`, `shape.tie_embeddings`
  and a `hidden(tokens_BxT, rngs)` giving the final activations."""

  def logits(self, x_BxTxD):
    """Logits over the padded vocabulary, in the compute dtype."""
    if self.shape.tie_embeddings:
      return self.embed.attend(x_BxTxD)
    return self.unembed(x_BxTxD)

  def __call__(self, tokens_BxT, rngs=None):
    return self.logits(self.hidden(tokens_BxT, rngs))
