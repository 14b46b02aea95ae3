"""The training loop :func:`fit`, its default step and :func:`evaluate` (notebook 05); the package
docstring (:mod:`speechlm.train`) says what one step computes."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from speechlm import workers
from speechlm.train.checkpoint import _save_checkpoint
from speechlm.utils import set_seed

StepFn = Callable[[torch.nn.Module, Any], "torch.Tensor | tuple[torch.Tensor, dict[str, float]]"]


@dataclass
class History:
    """What :func:`fit` measured. ``steps``/``train_loss``/``lr``: one entry per logging point
    (the mean training loss since the previous one); ``eval_steps`` and ``eval``: one entry per
    evaluation, ``eval[name]`` a list (``"loss"``, ``"accuracy"``, ...); ``time_s``: wall time;
    ``best_step`` and ``best``: the evaluation whose weights ``keep_best`` restored."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval: dict[str, list[float]] = field(default_factory=dict)
    time_s: float = 0.0
    best_step: int | None = None
    best: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def to_device(batch: Any, device: torch.device | str | None) -> Any:
    """Move every tensor inside ``batch`` (tensors, tuples, named tuples, lists, dicts) to ``device``."""
    if device is None:
        return batch
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(to_device(b, device) for b in batch))
    if isinstance(batch, list | tuple):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def default_step_fn(loss_fn: Callable | None) -> StepFn:
    """The ``step_fn`` :func:`fit` uses when given none. With ``loss_fn``, a batch ``(*inputs, target)``
    gives ``loss_fn(model(*inputs), target)``, plus the accuracy when the output is class scores
    ``(batch, classes)`` and the target integer labels ``(batch,)``; without, the model computes its own
    loss: ``model(*batch)``, or ``model(**batch)`` for a dict."""

    def step(model, batch):
        if loss_fn is None:
            return model(**batch) if isinstance(batch, dict) else model(*batch)
        if not isinstance(batch, list | tuple) or len(batch) < 2:
            raise TypeError(
                "with loss_fn, each batch must be a tuple (*inputs, target); "
                f"got {type(batch).__name__}. Pass step_fn=... for other batch layouts"
            )
        *inputs, target = batch
        out = model(*inputs)
        loss = loss_fn(out, target)
        metrics = {}
        if out.ndim == 2 and target.ndim == 1 and not target.is_floating_point():
            metrics["accuracy"] = (out.argmax(dim=1) == target).float().mean().item()
        return loss, metrics

    return step


def _unpack(result) -> tuple[torch.Tensor, dict[str, float]]:
    loss, metrics = result if isinstance(result, tuple) else (result, {})
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise TypeError(f"the step must return a scalar loss tensor, got {type(loss).__name__}")
    return loss, dict(metrics)


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader: Iterable, step_fn: StepFn, device=None) -> dict[str, float]:
    """Average the step's loss and metrics over ``loader`` (weighted by batch count), in eval mode."""
    was_training = model.training
    model.eval()
    totals: dict[str, float] = {}
    n = 0
    for batch in loader:
        loss, metrics = _unpack(step_fn(model, to_device(batch, device)))
        for name, value in {"loss": loss.item(), **metrics}.items():
            totals[name] = totals.get(name, 0.0) + float(value)
        n += 1
    model.train(was_training)
    if n == 0:
        raise ValueError("the evaluation loader yielded no batch")
    return {k: v / n for k, v in totals.items()}


def fit(
    model: torch.nn.Module,
    train_loader: Iterable,
    *,
    optimizer: torch.optim.Optimizer,
    epochs: int | None = None,
    steps: int | None = None,
    loss_fn: Callable | None = None,
    step_fn: StepFn | None = None,
    eval_loader: Iterable | None = None,
    eval_every: int | None = None,
    scheduler: Any = None,
    device: torch.device | str | None = None,
    grad_clip: float | None = None,
    log_every: int = 10,
    checkpoint: str | Path | None = None,
    seed: int | None = None,
    progress: bool = True,
    release_memory: bool | None = None,
    eval_fn: Callable[[torch.nn.Module], dict[str, float]] | None = None,
    keep_best: str | None = None,
    mode: str = "min",
    before_step: Callable[[int], None] | None = None,
    after_step: Callable[[int, torch.Tensor, dict], None] | None = None,
    start_step: int = 0,
    check_finite: bool = True,
    desc: str = "train",
) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader`` or for ``steps`` optimizer steps.

    Give exactly one of ``epochs`` and ``steps``. The loss of one step comes
    from ``step_fn``, else ``loss_fn``, else the model (see the module
    docstring). ``eval_every`` (steps) defaults to once per epoch (the length
    of ``train_loader``); evaluation also runs after the last step.
    ``seed`` re-seeds everything first (:func:`speechlm.utils.set_seed`), so
    building the loader and model before calling ``fit`` with a seed is
    reproducible as long as they were seeded too. ``release_memory`` trims the C heap after every
    step (:func:`speechlm.workers.release_free_memory`): for variable-length batches of large
    activations, where the heap otherwise grows step after step; it costs the step's page faults
    again. The default
    (None) trims where memory is short (:func:`speechlm.workers.memory_is_short`: Binder's 2 GB).

    ``eval_fn(model) -> {"name": value}`` evaluates instead of ``eval_loader`` (the model in eval
    mode, train mode restored after). ``keep_best="name"`` keeps a copy of the weights at the
    evaluation with the lowest (``mode="min"``) or highest (``mode="max"``) value of that metric and
    loads it back at the end (the first of equal ones); :attr:`History.best_step` says which.
    ``before_step(step)`` runs before each step (1-based), for what changes during training, such as
    an encoder frozen for the first steps; ``after_step(step, loss, metrics)`` after it (the loss
    tensor, detached, and what the step returned besides, with ``"grad_norm"`` where gradients are
    clipped), for what a run records or saves on its own. ``start_step``: steps already taken
    (resuming a run whose optimizer, scheduler and data position were restored): training goes on
    from there to ``steps``, counting and evaluating as the whole run would. ``check_finite=False``
    leaves the check of the loss to the caller (a data-parallel run checks the loss summed over its
    processes, so that every process stops at the same step). ``desc`` labels the progress bar.
    """
    if (epochs is None) == (steps is None):
        raise ValueError(f"give exactly one of epochs and steps, got epochs={epochs!r}, steps={steps!r}")
    if step_fn is not None and loss_fn is not None:
        raise ValueError("give step_fn or loss_fn, not both (step_fn computes the loss itself)")
    if log_every < 1:
        raise ValueError(f"log_every must be at least 1, got {log_every}")
    if eval_fn is not None and eval_loader is not None:
        raise ValueError("give eval_loader or eval_fn, not both")
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    if keep_best is not None and eval_fn is None and eval_loader is None:
        raise ValueError(f"keep_best={keep_best!r} needs an evaluation: pass eval_loader or eval_fn")
    if release_memory is None:
        release_memory = workers.memory_is_short()
    if seed is not None:
        set_seed(seed)
    per_epoch = len(train_loader) if hasattr(train_loader, "__len__") else None
    if epochs is not None:
        if per_epoch is None:
            raise ValueError("epochs needs a loader with a length; pass steps=... instead")
        if per_epoch == 0:
            raise ValueError("the training loader is empty")
        steps = epochs * per_epoch
    if steps < 1:
        raise ValueError(f"nothing to train: {steps} steps")
    if not 0 <= start_step < steps:
        raise ValueError(f"start_step must be in [0, steps) = [0, {steps}), got {start_step}")
    eval_every = eval_every or per_epoch or steps
    step_fn = step_fn or default_step_fn(loss_fn)
    if device is not None:
        model.to(device)
    history = History()
    start = time.perf_counter()
    running, running_n, step = 0.0, 0, start_step
    best_state = None
    bar = tqdm(total=steps, initial=start_step, disable=not progress, desc=desc, leave=False)
    model.train()
    while step < steps:
        yielded = False
        for batch in train_loader:
            yielded = True
            if before_step is not None:
                before_step(step + 1)
            loss, metrics = _unpack(step_fn(model, to_device(batch, device)))
            if check_finite and not math.isfinite(loss.item()):
                raise FloatingPointError(
                    f"the loss became {loss.item()} at step {step + 1}: lower the learning rate"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                metrics["grad_norm"] = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            step += 1
            loss = loss.detach()
            running, running_n = running + loss.item(), running_n + 1
            if step % log_every == 0 or step == steps:
                history.steps.append(step)
                history.train_loss.append(running / running_n)
                history.lr.append(float(optimizer.param_groups[0]["lr"]))
                bar.set_postfix(loss=f"{running / running_n:.4f}")
                running, running_n = 0.0, 0
            bar.update(1)
            if step % eval_every == 0 or step == steps:
                if eval_loader is not None or eval_fn is not None:
                    scores = _evaluate(model, eval_loader, eval_fn, step_fn, device)
                    history.eval_steps.append(step)
                    for name, value in scores.items():
                        history.eval.setdefault(name, []).append(value)
                    if keep_best is not None and _better(scores, keep_best, mode, history.best):
                        history.best_step, history.best = step, float(scores[keep_best])
                        best_state = copy.deepcopy(model.state_dict())
                    model.train()
                if checkpoint is not None:
                    _save_checkpoint(checkpoint, model, optimizer, step, history)
            if after_step is not None:
                after_step(step, loss, metrics)
            del loss, metrics
            if release_memory:
                workers.release_free_memory()
            if step == steps:
                break
        if not yielded:
            raise ValueError(
                f"the training loader yielded no batch (after {step} steps): is it an exhausted iterator?"
            )
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    history.time_s = time.perf_counter() - start
    return history


def _evaluate(model, eval_loader, eval_fn, step_fn, device) -> dict[str, float]:
    if eval_loader is not None:
        return evaluate(model, eval_loader, step_fn, device)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        scores = eval_fn(model)
    model.train(was_training)
    return scores


def _better(scores: dict[str, float], name: str, mode: str, best: float | None) -> bool:
    if name not in scores:
        raise KeyError(f"keep_best={name!r}, but the evaluation gave only {sorted(scores)}")
    value = float(scores[name])
    return best is None or (value < best if mode == "min" else value > best)
