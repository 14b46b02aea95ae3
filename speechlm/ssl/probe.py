"""Linear probes: how linearly decodable a label (a phone) is from a representation (notebook 11).

A probe is a softmax regression trained on frozen features; its held-out
accuracy measures what a layer makes easy to read out, the usual way to
compare the layers of a pretrained encoder (and MFCC) without fine-tuning.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from speechlm.train import fit

__all__ = ["linear_probe"]


def linear_probe(
    train_features,
    train_labels,
    test_features,
    test_labels,
    *,
    steps: int = 300,
    lr: float = 0.05,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> float:
    """Train a softmax regression on ``train_features (n, dim)`` with string or int ``train_labels (n,)``
    (full batch, Adam, features standardised with the training statistics) and return its accuracy
    on ``test_features``. Test labels never seen in training count as errors."""
    x_train = torch.as_tensor(np.asarray(train_features, dtype=np.float32))
    x_test = torch.as_tensor(np.asarray(test_features, dtype=np.float32))
    if x_train.ndim != 2 or x_test.ndim != 2 or x_train.shape[1] != x_test.shape[1]:
        raise ValueError(
            f"features must be (n, dim) with equal dim, got {tuple(x_train.shape)} and {tuple(x_test.shape)}"
        )
    if len(train_labels) != x_train.shape[0] or len(test_labels) != x_test.shape[0]:
        raise ValueError("there must be one label per feature row")
    classes, y_train = np.unique(np.asarray(train_labels), return_inverse=True)
    index = {c: i for i, c in enumerate(classes)}
    y_test = torch.tensor([index.get(c, -1) for c in np.asarray(test_labels)])
    mean, std = x_train.mean(0), x_train.std(0) + 1e-5
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    generator = torch.Generator().manual_seed(seed)
    probe = _SoftmaxRegression(0.01 * torch.randn(x_train.shape[1], len(classes), generator=generator))
    optimizer = torch.optim.Adam(probe.parameters(), lr=lr, weight_decay=weight_decay)
    full_batch = itertools.repeat((x_train, torch.as_tensor(y_train)))
    fit(
        probe,
        full_batch,
        optimizer=optimizer,
        steps=steps,
        loss_fn=F.cross_entropy,
        log_every=steps,
        progress=False,
    )
    with torch.no_grad():
        predicted = probe(x_test).argmax(1)
    return float((predicted == y_test).float().mean())


class _SoftmaxRegression(nn.Module):
    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.weight = nn.Parameter(weight)  # (dim, classes)
        self.bias = nn.Parameter(torch.zeros(weight.shape[1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight + self.bias
