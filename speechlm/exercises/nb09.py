"""Exercises of notebook 09 (GPT): the causal mask, top-k filtering, perplexity."""

from __future__ import annotations

import numpy as np

from speechlm.exercises import Exercise, allclose, equal, register


def _causal_mask(time: int) -> np.ndarray:
    return np.tril(np.ones((time, time), dtype=bool))


def _causal_cases(rng: np.random.Generator):
    yield (1,)
    yield (4,)
    yield (int(rng.integers(5, 40)),)


def _top_k(logits: np.ndarray, k: int) -> np.ndarray:
    kth = np.sort(logits)[-k]
    return np.where(logits < kth, -np.inf, logits)


def _top_k_cases(rng: np.random.Generator):
    yield (np.array([1.0, 3.0, 2.0, -1.0]), 2)
    yield (np.array([0.5, 0.1]), 2)
    for _ in range(4):
        vocab = int(rng.integers(3, 60))
        yield (rng.normal(size=vocab), int(rng.integers(1, vocab + 1)))


def _perplexity(log_probs: np.ndarray) -> float:
    return float(np.exp(-np.mean(log_probs)))


def _perplexity_cases(rng: np.random.Generator):
    yield (np.log(np.full(5, 0.25)),)
    yield (np.log(np.array([0.5, 0.1, 0.9])),)
    for _ in range(4):
        yield (np.log(rng.uniform(0.01, 1.0, size=int(rng.integers(1, 50)))),)


register(
    Exercise(
        id="09.causal_mask",
        prompt="""
Write `causal_mask(time)`: a (time, time) NumPy bool array that is True where
query position i may attend to key position j, that is when j <= i.
""",
        reference=_causal_mask,
        cases=_causal_cases,
        hint="np.tril of a matrix of ones, as bool.",
        compare=equal,
    )
)

register(
    Exercise(
        id="09.top_k",
        prompt="""
Write `top_k(logits, k)`: given a 1-D NumPy array of logits, return a copy in
which every logit smaller than the k-th largest is replaced by -inf (ties with
the k-th largest are kept). Sampling from the softmax of the result draws only
among the k most likely tokens.
""",
        reference=_top_k,
        cases=_top_k_cases,
        hint="kth = np.sort(logits)[-k]; np.where(logits < kth, -np.inf, logits).",
        compare=allclose(rtol=0, atol=0),
    )
)

register(
    Exercise(
        id="09.perplexity",
        prompt="""
Write `perplexity(log_probs)`: given the natural-log probabilities a language
model gave to each token of a text (a 1-D NumPy array), return the perplexity,
exp of the mean negative log-probability, as a float.
""",
        reference=_perplexity,
        cases=_perplexity_cases,
        hint="np.exp(-np.mean(log_probs)).",
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)
