"""Evaluation metrics: word and character error rates (through ``jiwer``), accuracy, perplexity.

WER and CER are introduced in notebook 12; accuracy and perplexity are used
from notebook 05 and 09 on. Error rates are corpus-level: total edits
(substitutions + deletions + insertions) over total reference words or
characters, not a mean of per-utterance rates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jiwer
import numpy as np

__all__ = ["accuracy", "cer", "perplexity", "wer"]


def _pair(references: str | Sequence[str], hypotheses: str | Sequence[str]) -> tuple[list[str], list[str]]:
    refs = [references] if isinstance(references, str) else list(references)
    hyps = [hypotheses] if isinstance(hypotheses, str) else list(hypotheses)
    if len(refs) != len(hyps):
        raise ValueError(f"got {len(refs)} references but {len(hyps)} hypotheses")
    if not refs:
        raise ValueError("no references to score")
    empty = [i for i, r in enumerate(refs) if not r.strip()]
    if empty:
        raise ValueError(
            f"references {empty[:5]} are empty: an error rate needs at least one reference token"
        )
    return refs, hyps


def wer(references: str | Sequence[str], hypotheses: str | Sequence[str]) -> float:
    """Word error rate ``(S + D + I) / N`` over all utterances (``jiwer.wer``); may exceed 1."""
    refs, hyps = _pair(references, hypotheses)
    return float(jiwer.wer(refs, hyps))


def cer(references: str | Sequence[str], hypotheses: str | Sequence[str]) -> float:
    """Character error rate, spaces included (``jiwer.cer``); may exceed 1."""
    refs, hyps = _pair(references, hypotheses)
    return float(jiwer.cer(refs, hyps))


def accuracy(predictions, targets) -> float:
    """Fraction of correct predictions. ``predictions``: labels of the shape of ``targets``, or scores
    (logits, probabilities) with one more, last axis, whose arg-max is the predicted label. NumPy
    arrays, tensors (detached first, so a training step may score its logits) or lists."""
    p, t = _as_array(predictions), _as_array(targets)
    if p.ndim == t.ndim + 1:
        p = p.argmax(-1)
    if p.shape != t.shape:
        raise ValueError(
            f"predictions {p.shape} and targets {t.shape} differ in shape: they must have the same shape"
        )
    if p.size == 0:
        raise ValueError("no predictions to score")
    return float(np.mean(p == t))


def _as_array(x) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def perplexity(mean_nll_nats: float) -> float:
    """``exp`` of a mean negative log-likelihood per token in nats."""
    if not math.isfinite(mean_nll_nats) or mean_nll_nats < 0:
        raise ValueError(f"mean_nll_nats must be a finite non-negative number, got {mean_nll_nats}")
    return math.exp(mean_nll_nats)
