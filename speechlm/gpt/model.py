"""The GPT model: its sizes, decoder blocks and the key/value cache of generation (notebook 09)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class GPTConfig:
    """Sizes of a GPT: ``context`` is the longest input in tokens, ``width``
    the model dimension (a multiple of ``heads``), ``ff`` the MLP width
    (default ``4 * width``)."""

    vocab_size: int
    context: int = 64
    width: int = 128
    layers: int = 2
    heads: int = 4
    ff: int | None = None
    dropout: float = 0.0
    layer_norm_eps: float = 1e-5
    init_std: float = 0.02

    def __post_init__(self):
        if self.width % self.heads:
            raise ValueError(f"width ({self.width}) must be a multiple of heads ({self.heads})")
        if self.ff is None:
            self.ff = 4 * self.width


class KVCache:
    """Keys and values of the tokens seen so far, one ``(batch, heads, time, head_dim)`` pair per layer."""

    def __init__(self):
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []

    def __len__(self) -> int:
        """Number of cached time steps."""
        return self.keys[0].shape[2] if self.keys else 0

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append this step's ``k``, ``v`` to layer ``layer``'s cache; return all keys and values."""
        if layer == len(self.keys):
            self.keys.append(k)
            self.values.append(v)
        else:
            self.keys[layer] = torch.cat([self.keys[layer], k], dim=2)
            self.values[layer] = torch.cat([self.values[layer], v], dim=2)
        return self.keys[layer], self.values[layer]


class Block(nn.Module):
    """A pre-LN decoder block: ``x = x + Attn(LN(x))``, ``x = x + MLP(LN(x))``."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.heads = cfg.heads
        self.dropout_p = cfg.dropout
        self.ln_1 = nn.LayerNorm(cfg.width, eps=cfg.layer_norm_eps)
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width)
        self.attn_proj = nn.Linear(cfg.width, cfg.width)
        self.ln_2 = nn.LayerNorm(cfg.width, eps=cfg.layer_norm_eps)
        self.fc = nn.Linear(cfg.width, cfg.ff)
        self.fc_proj = nn.Linear(cfg.ff, cfg.width)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None, layer: int, past: int) -> torch.Tensor:
        """``x`` ``(batch, time, width)``: the newest ``time`` tokens, after ``past`` cached ones."""
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln_1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        if cache is not None:
            k, v = cache.update(layer, k, v)
        drop = self.dropout_p if self.training else 0.0
        if past == 0:
            a = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=t > 1)
        else:  # query i sits at position past + i and sees keys 0..past + i
            mask = torch.ones(t, past + t, dtype=torch.bool, device=x.device).tril(diagonal=past)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)
        x = x + self.dropout(self.attn_proj(a.transpose(1, 2).reshape(b, t, d)))
        return x + self.dropout(self.fc_proj(F.gelu(self.fc(self.ln_2(x)), approximate="tanh")))


class GPT(nn.Module):
    """A GPT-2-style causal language model (notebook 09).

    ``forward(ids, cache=None)`` maps ``(batch, time)`` token ids to logits
    ``(batch, time, vocab)``: position ``i`` predicts token ``i + 1``. Pass a
    :class:`KVCache` to continue a sequence one chunk at a time.
    """

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.width)
        self.wpe = nn.Embedding(cfg.context, cfg.width)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(cfg.width, eps=cfg.layer_norm_eps)
        for name, p in self.named_parameters():  # GPT-2's initialisation
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() == 2:
                residual = name.endswith(("attn_proj.weight", "fc_proj.weight"))
                nn.init.normal_(p, std=cfg.init_std / (math.sqrt(2 * cfg.layers) if residual else 1.0))

    def forward(self, ids: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        if ids.dim() != 2:
            raise ValueError(f"expected token ids of shape (batch, time), got {tuple(ids.shape)}")
        past = len(cache) if cache is not None else 0
        if past + ids.shape[1] > self.cfg.context:
            raise ValueError(
                f"{past} cached + {ids.shape[1]} new tokens exceed the context of {self.cfg.context}: "
                "crop the input to its last `context` tokens"
            )
        pos = torch.arange(past, past + ids.shape[1], device=ids.device)
        x = self.drop(self.wte(ids) + self.wpe(pos))
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer, past)
        return F.linear(self.ln_f(x), self.wte.weight)  # tied output layer
