"""The course's one training loop, evaluation helpers and a history plot (introduced in notebook 05).

:func:`fit` trains any ``torch.nn.Module``. What one step computes is a
callback, so the same loop serves classifiers, BERT, GPT, CTC and
pretraining:

- ``step_fn(model, batch) -> loss`` (or ``(loss, {"name": value, ...})``) for
  anything custom;
- else ``loss_fn``: the batch is a tuple ``(*inputs, target)`` (for example a
  :class:`speechlm.batching.PaddedBatch`) and the loss is
  ``loss_fn(model(*inputs), target)``;
- else the model computes its own loss: ``loss = model(*batch)`` (or
  ``model(**batch)`` for a dict).

It moves batches to the device, clips gradients, steps an optional scheduler
(:mod:`speechlm.optim`), shows a ``tqdm.auto`` bar with the live loss,
evaluates on ``eval_loader`` (or with ``eval_fn``, for a metric such as a
character error rate), keeps the weights of the best evaluation if asked
(``keep_best``), and returns a :class:`History`. A loader without a length
(an endless sampler of random batches) trains for ``steps``. With the same seed two runs give identical
histories. ``checkpoint=path`` saves model and optimizer state dicts
atomically at every evaluation; :func:`load_checkpoint` reads them back with
``weights_only=True``.
"""

from __future__ import annotations

import copy
import ctypes
import functools
import math
import pickle
import sys
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from speechlm.utils import atomic_path, set_seed

__all__ = [
    "History",
    "accuracy",
    "confusion_matrix",
    "count_parameters",
    "evaluate",
    "fit",
    "load_checkpoint",
    "plot_history",
    "predict",
    "release_free_memory",
    "to_device",
]

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


def release_free_memory() -> bool:
    """Hand the C heap's free pages back to the operating system (glibc's ``malloc_trim``).

    PyTorch frees a step's activations into the C heap, which keeps them. With variable-length
    batches every step asks for other sizes, the free blocks no longer fit, and the heap grows step
    after step: the course encoder's pretraining (notebook 11) grew from 1.3 to 2.7 GB over its 750
    steps, though one step needs about 0.5 GB. Trimming after each step keeps the resident memory at
    what one step needs (``fit(release_memory=True)``). Returns True when pages were handed back
    (always False where the C library is not glibc); computed numbers are unchanged either way.
    """
    trim = _malloc_trim()
    return trim is not None and bool(trim(0))


@functools.cache
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc only; musl and others have no malloc_trim
    except (OSError, AttributeError):
        return None


def _default_step(loss_fn: Callable | None) -> StepFn:
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
    reproducible as long as they were seeded too. ``release_memory`` trims the C heap after
    every step (:func:`release_free_memory`): for variable-length batches of large activations, where
    the heap otherwise grows step after step; it costs the step's page faults again. The default
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
        from speechlm.workers import memory_is_short

        release_memory = memory_is_short()
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
    step_fn = step_fn or _default_step(loss_fn)
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
                release_free_memory()
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


def _save_checkpoint(path, model, optimizer, step: int, history: History) -> None:
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "history": history.to_dict(),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(
    path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> dict:
    """Load a checkpoint written by :func:`fit` into ``model`` (and ``optimizer``); returns the whole
    dict (``"step"``, ``"history"``). Uses ``torch.load(weights_only=True)``: no pickled code runs.
    A file that is not such a checkpoint (empty, truncated, something else) raises ValueError naming it:
    it is your own checkpoint, so it is never silently replaced."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or not {"model", "optimizer", "step"} <= state.keys():
            raise ValueError("not a dict with 'model', 'optimizer' and 'step'")
    except PermissionError:
        raise
    except (EOFError, RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError) as error:
        raise ValueError(
            f"the checkpoint {path} is damaged or not written by fit() ({type(error).__name__}): "
            "delete it and train again, or pass the path of an intact checkpoint"
        ) from None
    model.load_state_dict(state["model"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    return state


@torch.no_grad()
def predict(model: torch.nn.Module, loader: Iterable, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Run a classifier over ``(*inputs, target)`` batches; returns ``(logits (n, classes), targets (n,))``
    on the CPU, in eval mode."""
    was_training = model.training
    model.eval()
    outputs, targets = [], []
    for batch in loader:
        *inputs, target = to_device(batch, device)
        outputs.append(model(*inputs).cpu())
        targets.append(target.cpu())
    model.train(was_training)
    return torch.cat(outputs), torch.cat(targets)


def accuracy(logits_or_predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of correct predictions; accepts logits ``(n, classes)`` or predicted indices ``(n,)``."""
    pred = torch.as_tensor(logits_or_predictions)
    pred = pred.argmax(dim=-1) if pred.ndim == 2 else pred
    targets = torch.as_tensor(targets)
    if pred.shape != targets.shape:
        raise ValueError(
            f"predictions {tuple(pred.shape)} and targets {tuple(targets.shape)} differ in shape"
        )
    if targets.numel() == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return (pred == targets).float().mean().item()


def confusion_matrix(predictions: torch.Tensor, targets: torch.Tensor, num_classes: int) -> np.ndarray:
    """``(num_classes, num_classes)`` counts, row = true class, column = predicted class
    (the convention of ``sklearn.metrics.confusion_matrix``)."""
    pred = torch.as_tensor(predictions)
    pred = pred.argmax(dim=-1) if pred.ndim == 2 else pred
    pred, targets = (
        pred.cpu().numpy().astype(np.int64),
        torch.as_tensor(targets).cpu().numpy().astype(np.int64),
    )
    if pred.shape != targets.shape:
        raise ValueError(f"predictions {pred.shape} and targets {targets.shape} differ in shape")
    for name, arr in (("predictions", pred), ("targets", targets)):
        if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
            raise ValueError(f"{name} must lie in [0, {num_classes}), got range [{arr.min()}, {arr.max()}]")
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (targets, pred), 1)
    return matrix


def count_parameters(model: torch.nn.Module) -> int:
    """Number of trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def plot_history(history: History, ax=None, metric: str | None = "accuracy"):
    """Plot training loss (and evaluation loss) against steps; ``metric`` from ``history.eval`` on a
    twin axis when present. Returns the matplotlib axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    ax.plot(history.steps, history.train_loss, label="train loss")
    if "loss" in history.eval:
        ax.plot(history.eval_steps, history.eval["loss"], "o-", label="eval loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    handles, labels = ax.get_legend_handles_labels()
    if metric and metric in history.eval:
        twin = ax.twinx()
        twin.plot(history.eval_steps, history.eval[metric], "s--", color="C2", label=f"eval {metric}")
        twin.set_ylabel(metric)
        h2, l2 = twin.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, loc="center right", fontsize="small")
    return ax
