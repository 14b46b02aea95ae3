"""Unigram and bigram language models with add-k smoothing: the baselines of notebook 09.

A sequence is a list of token ids whose first id is a start token (for
example an end-of-text token): it is conditioned on, never predicted, exactly
as :func:`speechlm.gpt.perplexity` treats it, so perplexities are comparable.

* unigram: ``P(w) = (c(w) + k) / (N + k V)``
* bigram: ``P(w | u) = (c(u, w) + k) / (c(u) + k V)``

where ``c`` counts the predicted tokens (and token pairs) of the training
sequences, ``N`` is the number of predicted tokens, ``V`` the vocabulary size
and ``c(u)`` the number of pairs whose first token is ``u``. Add-k with
``k > 0`` gives every token a non-zero probability, so the perplexity of
unseen text stays finite.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["NGramLM"]


def _check(sequences: Sequence[Sequence[int]], vocab_size: int) -> list[np.ndarray]:
    seqs = [np.asarray(s, dtype=np.int64) for s in sequences]
    if not seqs:
        raise ValueError("expected a non-empty list of token sequences")
    for s in seqs:
        if s.ndim != 1 or len(s) < 2:
            raise ValueError(f"each sequence needs a start token and at least one more, got {s.tolist()!r}")
        if s.min() < 0 or s.max() >= vocab_size:
            raise ValueError(f"token ids must lie in 0..{vocab_size - 1}, got {s.min()}..{s.max()}")
    return seqs


class NGramLM:
    """A unigram (``order=1``) or bigram (``order=2``) model over ``vocab_size`` ids, add-``k`` smoothed.

    >>> lm = NGramLM(order=2, vocab_size=5, k=0.1).fit([[0, 1, 2, 0], [0, 1, 3, 0]])
    >>> round(lm.perplexity([[0, 1, 2, 0]]), 3)
    1.545
    """

    def __init__(self, order: int, vocab_size: int, k: float = 1.0):
        if order not in (1, 2):
            raise ValueError(f"order must be 1 (unigram) or 2 (bigram), got {order}")
        if vocab_size < 1:
            raise ValueError(f"vocab_size must be positive, got {vocab_size}")
        if k <= 0:
            raise ValueError(f"k must be positive (add-k smoothing), got {k}")
        self.order, self.vocab_size, self.k = order, vocab_size, float(k)
        self.unigram: np.ndarray | None = None
        self.pair_keys: np.ndarray | None = None

    def fit(self, sequences: Sequence[Sequence[int]]) -> NGramLM:
        """Count the predicted tokens (and pairs) of ``sequences``; returns ``self``."""
        seqs = _check(sequences, self.vocab_size)
        targets = np.concatenate([s[1:] for s in seqs])
        self.unigram = np.bincount(targets, minlength=self.vocab_size).astype(np.float64)
        contexts = np.concatenate([s[:-1] for s in seqs])
        self.context_counts = np.bincount(contexts, minlength=self.vocab_size).astype(np.float64)
        self.pair_keys, self.pair_counts = np.unique(contexts * self.vocab_size + targets, return_counts=True)
        return self

    def log_probs(self, sequence: Sequence[int]) -> np.ndarray:
        """Natural-log probability of each predicted token of ``sequence`` (``len(sequence) - 1`` values)."""
        if self.unigram is None:
            raise RuntimeError("the model is not fitted yet: call fit(sequences) first")
        (s,) = _check([sequence], self.vocab_size)
        v, k = self.vocab_size, self.k
        if self.order == 1:
            return np.log((self.unigram[s[1:]] + k) / (self.unigram.sum() + k * v))
        keys = s[:-1] * v + s[1:]
        where = np.searchsorted(self.pair_keys, keys).clip(max=len(self.pair_keys) - 1)
        pair = np.where(self.pair_keys[where] == keys, self.pair_counts[where], 0)
        return np.log((pair + k) / (self.context_counts[s[:-1]] + k * v))

    def perplexity(self, sequences: Sequence[Sequence[int]]) -> float:
        """``exp`` of the mean negative log-probability per predicted token."""
        logs = np.concatenate([self.log_probs(s) for s in _check(sequences, self.vocab_size)])
        return math.exp(-float(logs.mean()))
