"""The course's recipe for a model trained a fixed number of steps: AdamW, warm-up then decay."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from speechlm.optim import scheduler, tenth
from speechlm.train.loop import StepFn, fit

__all__ = ["fit_adamw"]


def fit_adamw(
    model: torch.nn.Module,
    batches: Iterable,
    *,
    steps: int,
    lr: float,
    step_fn: StepFn | None = None,
    loss_fn: Callable | None = None,
    weight_decay: float = 0.01,
    warmup: int | None = None,
    decay: str = "linear",
    grad_clip: float | None = 1.0,
    progress: bool = True,
    desc: str = "train",
) -> list[float]:
    """:func:`fit` ``model`` for ``steps`` steps with AdamW at peak rate ``lr`` on all its parameters,
    warm-up over ``warmup`` steps (default a tenth of them) then ``decay`` (:mod:`speechlm.optim`), and
    gradients clipped at ``grad_clip``: the recipe of the course's GPT, BERT, seq2seq and pooled
    classifiers. ``batches``: an endless iterable (a sampler); ``step_fn``/``loss_fn`` as in
    :func:`fit`. Returns the loss of every step; leaves the model in eval mode."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = scheduler(optimizer, steps, tenth(steps) if warmup is None else warmup, decay=decay)
    history = fit(
        model,
        batches,
        optimizer=optimizer,
        steps=steps,
        step_fn=step_fn,
        loss_fn=loss_fn,
        scheduler=schedule,
        grad_clip=grad_clip,
        log_every=1,
        progress=progress,
        desc=desc,
    )
    model.eval()
    return history.train_loss
