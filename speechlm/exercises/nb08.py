"""Exercises of notebook 08 (BERT): how many tokens are masked, the 80/10/10 rule, token types, MLM loss."""

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
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0], [999.0, 1000.0, 0.0]])
    yield (logits, np.array([1, -100, 0]))  # logits around 1000: a naive exp overflows


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
        hints=(
            "Start from the expected number, mlm_prob times n_ordinary, rounded to the nearest integer; "
            "then think about very short and very long sequences.",
            "A short sequence would otherwise get no masked token at all: choose at least one, and never "
            "more than there are ordinary tokens. Python's built-in rounding sends halves to the even "
            "neighbour (2.5 becomes 2), and so does the package; truncating instead is wrong for 1.5.",
        ),
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
        hints=(
            "Count the tokens of each segment with the special tokens: which of [CLS], [SEP] and [SEP] "
            "belong to A, which to B?",
            "Segment A is [CLS], the len_a pieces and its [SEP]: len_a + 2 tokens of type 0. Segment B is "
            "the len_b pieces and the final [SEP]: len_b + 1 tokens of type 1. Return one list of ints.",
        ),
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
        hints=(
            "Only the chosen positions count: select the rows whose label is not -100 before anything else.",
            "For each selected row take the log-softmax, the logits minus the log of the sum of their "
            "exponentials, and pick the entry of the row's label; the loss is minus the mean of these.",
            "Subtract each row's largest logit before exponentiating: logits around 1000 overflow otherwise.",
        ),
        compare=allclose(rtol=1e-6, atol=1e-8),
    )
)


def _corrupt(ids, chosen, u, random_ids, mask_id):
    corrupted = np.where(chosen & (u < 0.8), mask_id, ids)
    corrupted = np.where(chosen & (u >= 0.8) & (u < 0.9), random_ids, corrupted)
    return corrupted, np.where(chosen, ids, -100)


def _corrupt_cases(rng: np.random.Generator):
    ids = np.array([5, 6, 7, 8, 9, 10])
    yield (ids, np.array([True, True, True, False, False, True]), np.array([0.1, 0.85, 0.95, 0.1, 0.85, 0.5]),
           np.array([20, 21, 22, 23, 24, 25]), 4)  # fmt: skip
    # the edges of the ranges: 0.8 is random, 0.9 is kept
    yield (ids[:3], np.ones(3, dtype=bool), np.array([0.8, 0.9, 0.0]), np.array([30, 31, 32]), 4)
    for time in (12, 40):
        yield (
            rng.integers(5, 100, size=time),
            rng.random(time) < 0.3,
            rng.random(time),
            rng.integers(5, 100, size=time),
            int(rng.integers(1, 5)),
        )


register(
    Exercise(
        id="08.corrupt",
        prompt="""
BERT's 80/10/10 rule (section 2), with its random draws given so that the answer is exact.
Write `corrupt(ids, chosen, u, random_ids, mask_id)`: ids (time,) are the token ids; chosen
(time,) bool marks the positions chosen for masked-language modelling; u (time,) are uniform
draws in [0, 1), one per position; random_ids (time,) a random ordinary token for each position.
A chosen position becomes mask_id when u < 0.8, becomes random_ids at that position when
0.8 <= u < 0.9, and keeps its token when u >= 0.9; a position that is not chosen never changes.
Return (corrupted, labels), two int arrays (time,): labels holds the original id at every chosen
position and -100 elsewhere. Compare with `speechlm.bert.mask_tokens`, which draws u itself.
""",
        reference=_corrupt,
        cases=_corrupt_cases,
        hints=(
            "Decide each position on its own: is it chosen? If it is, which of the three ranges of u is "
            "its draw in?",
            "Three boolean masks do it: chosen with u below 0.8 (mask), chosen with u in [0.8, 0.9) "
            "(random token), everything else (unchanged). The labels depend on chosen only, not on u: the "
            "loss is computed at every chosen position, also where the token was replaced or kept, so "
            "that the model cannot tell which tokens to trust.",
        ),
        compare=equal,
    )
)
