"""GPT from scratch: a causal Transformer language model (notebook 09; reused in 13).

* :class:`GPT`: learned token and position embeddings, pre-LN blocks
  (``x + Attn(LN(x))``, then ``x + MLP(LN(x))`` with GPT-2's tanh-approximated
  GELU), a final LayerNorm and an output layer tied to the token embeddings.
  ``forward(ids, cache=None)``: with a :class:`KVCache` the keys and values of
  earlier tokens are reused instead of recomputed, and the logits are the same.
* :func:`lm_loss`, :func:`train_lm`, :func:`perplexity`: next-token
  cross-entropy, a short training loop on random windows of a token stream, and
  ``exp`` of the mean negative log-likelihood per predicted token.
* :func:`generate` with greedy, temperature, top-k (:func:`top_k_filter`) and
  top-p / nucleus (:func:`top_p_filter`) sampling.
* :func:`to_hf` / :func:`from_hf`: weight conversion to and from
  ``transformers.GPT2LMHeadModel`` (whose ``Conv1D`` stores weights as
  ``(in, out)``, the transpose of ``nn.Linear``); the same weights give the same logits.
"""

from speechlm.gpt.generation import generate, top_k_filter, top_p_filter
from speechlm.gpt.hf import from_hf, to_hf
from speechlm.gpt.model import GPT, GPTConfig, KVCache
from speechlm.gpt.training import lm_loss, perplexity, train_lm

__all__ = [
    "GPT",
    "GPTConfig",
    "KVCache",
    "from_hf",
    "generate",
    "lm_loss",
    "perplexity",
    "to_hf",
    "top_k_filter",
    "top_p_filter",
    "train_lm",
]
