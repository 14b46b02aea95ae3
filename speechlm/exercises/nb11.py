"""Exercises of notebook 11 (speech pretraining): masking, cosine logits and InfoNCE."""

from __future__ import annotations

import numpy as np
import torch

from speechlm.exercises import Exercise, allclose, register
from speechlm.ssl.hubert import cosine_logits


def _mask_fraction(p: float, span: int) -> float:
    return 1.0 - (1.0 - p) ** span


def _fraction_cases(rng: np.random.Generator):
    yield (0.08, 10)
    yield (0.13, 5)
    yield (0.0, 3)
    yield (float(rng.uniform(0.01, 0.3)), int(rng.integers(1, 15)))


def _cosine_reference(projected: np.ndarray, embeddings: np.ndarray, temperature: float) -> np.ndarray:
    return cosine_logits(torch.from_numpy(projected), torch.from_numpy(embeddings), temperature).numpy()


def _cosine_cases(rng: np.random.Generator):
    yield (np.array([[3.0, 0.0]]), np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]]), 0.1)
    yield (rng.standard_normal((5, 4)), rng.standard_normal((7, 4)), 0.1)
    yield (rng.standard_normal((2, 8)), rng.standard_normal((3, 8)), 0.5)


def _info_nce(context: np.ndarray, candidates: np.ndarray, temperature: float) -> float:
    c = context / np.linalg.norm(context)
    q = candidates / np.linalg.norm(candidates, axis=1, keepdims=True)
    logits = q @ c / temperature
    return float(-(logits[0] - np.log(np.sum(np.exp(logits - logits.max()))) - logits.max()))


def _nce_cases(rng: np.random.Generator):
    yield (np.array([1.0, 0.0]), np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]), 0.1)
    yield (rng.standard_normal(6), rng.standard_normal((11, 6)), 0.1)
    yield (rng.standard_normal(3), rng.standard_normal((4, 3)), 1.0)


register(
    Exercise(
        id="11.mask_fraction",
        prompt="""
Write `mask_fraction(p, span)`: each frame starts a masked span of `span` frames
with probability `p`, independently (spans may overlap). Far from the edges,
what fraction of frames ends up masked? (HuBERT: p = 0.08, span = 10.)
""",
        reference=_mask_fraction,
        cases=_fraction_cases,
        hint="A frame stays unmasked only if none of the `span` frames that could cover it "
        "(itself and the span - 1 before it) starts a span.",
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)

register(
    Exercise(
        id="11.cosine_logits",
        prompt="""
Write `cosine_logits(projected, embeddings, temperature)` with NumPy: `projected`
is (n, d), `embeddings` is (K, d); return the (n, K) matrix of cosine similarities
between every row of `projected` and every cluster embedding, divided by `temperature`.
These are HuBERT's logits over the K cluster targets.
""",
        reference=_cosine_reference,
        cases=_cosine_cases,
        hint="Divide each row by its norm (np.linalg.norm(..., axis=1, keepdims=True)), "
        "then a matrix product with the transposed normalised embeddings.",
        compare=allclose(rtol=1e-5, atol=1e-5),
    )
)

register(
    Exercise(
        id="11.info_nce",
        prompt="""
Write `info_nce(context, candidates, temperature)`: wav2vec 2.0's contrastive loss
for one masked frame. `context` is the Transformer output c_t, shape (d,);
`candidates` is (1 + K, d), the true quantised frame first, then K distractors.
Return -log softmax(cos(c_t, candidates) / temperature)[0] as a float.
""",
        reference=_info_nce,
        cases=_nce_cases,
        hint="Cosines as in 11.cosine_logits; then the cross-entropy with target 0: "
        "-(logits[0] - log(sum(exp(logits)))), computed stably by subtracting the max.",
        compare=allclose(rtol=1e-6, atol=1e-8),
    )
)
