"""Utterance classifiers on padded feature sequences: CNN, GRU (notebook 05) and Transformer (notebook 07).

Every model maps ``features (batch, time, n_features)`` and ``lengths (batch,)``
to ``logits (batch, n_classes)`` and ignores padded frames, so a
:class:`speechlm.batching.PaddedBatch` plugs straight into
:func:`speechlm.train.fit` with ``loss_fn=F.cross_entropy``.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from speechlm.batching import lengths_to_mask, masked_mean
from speechlm.transformer import PositionalEncoding, TransformerEncoder

__all__ = ["CNNClassifier", "GRUClassifier", "TransformerClassifier"]


def _check_input(features: torch.Tensor, lengths: torch.Tensor | None, n_features: int) -> torch.Tensor:
    if features.ndim != 3 or features.shape[-1] != n_features:
        raise ValueError(f"features must be (batch, time, {n_features}), got {tuple(features.shape)}")
    if lengths is None:
        return torch.full((features.shape[0],), features.shape[1], dtype=torch.int64, device=features.device)
    if lengths.shape != features.shape[:1]:
        raise ValueError(f"lengths must be (batch,) = ({features.shape[0]},), got {tuple(lengths.shape)}")
    if int(lengths.min()) < 1 or int(lengths.max()) > features.shape[1]:
        raise ValueError(f"lengths must lie in [1, {features.shape[1]}], got {lengths.tolist()}")
    return lengths


class CNNClassifier(nn.Module):
    """1-D convolutions over time (``len(channels)`` layers of kernel ``kernel_size``, ReLU, dropout);
    padded frames are zeroed after every layer; then mean and max pooling over real frames and a
    linear layer."""

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        channels: tuple[int, ...] = (64, 64),
        kernel_size: int = 5,
        dropout: float = 0.1,
    ):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(
                f"kernel_size must be odd (so the output keeps the input's length), got {kernel_size}"
            )
        self.n_features = n_features
        sizes = (n_features, *channels)
        self.convs = nn.ModuleList(
            nn.Conv1d(a, b, kernel_size, padding=kernel_size // 2) for a, b in itertools.pairwise(sizes)
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * sizes[-1], n_classes)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        lengths = _check_input(features, lengths, self.n_features)
        mask = lengths_to_mask(lengths, features.shape[1])
        x = features.transpose(1, 2)  # (batch, channels, time) for Conv1d
        for conv in self.convs:
            x = self.dropout(torch.relu(conv(x))) * mask[:, None, :]
        x = x.transpose(1, 2)
        peak = x.masked_fill(~mask[..., None], float("-inf")).amax(dim=1)
        return self.head(torch.cat([masked_mean(x, mask), peak], dim=-1))


class GRUClassifier(nn.Module):
    """A (bidirectional) GRU over the real frames only (packed sequences); the last hidden state of
    each direction of the top layer goes through dropout and a linear layer.

    ``stack`` > 1 concatenates that many consecutive frames into one before the GRU (frame stacking):
    ``stack`` times fewer sequential steps, which is most of a GRU's cost on a CPU.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        hidden: int = 64,
        num_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.1,
        stack: int = 1,
    ):
        super().__init__()
        if stack < 1:
            raise ValueError(f"stack must be at least 1, got {stack}")
        self.n_features, self.stack = n_features, stack
        self.gru = nn.GRU(
            n_features * stack,
            hidden,
            num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), n_classes)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        lengths = _check_input(features, lengths, self.n_features)
        if self.stack > 1:
            batch, time, _ = features.shape
            features = F.pad(features, (0, 0, 0, -time % self.stack))  # zero frames up to a multiple of stack
            features = features.reshape(batch, -1, self.stack * self.n_features)
            lengths = (lengths + self.stack - 1) // self.stack
        packed = pack_padded_sequence(features, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h = self.gru(packed)  # (layers * directions, batch, hidden), in the original batch order
        directions = 2 if self.gru.bidirectional else 1
        last = torch.cat(list(h[-directions:]), dim=-1)
        return self.head(self.dropout(last))


class TransformerClassifier(nn.Module):
    """A convolutional front-end (a kernel-5 convolution with ReLU, then a strided convolution that keeps
    one frame in ``subsample``), sinusoidal positions, a pre-LN
    :class:`speechlm.transformer.TransformerEncoder` with a padding mask, mean pooling over real
    frames and a linear layer."""

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        d_model: int = 64,
        num_heads: int = 4,
        num_layers: int = 2,
        d_ff: int = 128,
        dropout: float = 0.1,
        subsample: int = 2,
        max_len: int = 2048,
    ):
        super().__init__()
        if subsample < 1:
            raise ValueError(f"subsample must be at least 1, got {subsample}")
        self.n_features, self.subsample = n_features, subsample
        self.context = nn.Conv1d(n_features, d_model, kernel_size=5, padding=2)
        self.frontend = nn.Conv1d(
            d_model,
            d_model,
            kernel_size=2 * subsample - 1 if subsample > 1 else 1,
            stride=subsample,
            padding=subsample - 1,
        )
        self.positions = PositionalEncoding(d_model, max_len, dropout)
        self.encoder = TransformerEncoder(num_layers, d_model, num_heads, d_ff, dropout)
        self.head = nn.Linear(d_model, n_classes)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Frames after the strided front-end: ``ceil(length / subsample)``."""
        return (lengths + self.subsample - 1) // self.subsample

    def encode(
        self, features: torch.Tensor, lengths: torch.Tensor | None = None, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """``(hidden (batch, frames, d_model), mask (batch, frames) True at real frames, attention maps)``;
        the maps (one ``(batch, heads, frames, frames)`` per layer) only with ``need_weights``."""
        lengths = _check_input(features, lengths, self.n_features)
        frame_mask = lengths_to_mask(lengths, features.shape[1])[:, None, :]
        x = torch.relu(self.context(features.transpose(1, 2))) * frame_mask  # padded frames back to zero
        x = self.frontend(x).transpose(1, 2)
        mask = lengths_to_mask(self.output_lengths(lengths), x.shape[1])
        x, maps = self.encoder(self.positions(x * mask[..., None]), ~mask, need_weights)
        return x, mask, maps

    def forward(self, features: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        x, mask, _ = self.encode(features, lengths)
        return self.head(masked_mean(x, mask))
