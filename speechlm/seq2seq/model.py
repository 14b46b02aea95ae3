"""The encoder-decoder Transformer (notebook 16): decoder layer and stack, token and frame encoders,
and :class:`Seq2Seq` joining them; see :mod:`speechlm.seq2seq`."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from speechlm.attention import MultiHeadAttention
from speechlm.batching import lengths_to_mask
from speechlm.transformer import PositionalEncoding, TransformerEncoder

__all__ = ["DecoderBlock", "FeatureEncoder", "Seq2Seq", "TokenEncoder", "TransformerDecoder"]


class DecoderBlock(nn.Module):
    """One pre-LN decoder layer on ``x (batch, target, d_model)`` and ``memory (batch, source, d_model)``:
    ``x += SelfAttn(LN1(x), causal)``; ``x += CrossAttn(LN2(x), memory)``; ``x += FF(LN3(x))``."""

    def __init__(
        self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.1, activation: str = "relu"
    ):
        super().__init__()
        if activation not in ("relu", "gelu"):
            raise ValueError(f"activation must be 'relu' or 'gelu', got {activation!r}")
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout=dropout)
        self.cross_attn = MultiHeadAttention(d_model, num_heads, dropout=dropout)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d_model) for _ in range(3))
        self.linear1, self.linear2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        self.activation = F.relu if activation == "relu" else F.gelu

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        memory_padding_mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``memory_padding_mask (batch, source)`` True at padded frames. Returns ``(x, weights)`` with the
        cross-attention ``weights (batch, heads, target, source)`` if ``need_weights``, else ``None``.
        Right-padded targets need no mask: the causal mask keeps real positions from seeing them."""
        attended, _ = self.self_attn(self.norm1(x), causal=True)
        x = x + self.dropout(attended)
        attended, weights = self.cross_attn(
            self.norm2(x), memory, key_padding_mask=memory_padding_mask, need_weights=need_weights
        )
        x = x + self.dropout(attended)
        x = x + self.dropout(self.linear2(self.dropout(self.activation(self.linear1(self.norm3(x))))))
        return x, weights

    @torch.no_grad()
    def copy_from_torch(self, layer: nn.TransformerDecoderLayer) -> DecoderBlock:
        """Copy the weights of a ``nn.TransformerDecoderLayer(norm_first=True)`` of the same sizes."""
        if not layer.norm_first:
            raise ValueError("this is a pre-LN block: copy from nn.TransformerDecoderLayer(norm_first=True)")
        self.self_attn.copy_from_torch(layer.self_attn)
        self.cross_attn.copy_from_torch(layer.multihead_attn)
        for name in ("norm1", "norm2", "norm3", "linear1", "linear2"):
            getattr(self, name).load_state_dict(getattr(layer, name).state_dict())
        return self


class TransformerDecoder(nn.Module):
    """Token embedding, sinusoidal positions, :class:`DecoderBlock` s, a final LayerNorm and an output
    layer: ``tokens (batch, target)`` and ``memory (batch, source, d_model)`` to ``logits (batch, target,
    vocab_size)``."""

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 128,
        num_layers: int = 2,
        num_heads: int = 4,
        d_ff: int = 512,
        dropout: float = 0.1,
        max_len: int = 256,
    ):
        super().__init__()
        self.vocab_size, self.d_model = vocab_size, d_model
        self.embed = nn.Embedding(vocab_size, d_model)
        self.position = PositionalEncoding(d_model, max_len, dropout)
        self.layers = nn.ModuleList(
            DecoderBlock(d_model, num_heads, d_ff, dropout) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, vocab_size)

    def forward(
        self,
        tokens: torch.Tensor,
        memory: torch.Tensor,
        memory_padding_mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Returns ``(logits, cross-attention weights per layer)`` (an empty list unless ``need_weights``)."""
        if tokens.ndim != 2 or tokens.dtype != torch.long:
            raise ValueError(
                f"tokens must be int64 (batch, target), got {tokens.dtype} {tuple(tokens.shape)}"
            )
        if tokens.numel() and not 0 <= int(tokens.min()) <= int(tokens.max()) < self.vocab_size:
            raise ValueError(f"token ids must lie in 0..{self.vocab_size - 1}")
        if memory.ndim != 3 or memory.shape[0] != tokens.shape[0] or memory.shape[2] != self.d_model:
            raise ValueError(
                f"memory must be (batch={tokens.shape[0]}, source, {self.d_model}), got {tuple(memory.shape)}"
            )
        x = self.position(self.embed(tokens))
        maps = []
        for layer in self.layers:
            x, weights = layer(x, memory, memory_padding_mask, need_weights)
            if need_weights:
                maps.append(weights)
        return self.out(self.norm(x)), maps


def _source_mask(lengths: torch.Tensor, source_len: int, batch: int) -> torch.Tensor:
    lengths = torch.as_tensor(lengths)
    if lengths.shape != (batch,):
        raise ValueError(
            f"src_lengths must be ({batch},) (one length per source), got {tuple(lengths.shape)}"
        )
    if int(lengths.min()) < 1 or int(lengths.max()) > source_len:
        raise ValueError(
            f"src_lengths must lie in 1..{source_len} (the padded length), got {lengths.tolist()}"
        )
    return ~lengths_to_mask(lengths, source_len)


class TokenEncoder(nn.Module):
    """Source tokens ``(batch, source)`` to ``memory (batch, source, d_model)``: embedding, sinusoidal
    positions and a pre-LN :class:`speechlm.transformer.TransformerEncoder` (notebook 07)."""

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 128,
        num_layers: int = 2,
        num_heads: int = 4,
        d_ff: int = 512,
        dropout: float = 0.1,
        max_len: int = 512,
    ):
        super().__init__()
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, d_model)
        self.position = PositionalEncoding(d_model, max_len, dropout)
        self.encoder = TransformerEncoder(num_layers, d_model, num_heads, d_ff, dropout)

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(memory, padding_mask (batch, source) True at padding)``."""
        if src.ndim != 2 or src.dtype != torch.long:
            raise ValueError(
                f"src must be int64 token ids (batch, source), got {src.dtype} {tuple(src.shape)}"
            )
        if not 0 <= int(src.min()) <= int(src.max()) < self.vocab_size:
            raise ValueError(f"source token ids must lie in 0..{self.vocab_size - 1}")
        padding = _source_mask(src_lengths, src.shape[1], src.shape[0])
        memory, _ = self.encoder(self.position(self.embed(src)), key_padding_mask=padding)
        return memory, padding


class FeatureEncoder(nn.Module):
    """Frames ``(batch, source, in_dim)`` (e.g. :func:`speech_features`) to ``memory (batch, ceil(source /
    stack), d_model)``: every ``stack`` consecutive frames concatenated (fewer, wider frames: cheaper
    attention), LayerNorm, a linear projection, sinusoidal positions and ``num_layers`` pre-LN encoder
    blocks (0 for a projection only)."""

    def __init__(
        self,
        in_dim: int,
        d_model: int = 128,
        num_layers: int = 1,
        num_heads: int = 4,
        d_ff: int = 512,
        dropout: float = 0.1,
        stack: int = 1,
        max_len: int = 2048,
    ):
        super().__init__()
        if stack < 1:
            raise ValueError(f"stack must be at least 1, got {stack}")
        self.in_dim, self.stack = in_dim, stack
        self.project = nn.Sequential(nn.LayerNorm(in_dim * stack), nn.Linear(in_dim * stack, d_model))
        self.position = PositionalEncoding(d_model, max_len, dropout)
        self.encoder = TransformerEncoder(num_layers, d_model, num_heads, d_ff, dropout)

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(memory, padding_mask (batch, source) True at padding)``."""
        if src.ndim != 3 or src.shape[-1] != self.in_dim or not src.is_floating_point():
            raise ValueError(
                f"src must be float frames (batch, source, {self.in_dim}), got {tuple(src.shape)}"
            )
        _source_mask(src_lengths, src.shape[1], src.shape[0])
        batch, time, _ = src.shape
        src = F.pad(src * lengths_to_mask(src_lengths, time)[..., None], (0, 0, 0, -time % self.stack))
        frames = src.reshape(batch, -1, self.stack * self.in_dim)
        padding = ~lengths_to_mask(-(-torch.as_tensor(src_lengths) // self.stack), frames.shape[1])
        memory, _ = self.encoder(self.position(self.project(frames)), key_padding_mask=padding)
        return memory, padding


class Seq2Seq(nn.Module):
    """An encoder (``(src, src_lengths) -> (memory, padding_mask)``) and a :class:`TransformerDecoder`.
    ``bos_id`` starts every target, ``eos_id`` ends it, ``pad_id`` pads (ignored by the loss)."""

    def __init__(
        self,
        encoder: nn.Module,
        decoder: TransformerDecoder,
        bos_id: int = 2,
        eos_id: int = 2,
        pad_id: int = 0,
    ):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(memory (batch, source', d_model), padding_mask (batch, source'))`` of the encoder."""
        return self.encoder(src, src_lengths)

    def forward(
        self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Teacher-forced ``logits (batch, target, vocab)`` for decoder input ``tgt_in (batch, target)``,
        and the cross-attention weights per layer ``(batch, heads, target, source)`` if ``need_weights``."""
        memory, padding = self.encode(src, src_lengths)
        return self.decoder(tgt_in, memory, padding, need_weights)

    @torch.no_grad()
    def cross_attention(self, src: torch.Tensor, tokens: Sequence[int]) -> torch.Tensor:
        """Cross-attention of one source ``src`` (``(source,)`` ids or ``(source, in_dim)`` frames) while
        reading ``<bos> tokens``: ``(num_layers, heads, len(tokens) + 1, source)``; rows sum to 1."""
        self.eval()
        tgt = torch.tensor([[self.bos_id, *tokens]], dtype=torch.long)
        _, maps = self(src[None], torch.tensor([src.shape[0]]), tgt, need_weights=True)
        return torch.stack([m[0] for m in maps])
