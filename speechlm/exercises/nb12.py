"""Exercises of notebook 12 (CTC fine-tuning): the extended target, greedy collapse and CER."""

from __future__ import annotations

import numpy as np

from speechlm import metrics
from speechlm.exercises import Exercise, allclose, equal, register


def _extend(labels: list[int]) -> list[int]:
    out = [0]
    for label in labels:
        out += [label, 0]
    return out


def _collapse(path: list[int]) -> list[int]:
    out = []
    for i, c in enumerate(path):
        if c != 0 and (i == 0 or c != path[i - 1]):
            out.append(c)
    return out


def _label_cases(rng: np.random.Generator):
    yield ([1, 2, 3],)
    yield ([4],)
    yield ([],)
    yield ([int(x) for x in rng.integers(1, 6, size=9)],)


def _path_cases(rng: np.random.Generator):
    yield ([0, 1, 1, 0, 1, 2, 2, 0, 3],)
    yield ([0, 0, 0],)
    yield ([5, 5, 5, 5],)
    yield ([int(x) for x in rng.integers(0, 4, size=30)],)


def _cer_cases(rng: np.random.Generator):
    yield ("turn on the light", "turn of the light")
    yield ("abc", "")
    yield ("abc", "xabcx")
    yield ("kitchen", "kichen")
    letters = np.array(list("abcd"))

    def words(n: int) -> str:  # single spaces, none at the ends: jiwer strips them before scoring
        return " ".join("".join(rng.choice(letters, size=int(rng.integers(1, 6)))) for _ in range(n))

    yield (words(4), words(3))


register(
    Exercise(
        id="12.extend",
        prompt="""
Write `extend(labels)` that returns CTC's extended target as a list: a blank (0)
before, between and after the labels, so [1, 2, 3] -> [0, 1, 0, 2, 0, 3, 0]
(length 2S + 1; an empty target gives [0]).
""",
        reference=_extend,
        cases=_label_cases,
        hint="Start from [0] and append each label followed by a 0.",
        compare=equal,
    )
)

register(
    Exercise(
        id="12.collapse",
        prompt="""
Write `collapse_path(path)`: the CTC collapsing function B. Given a list of per-frame
label ids (0 is the blank), merge runs of repeated ids, then drop the blanks:
[0, 1, 1, 0, 1, 2, 2, 0, 3] -> [1, 1, 2, 3]. Note that a blank between two equal
labels keeps them apart.
""",
        reference=_collapse,
        cases=_path_cases,
        hint="Keep path[i] when it is not 0 and differs from path[i - 1] (or i == 0). "
        "Merge first, then drop blanks: dropping first would merge 1, 0, 1 into one 1.",
        compare=equal,
    )
)

register(
    Exercise(
        id="12.cer",
        prompt="""
Write `cer(reference, hypothesis)` for one pair of strings: the Levenshtein
distance between them in characters (substitutions + deletions + insertions,
each costing 1, spaces included) divided by the length of the reference.
Check it against `speechlm.metrics.cer`, which calls jiwer.
""",
        reference=metrics.cer,
        cases=_cer_cases,
        hint="Dynamic programming: d[i][j] = min(d[i-1][j] + 1, d[i][j-1] + 1, "
        "d[i-1][j-1] + (ref[i-1] != hyp[j-1])), with d[i][0] = i and d[0][j] = j; "
        "return d[len(ref)][len(hyp)] / len(ref).",
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)
