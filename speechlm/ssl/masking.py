"""Span masking for masked speech pretraining (notebook 11).

Each valid frame starts a masked span with probability ``start_prob``; the
span covers ``span_length`` frames; spans may overlap. Far from the edges a
frame is masked with probability :math:`1 - (1 - p)^L`. HuBERT and wav2vec
2.0 use :math:`p = 0.08`, :math:`L = 10` (200 ms at 50 frames/s), masking
about 57% of frames (the closed form gives 1 - 0.92^10 = 0.566).

The course's utterances are short (1-3 s, 50-150 frames), so the defaults
here are :math:`L = 5` (100 ms, about one phone) and :math:`p = 0.13`: the
same share of masked frames (1 - 0.87^5 = 0.50), but twice as many spans, so
that a 1-second utterance has several masked regions with unmasked context
between them, rather than one or two 200 ms holes that cover whole words.
"""

from __future__ import annotations

import torch

from speechlm.batching import lengths_to_mask

__all__ = ["DEFAULT_SPAN_LENGTH", "DEFAULT_START_PROB", "expected_mask_fraction", "mask_spans"]

DEFAULT_START_PROB = 0.13
DEFAULT_SPAN_LENGTH = 5


def expected_mask_fraction(start_prob: float, span_length: int) -> float:
    """``1 - (1 - p)^L``: the share of frames masked far from the utterance edges."""
    return 1.0 - (1.0 - start_prob) ** span_length


def mask_spans(
    lengths: torch.Tensor,
    max_len: int | None = None,
    *,
    start_prob: float = DEFAULT_START_PROB,
    span_length: int = DEFAULT_SPAN_LENGTH,
    min_spans: int = 1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Random span mask ``(batch, max_len)`` bool, True at masked frames, never on padding.

    ``lengths (batch,)`` valid frames per utterance. Starts are drawn among the
    frames where a whole span fits (all frames when an utterance is shorter
    than a span, whose span is then cut at the end); each utterance gets at
    least ``min_spans`` starts (drawn uniformly when the coin flips gave fewer).
    Pass a seeded ``generator`` for a reproducible mask.
    """
    lengths = torch.as_tensor(lengths, dtype=torch.long)
    if not 0.0 <= start_prob <= 1.0:
        raise ValueError(f"start_prob must be in [0, 1], got {start_prob}")
    if span_length < 1:
        raise ValueError(f"span_length must be at least 1, got {span_length}")
    if lengths.ndim != 1 or lengths.numel() == 0 or int(lengths.min()) < 1:
        raise ValueError(
            f"lengths must be a non-empty 1-D tensor of positive lengths, got {lengths.tolist()}"
        )
    max_len = int(lengths.max()) if max_len is None else max_len
    batch = lengths.shape[0]
    n_starts = (lengths - span_length + 1).clamp(min=1)  # positions where a span fits
    can_start = lengths_to_mask(n_starts, max_len)
    starts = (torch.rand(batch, max_len, generator=generator) < start_prob) & can_start
    for i in torch.nonzero(starts.sum(dim=1) < min_spans).flatten().tolist():
        extra = torch.randperm(int(n_starts[i]), generator=generator)[:min_spans]
        starts[i, extra] = True
    # frame t is masked when a span starts in (t - L, t]: a running count of starts
    counts = torch.cumsum(starts.long(), dim=1)
    shifted = torch.nn.functional.pad(counts, (span_length, 0))[:, :max_len]
    return (counts - shifted > 0) & lengths_to_mask(lengths, max_len)
