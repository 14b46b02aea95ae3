"""What a trained model did: predictions, a confusion matrix, its size and its history plot (notebook 05)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from speechlm.train.loop import History, to_device


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
