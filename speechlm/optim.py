"""Learning-rate schedules: linear warm-up, then linear or cosine decay (every model of the course).

One schedule serves every training run: the rate climbs linearly from ``1/warmup`` of its peak to
the peak over ``warmup`` steps, then falls to 0 at ``total`` steps, along a straight line (BERT's,
GPT's, HuBERT's and wav2vec 2.0's recipe) or half a cosine. A parameter group that ``starts`` later
(an encoder frozen for its first steps while a new head learns) keeps a rate of 0 until then and
warms up again from there, so that unfreezing never hits the pretrained weights with the full rate.

:func:`warmup_decay` is the factor of one group; :func:`scheduler` wraps one factor per group
into a ``torch.optim.lr_scheduler.LambdaLR`` for :func:`speechlm.train.fit`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

__all__ = ["scheduler", "tenth", "warmup_decay"]

DECAYS = ("linear", "cosine")


def tenth(total: int) -> int:
    """The warm-up the course's text models use: a tenth of the steps (at least one)."""
    return max(1, total // 10)


def warmup_decay(
    total: int, warmup: int = 0, *, start: int = 0, decay: str = "linear"
) -> Callable[[int], float]:
    """The factor (0 to 1) of the peak learning rate at each step (0-based) of a ``total``-step run.

    0 before ``start``; ``(step - start + 1) / warmup`` for the ``warmup`` steps from ``start``; then
    ``decay``: ``"linear"`` to 0 at ``total``, or ``"cosine"``, ``(1 + cos(pi * t)) / 2`` with ``t``
    going from 0 to 1 over the same steps. ``start >= total`` keeps the group at 0 throughout.
    """
    if total < 1 or warmup < 0 or start < 0:
        raise ValueError(f"need total >= 1, warmup >= 0 and start >= 0, got {total}, {warmup} and {start}")
    if decay not in DECAYS:
        raise ValueError(f"decay must be one of {DECAYS}, got {decay!r}")
    start = min(start, total)
    span = max(1, total - start - warmup)  # the decay's steps

    def factor(step: int) -> float:
        if step < start:
            return 0.0
        if step - start < warmup:
            return (step - start + 1) / warmup
        if decay == "cosine":
            return 0.5 * (1 + math.cos(math.pi * (step - start - warmup) / span))
        return max(0.0, (total - step) / span)

    return factor


def scheduler(
    optimizer: torch.optim.Optimizer,
    total: int,
    warmup: int = 0,
    *,
    starts: Sequence[int] | None = None,
    decay: str = "linear",
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` giving each of ``optimizer``'s parameter groups :func:`warmup_decay`
    (``starts``: one start step per group, in their order; default 0 for all)."""
    groups = len(optimizer.param_groups)
    starts = [0] * groups if starts is None else list(starts)
    if len(starts) != groups:
        raise ValueError(f"starts gives {len(starts)} start steps for {groups} parameter groups")
    factors = [warmup_decay(total, warmup, start=s, decay=decay) for s in starts]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factors if groups > 1 else factors[0])
