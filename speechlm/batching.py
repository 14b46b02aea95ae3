"""Batching variable-length speech: padding, masks and a collate function (notebook 05).

Utterances have different numbers of frames. A batch stacks them into one
``(batch, time, features)`` tensor by padding the short ones at the end, and
carries their ``lengths`` so that models can ignore the padding:

- :func:`lengths_to_mask` gives ``True`` at real frames (``mask``);
  PyTorch's attention modules want the opposite, ``True`` at padding
  (``key_padding_mask = ~mask``).
- :func:`masked_mean` pools over real frames only.
- :func:`collate_padded` turns a list of ``(features, label)`` pairs into a
  :class:`PaddedBatch`, which is a tuple ``(features, lengths, labels)``, so
  :func:`speechlm.train.fit` calls ``model(features, lengths)`` and compares
  the output with ``labels``.

Training on a fixed number of steps draws the items of each batch from an endless
sampler: :func:`random_batches` (independent draws, with replacement) or
:func:`shuffled_batches` (every item once per shuffled pass, a batch never cut at the end of a pass).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import numpy as np
import torch

__all__ = [
    "FeatureDataset",
    "PaddedBatch",
    "collate_padded",
    "context_window",
    "lengths_to_mask",
    "masked_mean",
    "pad_sequences",
    "random_batches",
    "shuffled_batches",
]


class PaddedBatch(NamedTuple):
    """A batch of padded sequences: ``features (batch, time, channels)``, ``lengths (batch,)``
    (int64, real frames per item) and ``labels (batch,)`` (int64 class indices, or whatever
    the dataset gave, stacked)."""

    features: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor

    @property
    def mask(self) -> torch.Tensor:
        """``(batch, time)`` bool, ``True`` at real frames."""
        return lengths_to_mask(self.lengths, self.features.shape[1])


def pad_sequences(
    sequences: Sequence[torch.Tensor], padding_value: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``(time_i, ...)`` tensors into ``(batch, max_time, ...)``, padding at the end.

    Returns ``(padded, lengths)`` with ``lengths (batch,)`` int64. All items must
    agree on every dimension but the first.
    """
    if len(sequences) == 0:
        raise ValueError("pad_sequences needs at least one sequence, got an empty list")
    seqs = [torch.as_tensor(s) for s in sequences]
    tail = seqs[0].shape[1:]
    for i, s in enumerate(seqs):
        if s.ndim == 0:
            raise ValueError(f"sequence {i} is a scalar; expected shape (time, ...)")
        if s.shape[1:] != tail:
            raise ValueError(
                f"sequence {i} has shape {tuple(s.shape)} but sequence 0 has {tuple(seqs[0].shape)}: "
                "all must agree except in the first (time) dimension"
            )
    lengths = torch.tensor([s.shape[0] for s in seqs], dtype=torch.int64)
    out = seqs[0].new_full((len(seqs), int(lengths.max()), *tail), padding_value)
    for i, s in enumerate(seqs):
        out[i, : s.shape[0]] = s
    return out, lengths


def random_batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[list[int]]:
    """Endless batches of ``batch_size`` indices in ``[0, n)``, each drawn uniformly with
    replacement from ``generator`` (``torch.randint``)."""
    _check_sampler(n, batch_size)

    def batches():
        while True:
            yield torch.randint(n, (batch_size,), generator=generator).tolist()

    return batches()


def shuffled_batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[list[int]]:
    """Endless batches of ``batch_size`` indices in ``[0, n)``: shuffled passes over all of them
    (``rng.permutation``), a batch at the end of a pass completed from the next one (with fewer
    than ``batch_size`` items, every batch is one whole pass)."""
    _check_sampler(n, batch_size)

    def batches():
        order: list[int] = []
        while True:
            if len(order) < batch_size:
                order.extend(rng.permutation(n).tolist())
            batch = order[:batch_size]
            del order[:batch_size]
            yield batch

    return batches()


def _check_sampler(n: int, batch_size: int) -> None:
    if n < 1 or batch_size < 1:
        raise ValueError(f"need at least one item and a batch size of at least 1, got {n} and {batch_size}")


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """``(batch,)`` lengths to a ``(batch, max_len)`` bool mask, ``True`` at real positions."""
    lengths = torch.as_tensor(lengths)
    if lengths.ndim != 1:
        raise ValueError(f"lengths must be 1-D (batch,), got shape {tuple(lengths.shape)}")
    if lengths.numel() and int(lengths.min()) < 0:
        raise ValueError(f"lengths must be non-negative, got {lengths.tolist()}")
    max_len = int(lengths.max()) if max_len is None else max_len
    if lengths.numel() and int(lengths.max()) > max_len:
        raise ValueError(f"max_len={max_len} is shorter than the longest length {int(lengths.max())}")
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x (batch, time, channels)`` over the time steps where ``mask (batch, time)`` is True.

    Returns ``(batch, channels)``. A row with no real step gives zeros, not NaN.
    """
    if mask.shape != x.shape[:2]:
        raise ValueError(
            f"mask shape {tuple(mask.shape)} does not match x's (batch, time) {tuple(x.shape[:2])}"
        )
    weights = mask.to(x.dtype).unsqueeze(-1)
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def collate_padded(items: Sequence[tuple[torch.Tensor, int]]) -> PaddedBatch:
    """``collate_fn`` for a ``DataLoader`` over ``(features (time, channels), label)`` items."""
    if len(items) == 0:
        raise ValueError("collate_padded got an empty batch")
    features, lengths = pad_sequences([f for f, _ in items])
    labels = torch.as_tensor(np.asarray([label for _, label in items]))
    return PaddedBatch(features, lengths, labels)


def context_window(frames: np.ndarray, left: int, right: int) -> np.ndarray:
    """Stack each frame with its ``left`` predecessors and ``right`` successors (notebook 04).

    ``frames (time, channels)`` to ``(time, (left + 1 + right) * channels)``; row ``t`` is
    frames ``t - left ... t + right`` concatenated in order, the edges padded by repeating the
    first and last frame. A frame classifier then sees some context around the frame it labels.
    """
    frames = np.asarray(frames)
    if frames.ndim != 2:
        raise ValueError(f"frames must be (time, channels), got shape {frames.shape}")
    if left < 0 or right < 0:
        raise ValueError(f"left and right must be non-negative, got left={left}, right={right}")
    if len(frames) == 0:
        raise ValueError("frames is empty: there is nothing to stack")
    padded = np.concatenate([np.repeat(frames[:1], left, 0), frames, np.repeat(frames[-1:], right, 0)])
    width = left + 1 + right
    return np.concatenate([padded[i : i + len(frames)] for i in range(width)], axis=1)


class FeatureDataset(torch.utils.data.Dataset):
    """``(features, label)`` pairs computed once from corpus utterances and kept in memory.

    ``feature_fn(audio, sample_rate)`` returns ``(time, channels)`` features
    (for example log-mel or MFCC frames from :mod:`speechlm.dsp`);
    ``label_fn(utterance)`` returns the label; string labels are mapped to
    integers in the order of ``classes`` (sorted labels when ``classes`` is None).
    Items are ``(float32 tensor (time, channels), int64 label)``; ``normalize``
    (``(mean, std)`` per channel) is applied when given, see :meth:`stats`.
    """

    def __init__(
        self,
        utterances: Sequence,
        feature_fn: Callable[[np.ndarray, int], np.ndarray],
        label_fn: Callable[[object], object],
        classes: Sequence | None = None,
        normalize: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        if len(utterances) == 0:
            raise ValueError("FeatureDataset needs at least one utterance, got none")
        raw_labels = [label_fn(u) for u in utterances]
        self.classes = list(classes) if classes is not None else sorted(set(raw_labels))
        index = {c: i for i, c in enumerate(self.classes)}
        unknown = sorted({str(lab) for lab in raw_labels if lab not in index})
        if unknown:
            raise ValueError(f"labels {unknown} are not in classes {self.classes}")
        self.labels = [index[lab] for lab in raw_labels]
        self.features = []
        for u in utterances:
            feats = np.asarray(feature_fn(u.audio, u.sample_rate), dtype=np.float32)
            if feats.ndim != 2:
                raise ValueError(f"feature_fn must return (time, channels), got shape {feats.shape}")
            self.features.append(torch.from_numpy(feats))
        if normalize is not None:
            mean, std = (torch.as_tensor(np.asarray(a, dtype=np.float32)) for a in normalize)
            self.features = [(f - mean) / std for f in self.features]

    def stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel ``(mean, std)`` over all frames, to normalise this and other splits alike."""
        frames = torch.cat(self.features).numpy()
        return frames.mean(axis=0), frames.std(axis=0) + 1e-5

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.features[i], self.labels[i]
