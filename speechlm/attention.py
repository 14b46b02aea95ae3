"""Scaled dot-product attention and multi-head attention, written out (notebook 06).

.. math::
    \\mathrm{Attention}(Q, K, V) = \\mathrm{softmax}\\left(\\frac{Q K^\\top}{\\sqrt{d}} + M\\right) V

:func:`scaled_dot_product_attention` is the formula step by step (matmul,
scale, mask, softmax, matmul) and equals
``torch.nn.functional.scaled_dot_product_attention`` (same mask conventions);
:class:`MultiHeadAttention` equals ``torch.nn.MultiheadAttention`` once the
weights are copied (:meth:`MultiHeadAttention.copy_from_torch`). After that
proof, :class:`MultiHeadAttention` computes with PyTorch's fused kernel
(``fused=True``, the default) unless the attention weights are asked for.

Mask conventions (the same as PyTorch's, which differ between functions):

- ``mask`` of :func:`scaled_dot_product_attention`: boolean ``True`` = may
  attend, or a float mask added to the scores (``-inf`` blocks).
- ``key_padding_mask`` of :class:`MultiHeadAttention`: ``(batch, source)``
  boolean ``True`` = padding, ignored (``~speechlm.batching.lengths_to_mask``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "MultiHeadAttention",
    "attention_weights",
    "causal_mask",
    "scaled_dot_product_attention",
    "softmax",
]


def causal_mask(target_len: int, source_len: int | None = None, device=None) -> torch.Tensor:
    """``(target, source)`` bool, ``True`` where query ``i`` may see key ``j <= i`` (lower triangle)."""
    source_len = target_len if source_len is None else source_len
    return torch.ones(target_len, source_len, dtype=torch.bool, device=device).tril()


def softmax(scores: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``exp(x - max) / sum(exp(x - max))`` along ``dim``. A row that is all ``-inf`` (every key
    masked) gives zeros instead of NaN, as PyTorch's attention does."""
    peak = scores.amax(dim=dim, keepdim=True)
    peak = torch.where(torch.isneginf(peak), torch.zeros_like(peak), peak)
    e = torch.exp(scores - peak)
    return e / e.sum(dim=dim, keepdim=True).clamp_min(torch.finfo(e.dtype).tiny)


def attention_weights(
    q: torch.Tensor,
    k: torch.Tensor,
    mask: torch.Tensor | None = None,
    causal: bool = False,
    scale: float | None = None,
) -> torch.Tensor:
    """``softmax(q k^T * scale + mask)``: ``q (..., target, d)``, ``k (..., source, d)`` to
    ``(..., target, source)``; each row sums to 1 (a soft alignment of a query over the keys).

    ``scale`` defaults to ``1 / sqrt(d)``; ``mask`` broadcasts to ``(..., target, source)``.
    """
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must share the last (feature) size, got {tuple(q.shape)} and {tuple(k.shape)}"
        )
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale
    if causal:
        scores = scores.masked_fill(~causal_mask(q.shape[-2], k.shape[-2], device=q.device), float("-inf"))
    if mask is not None:
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + mask
    return softmax(scores, dim=-1)


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    causal: bool = False,
    scale: float | None = None,
) -> torch.Tensor:
    """Attention written out: ``q (..., target, d)``, ``k (..., source, d)``, ``v (..., source, d_v)``
    to ``(..., target, d_v)``. Same result as ``F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
    is_causal=causal)`` (which refuses a mask and ``is_causal`` together; here both apply)."""
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of positions, got {tuple(k.shape)} and {tuple(v.shape)}"
        )
    return attention_weights(q, k, mask, causal, scale) @ v


class MultiHeadAttention(nn.Module):
    """Multi-head attention over ``(batch, time, d_model)`` inputs.

    Project queries, keys and values, split ``d_model`` into ``num_heads``
    heads of ``d_model // num_heads``, attend in each head, concatenate and
    project back. ``forward`` returns ``(output (batch, target, d_model),
    weights)`` where ``weights`` is ``(batch, heads, target, source)`` when
    ``need_weights=True`` (computed by :func:`attention_weights`) and ``None``
    otherwise (computed by PyTorch's fused kernel when ``fused=True``).
    """

    def __init__(
        self, d_model: int, num_heads: int, *, dropout: float = 0.0, bias: bool = True, fused: bool = True
    ):
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model={d_model} must be divisible by num_heads={num_heads}")
        self.d_model, self.num_heads, self.head_dim = d_model, num_heads, d_model // num_heads
        self.dropout, self.fused = dropout, fused
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, time, _ = x.shape
        return x.view(batch, time, self.num_heads, self.head_dim).transpose(
            1, 2
        )  # (batch, heads, time, head_dim)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        *,
        key_padding_mask: torch.Tensor | None = None,
        causal: bool = False,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Self-attention when ``key``/``value`` are omitted; ``key_padding_mask (batch, source)``
        True at padded keys; ``causal`` lets position ``i`` see keys ``j <= i`` only."""
        key = query if key is None else key
        value = key if value is None else value
        for name, x in (("query", query), ("key", key), ("value", value)):
            if x.ndim != 3 or x.shape[-1] != self.d_model:
                raise ValueError(f"{name} must be (batch, time, {self.d_model}), got {tuple(x.shape)}")
        mask = None
        if key_padding_mask is not None:
            if key_padding_mask.shape != key.shape[:2] or key_padding_mask.dtype != torch.bool:
                raise ValueError(
                    f"key_padding_mask must be bool {tuple(key.shape[:2])} (batch, source), True at padding; "
                    f"got {key_padding_mask.dtype} {tuple(key_padding_mask.shape)}"
                )
            mask = ~key_padding_mask[:, None, None, :]  # (batch, 1, 1, source), True = may attend
        q, k, v = (
            self._heads(self.q_proj(query)),
            self._heads(self.k_proj(key)),
            self._heads(self.v_proj(value)),
        )
        p = self.dropout if self.training else 0.0
        weights = None
        if need_weights or not self.fused:
            weights = attention_weights(q, k, mask, causal)
            out = F.dropout(weights, p) @ v
        else:
            if mask is not None and causal:
                mask, causal = mask & causal_mask(q.shape[-2], k.shape[-2], device=q.device), False
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, is_causal=causal)
        out = out.transpose(1, 2).reshape(query.shape[0], query.shape[1], self.d_model)
        return self.out_proj(out), weights

    @torch.no_grad()
    def copy_from_torch(self, mha: nn.MultiheadAttention) -> MultiHeadAttention:
        """Copy the weights of a ``torch.nn.MultiheadAttention`` with the same sizes into this module."""
        if mha.embed_dim != self.d_model or mha.num_heads != self.num_heads or not mha._qkv_same_embed_dim:
            raise ValueError(
                f"need nn.MultiheadAttention({self.d_model}, {self.num_heads}) with equal q/k/v sizes, got "
                f"embed_dim={mha.embed_dim}, num_heads={mha.num_heads}"
            )
        for proj, w in zip((self.q_proj, self.k_proj, self.v_proj), mha.in_proj_weight.chunk(3), strict=True):
            proj.weight.copy_(w)
        if mha.in_proj_bias is not None and self.q_proj.bias is not None:
            for proj, b in zip(
                (self.q_proj, self.k_proj, self.v_proj), mha.in_proj_bias.chunk(3), strict=True
            ):
                proj.bias.copy_(b)
        self.out_proj.weight.copy_(mha.out_proj.weight)
        if mha.out_proj.bias is not None and self.out_proj.bias is not None:
            self.out_proj.bias.copy_(mha.out_proj.bias)
        return self
