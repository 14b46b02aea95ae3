"""Sinusoidal positional encoding and the pre-LN Transformer encoder (notebook 07).

.. math::
    PE_{pos, 2i} = \\sin\\left(pos / 10000^{2i/d}\\right), \\qquad
    PE_{pos, 2i+1} = \\cos\\left(pos / 10000^{2i/d}\\right)

A pre-LN block normalises before each sub-layer and adds the residual after:
``x = x + Dropout(SelfAttention(LayerNorm(x)))``;
``x = x + Dropout(FeedForward(LayerNorm(x)))``. :class:`EncoderBlock` equals
``torch.nn.TransformerEncoderLayer(norm_first=True, batch_first=True)`` once
weights are copied (:meth:`EncoderBlock.copy_from_torch`), padding masks
included. Attention is :class:`speechlm.attention.MultiHeadAttention`, fused
unless the attention maps are requested.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from speechlm.attention import MultiHeadAttention

__all__ = ["EncoderBlock", "PositionalEncoding", "TransformerEncoder", "sinusoidal_positional_encoding"]


def sinusoidal_positional_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """``(max_len, d_model)`` float32 table: even columns ``sin(pos / 10000^(2i/d))``, odd columns the
    ``cos`` of the same angle (interleaved, as in Vaswani et al. 2017). ``d_model`` must be even."""
    if d_model % 2 or d_model <= 0:
        raise ValueError(f"d_model must be a positive even number, got {d_model}")
    if max_len <= 0:
        raise ValueError(f"max_len must be positive, got {max_len}")
    position = torch.arange(max_len, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    angle = position / (10000.0 ** (two_i / d_model))
    pe = torch.empty(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe.float()


class PositionalEncoding(nn.Module):
    """Add the sinusoidal table to ``x (batch, time, d_model)``, then dropout."""

    def __init__(self, d_model: int, max_len: int = 2048, dropout: float = 0.0):
        super().__init__()
        self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] > self.pe.shape[0]:
            raise ValueError(f"sequence of {x.shape[1]} steps is longer than max_len={self.pe.shape[0]}")
        return self.dropout(x + self.pe[: x.shape[1]])


class EncoderBlock(nn.Module):
    """One pre-LN encoder layer on ``(batch, time, d_model)``; ``activation`` is ``"relu"`` or ``"gelu"``."""

    def __init__(
        self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.1, activation: str = "relu"
    ):
        super().__init__()
        if activation not in ("relu", "gelu"):
            raise ValueError(f"activation must be 'relu' or 'gelu', got {activation!r}")
        self.attn = MultiHeadAttention(d_model, num_heads, dropout=dropout)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.linear1, self.linear2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        self.activation = F.relu if activation == "relu" else F.gelu

    def forward(
        self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Returns ``(x, weights)``; ``weights (batch, heads, time, time)`` only if ``need_weights``."""
        attended, weights = self.attn(
            self.norm1(x), key_padding_mask=key_padding_mask, need_weights=need_weights
        )
        x = x + self.dropout(attended)
        x = x + self.dropout(self.linear2(self.dropout(self.activation(self.linear1(self.norm2(x))))))
        return x, weights

    @torch.no_grad()
    def copy_from_torch(self, layer: nn.TransformerEncoderLayer) -> EncoderBlock:
        """Copy the weights of a ``nn.TransformerEncoderLayer`` of the same sizes."""
        if not layer.norm_first:
            raise ValueError("this is a pre-LN block: copy from nn.TransformerEncoderLayer(norm_first=True)")
        self.attn.copy_from_torch(layer.self_attn)
        for ours, theirs in (
            (self.norm1, layer.norm1),
            (self.norm2, layer.norm2),
            (self.linear1, layer.linear1),
            (self.linear2, layer.linear2),
        ):
            ours.load_state_dict(theirs.state_dict())
        return self


class TransformerEncoder(nn.Module):
    """A stack of :class:`EncoderBlock` s plus a final LayerNorm (needed with pre-LN: the residual
    stream is never normalised otherwise). Input and output ``(batch, time, d_model)``."""

    def __init__(
        self,
        num_layers: int,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        activation: str = "relu",
    ):
        super().__init__()
        self.layers = nn.ModuleList(
            EncoderBlock(d_model, num_heads, d_ff, dropout, activation) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)

    def forward(
        self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None, need_weights: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``key_padding_mask (batch, time)`` True at padding. Returns ``(x, weights per layer)``
        (an empty list unless ``need_weights``)."""
        maps = []
        for layer in self.layers:
            x, weights = layer(x, key_padding_mask, need_weights)
            if need_weights:
                maps.append(weights)
        return self.norm(x), maps
