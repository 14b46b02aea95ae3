"""Scoring predicted commands: per-field accuracy, exact match, confusions, the majority baseline
(notebook 14)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from speechlm.voice_commands.data import FIELDS


def top_confusions(predictions: Sequence[dict], references: Sequence[dict], field: str, k: int = 5) -> list:
    """The ``k`` most frequent errors of ``field``: ``[((true, predicted), count)]``, most frequent first."""
    errors = Counter(
        (str(r[field]), _label(p[field]))
        for p, r in zip(predictions, references, strict=True)
        if _label(p[field]) != str(r[field])
    )
    return errors.most_common(k)


def _label(value) -> str:
    return value[0] if isinstance(value, tuple) else str(value)


def slu_scores(
    predictions: Sequence[dict], references: Sequence[dict], fields: Sequence[str] = FIELDS
) -> dict:
    """Accuracy of each field and ``"exact_match"`` (the share with every field right).

    ``predictions``: dicts of labels or of ``(label, probability)`` (as :func:`predict` gives);
    ``references``: label dicts such as ``u.labels``.
    """
    if len(predictions) != len(references) or not references:
        raise ValueError(
            f"need as many predictions as references (>0), got {len(predictions)} and {len(references)}"
        )
    right = np.array(
        [[_label(p[f]) == str(r[f]) for f in fields] for p, r in zip(predictions, references, strict=True)]
    )
    scores = {f: float(right[:, i].mean()) for i, f in enumerate(fields)}
    scores["exact_match"] = float(right.all(axis=1).mean())
    return scores


def majority_baseline(
    train_labels: Sequence[dict], test_labels: Sequence[dict], fields: Sequence[str] = FIELDS
) -> dict:
    """:func:`slu_scores` of always answering each field's most frequent training label."""
    guess = {f: Counter(str(lab[f]) for lab in train_labels).most_common(1)[0][0] for f in fields}
    return slu_scores([guess] * len(test_labels), test_labels, fields)
