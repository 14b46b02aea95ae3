"""Exercises of notebook 08 (BERT): how many tokens are masked, token types, the MLM loss."""

from __future__ import annotations

import numpy as np

from speechlm.exercises import Exercise, allclose, equal, register


def _mask_count(n_ordinary: int, mlm_prob: float) -> int:
    return int(min(n_ordinary, max(1, round(mlm_prob * n_ordinary))))


def _mask_count_cases(rng: np.random.Generator):
    yield (10, 0.15)
    yield (1, 0.15)
    yield (20, 0.15)
    yield (3, 0.5)
    for _ in range(6):
        yield (int(rng.integers(1, 200)), float(rng.choice([0.1, 0.15, 0.2, 0.4])))


def _token_types(len_a: int, len_b: int) -> list[int]:
    return [0] * (len_a + 2) + [1] * (len_b + 1)


def _token_type_cases(rng: np.random.Generator):
    yield (3, 4)
    yield (1, 1)
    for _ in range(5):
        yield (int(rng.integers(1, 20)), int(rng.integers(1, 20)))


def _mlm_loss(logits: np.ndarray, labels: np.ndarray) -> float:
    keep = labels != -100
    z = logits[keep]
    z = z - z.max(axis=-1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return float(-log_probs[np.arange(len(z)), labels[keep]].mean())


def _mlm_loss_cases(rng: np.random.Generator):
    for time, vocab in ((6, 5), (12, 30), (20, 100)):
        logits = rng.normal(0, 3, size=(time, vocab))
        labels = np.full(time, -100)
        chosen = rng.choice(time, size=max(1, time // 5), replace=False)
        labels[chosen] = rng.integers(0, vocab, size=len(chosen))
        yield (logits, labels)


register(
    Exercise(
        id="08.mask_count",
        prompt="""
Write `mask_count(n_ordinary, mlm_prob)`: how many tokens BERT chooses for
masked-language modelling in a sequence with `n_ordinary` ordinary tokens
(specials excluded). It is round(mlm_prob * n_ordinary), but at least one and
at most n_ordinary. Return an int.
""",
        reference=_mask_count,
        cases=_mask_count_cases,
        hint="min(n_ordinary, max(1, round(mlm_prob * n_ordinary))).",
        compare=equal,
    )
)

register(
    Exercise(
        id="08.token_types",
        prompt="""
Write `token_types(len_a, len_b)`: the token_type_ids (a list of ints) of the
pair input `[CLS] A [SEP] B [SEP]`, where sentence A has len_a word pieces and
B has len_b. Segment A (with [CLS] and its [SEP]) has type 0; B and the final
[SEP] have type 1.
""",
        reference=_token_types,
        cases=_token_type_cases,
        hint="[0] * (len_a + 2) + [1] * (len_b + 1).",
        compare=equal,
    )
)

register(
    Exercise(
        id="08.mlm_loss",
        prompt="""
Write `mlm_loss(logits, labels)` in NumPy: logits has shape (time, vocab),
labels shape (time,) with the original token id at masked positions and -100
elsewhere. Return the mean cross-entropy (natural log) over the positions whose
label is not -100, as a float, the MLM part of BERT's pretraining loss.
""",
        reference=_mlm_loss,
        cases=_mlm_loss_cases,
        hint="Keep rows with labels != -100; log-softmax each row (subtract the max first); "
        "average -log p[label].",
        compare=allclose(rtol=1e-6, atol=1e-8),
    )
)
