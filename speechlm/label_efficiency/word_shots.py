"""The digit-word label-efficiency curve (notebook 12): test accuracy of a pooled utterance classifier
trained on ``shots`` labelled utterances per digit, the pretrained encoder against the same
architecture from scratch (:func:`shots_curve`, :class:`ShotsRecipe`; notebook 12 computes the first
point, :data:`NOTEBOOK_SHOTS`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from speechlm.augment import SpecAugment, spec_augment
from speechlm.batching import pad_sequences, random_batches
from speechlm.heads import PooledClassifier
from speechlm.label_efficiency.arms import _encoder_for, _encoder_lrs, _freeze_steps
from speechlm.optim import scheduler, tenth
from speechlm.ssl.encoder import SpeechEncoder, run_encoder
from speechlm.train import fit
from speechlm.workers import default_workers, run_jobs


@dataclass(frozen=True)
class ShotsRecipe:
    """Settings of the utterance-level curve: digit words with ``shots`` labelled utterances per class."""

    shots: tuple[int, ...] = (1, 3, 10)
    draws: int = 3  # random labelled subsets per point, averaged
    steps: int = 150
    batch_size: int = 16
    lr_head: float = 2e-3
    encoder_lrs: tuple[float, ...] = (2e-3,)  # the grid of encoder learning rates, both arms alike
    freeze_fraction: float = 0.5  # share of the steps the pretrained encoder stays frozen (1: always)
    eval_every: int = 25
    seed: int = 0


# Notebook 12's point: one labelled recording per digit, three draws, both arms (six runs, about a
# minute on 2 cores); its runs are the full curve's runs for one shot, so its numbers are the same.
NOTEBOOK_SHOTS = ShotsRecipe(shots=(1,))


class _WordClassifier(nn.Module):
    """An encoder under a :class:`~speechlm.heads.PooledClassifier` on every layer, each layer
    layer-normalised (the head registered first: its parameters come first,
    as the gradient clipping has always summed them). While :attr:`frozen` is True the encoder runs
    in eval mode without gradients."""

    def __init__(self, head: PooledClassifier, encoder: SpeechEncoder):
        super().__init__()
        self.head = head
        self.encoder = encoder
        self.frozen = False

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = run_encoder(self.encoder, x, lengths, self.frozen)
        return self.head(torch.stack(out.layers, dim=2), out.lengths)


@torch.no_grad()
def _accuracy(model: _WordClassifier, mels, labels) -> float:
    was_training, frozen = model.training, model.frozen
    model.eval()
    model.frozen = True
    preds = torch.cat([model(*pad_sequences(mels[s : s + 64])).argmax(-1) for s in range(0, len(mels), 64)])
    model.train(was_training)
    model.frozen = frozen
    return float((preds == torch.as_tensor(labels)).float().mean())


def _shots_job(job: dict) -> dict:
    """One digit-word run (picklable, so that it can run in a worker process)."""
    recipe: ShotsRecipe = job["recipe"]
    encoder = _encoder_for(job)
    freeze_steps = _freeze_steps(job["arm"], recipe)
    torch.manual_seed(recipe.seed + job["draw"])
    config = job["config"]
    head = PooledClassifier(config.d_model, job["num_classes"], config.num_layers + 1, norm="layer")
    model = _WordClassifier(head, encoder)
    optimizer = torch.optim.AdamW(
        [
            {"params": head.parameters(), "lr": recipe.lr_head},
            {"params": encoder.parameters(), "lr": job["lr"]},
        ],
        weight_decay=0.01,
    )
    augment = SpecAugment(time_width=5)  # masks scaled to word-length utterances
    generator = torch.Generator().manual_seed(recipe.seed + job["draw"])
    mels, labels = job["train_mels"], torch.as_tensor(job["train_labels"])

    def batches():
        for idx in random_batches(len(mels), recipe.batch_size, generator):
            x, lengths = pad_sequences([mels[i] for i in idx])
            yield spec_augment(x, lengths, augment, generator), lengths, labels[idx]

    def before_step(step: int) -> None:
        model.frozen = step <= freeze_steps
        encoder.train(not model.frozen)

    start = time.perf_counter()
    history = fit(
        model,
        batches(),
        optimizer=optimizer,
        steps=recipe.steps,
        loss_fn=F.cross_entropy,
        scheduler=scheduler(optimizer, recipe.steps, tenth(recipe.steps), starts=[0, freeze_steps]),
        grad_clip=5.0,
        eval_every=recipe.eval_every,
        before_step=before_step,
        eval_fn=lambda model: {"accuracy": _accuracy(model, job["dev_mels"], job["dev_labels"])},
        keep_best="accuracy",
        mode="max",
        progress=False,
    )
    return {
        "arm": job["arm"],
        "shots": job["shots"],
        "draw": job["draw"],
        "lr": job["lr"],
        "dev_accuracy": history.best,
        "best_step": history.best_step,
        "accuracy": _accuracy(model, job["test_mels"], job["test_labels"]),
        "seconds": time.perf_counter() - start,
    }


def _draw_shots(labels: Sequence[int], shots: int, draw: int, seed: int) -> list[int]:
    """Indices of ``shots`` random utterances of every class (draw ``draw`` of them)."""
    rng = np.random.default_rng([seed, shots, draw])
    labels = np.asarray(labels)
    picked = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < shots:
            raise ValueError(f"class {c} has {len(members)} labelled utterances, fewer than shots={shots}")
        picked.extend(rng.choice(members, shots, replace=False).tolist())
    return sorted(picked)


def shots_curve(
    encoder: SpeechEncoder,
    train: tuple[Sequence[torch.Tensor], Sequence[int]],
    dev: tuple[Sequence[torch.Tensor], Sequence[int]],
    test: tuple[Sequence[torch.Tensor], Sequence[int]],
    recipe: ShotsRecipe | None = None,
    *,
    workers: int | None = None,
    progress: bool = True,
) -> list[dict]:
    """Test accuracy of a pooled classifier trained on ``shots`` labelled utterances per class,
    the pretrained ``encoder`` against the same architecture from scratch.

    ``train``, ``dev``, ``test``: ``(log-mel tensors, integer labels)``; the labelled utterances are
    drawn from ``train`` (``recipe.draws`` different draws per point, averaged). Returns one dict per
    number of shots: ``shots``, ``labelled`` (utterances), ``pretrained_accuracy``,
    ``scratch_accuracy`` (means over the draws), the per-draw lists ``*_accuracies`` and ``chance``.
    """
    recipe = recipe or ShotsRecipe()
    for name, (mels, labels) in (("train", train), ("dev", dev), ("test", test)):
        if not len(mels) or len(mels) != len(labels):
            raise ValueError(f"{name}: need as many log-mel tensors as labels, and at least one")
    num_classes = int(max(max(train[1]), max(dev[1]), max(test[1]))) + 1
    workers = default_workers() if workers is None else workers
    state = {k: v.detach().clone() for k, v in encoder.state_dict().items()}
    base = {
        "config": encoder.config,
        "state": state,
        "recipe": recipe,
        "num_classes": num_classes,
        "dev_mels": list(dev[0]),
        "dev_labels": list(dev[1]),
        "test_mels": list(test[0]),
        "test_labels": list(test[1]),
        "threads": 0,
    }
    jobs = []
    for shots in recipe.shots:
        for draw in range(recipe.draws):
            idx = _draw_shots(train[1], shots, draw, recipe.seed)
            for arm in ("scratch", "pretrained"):
                for lr in _encoder_lrs(arm, recipe):
                    jobs.append({
                        **base, "arm": arm, "shots": shots, "draw": draw, "lr": lr,
                        "train_mels": [train[0][i] for i in idx], "train_labels": [train[1][i] for i in idx],
                    })  # fmt: skip
    runs = run_jobs(_shots_job, jobs, workers, progress, "label-efficiency curve (digit words)")
    rows = []
    counts = np.bincount(np.asarray(test[1]), minlength=num_classes)
    for shots in recipe.shots:
        row = {
            "shots": shots,
            "labelled": shots * len(set(train[1])),
            "chance": float(counts.max() / counts.sum()),
        }
        for arm in ("pretrained", "scratch"):
            accs = []
            for draw in range(recipe.draws):
                candidates = [r for r in runs if (r["arm"], r["shots"], r["draw"]) == (arm, shots, draw)]
                accs.append(max(candidates, key=lambda r: r["dev_accuracy"])["accuracy"])
            row[f"{arm}_accuracies"] = accs
            row[f"{arm}_accuracy"] = float(np.mean(accs))
        rows.append(row)
    return rows
