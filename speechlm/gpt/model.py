"""The GPT model: its sizes, decoder blocks and the key/value cache of generation (notebook 09)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class GPTConfig:
    """Sizes of a GPT, in the course's one vocabulary (:class:`~speechlm.bert.BertConfig` and
    :class:`~speechlm.ssl.EncoderConfig` use the same names): ``max_len`` is the longest input in
    tokens (the context), ``d_model`` the model width (a multiple of ``num_heads``), ``num_layers``
    the decoder blocks, ``d_ff`` the MLP width (default ``4 * d_model``). Hugging Face's
    ``GPT2Config`` calls them ``n_positions``, ``n_embd``, ``n_layer``, ``n_head`` and ``n_inner``
    (and answers to ``max_position_embeddings``, ``hidden_size``, ``num_hidden_layers`` and
    ``num_attention_heads``): :func:`speechlm.gpt.to_hf` maps them."""

    vocab_size: int
    max_len: int = 64
    d_model: int = 128
    num_layers: int = 2
    num_heads: int = 4
    d_ff: int | None = None
    dropout: float = 0.0
    layer_norm_eps: float = 1e-5
    init_std: float = 0.02

    def __post_init__(self):
        if self.d_model % self.num_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of num_heads ({self.num_heads})")
        if self.d_ff is None:
            self.d_ff = 4 * self.d_model


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
        self.heads = cfg.num_heads
        self.dropout_p = cfg.dropout
        self.ln_1 = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.attn_proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.ln_2 = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.fc = nn.Linear(cfg.d_model, cfg.d_ff)
        self.fc_proj = nn.Linear(cfg.d_ff, cfg.d_model)
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
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.wpe = nn.Embedding(cfg.max_len, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.num_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        for name, p in self.named_parameters():  # GPT-2's initialisation
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() == 2:
                residual = name.endswith(("attn_proj.weight", "fc_proj.weight"))
                nn.init.normal_(p, std=cfg.init_std / (math.sqrt(2 * cfg.num_layers) if residual else 1.0))

    def forward(self, ids: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        if ids.dim() != 2:
            raise ValueError(f"expected token ids of shape (batch, time), got {tuple(ids.shape)}")
        past = len(cache) if cache is not None else 0
        if past + ids.shape[1] > self.cfg.max_len:
            raise ValueError(
                f"{past} cached + {ids.shape[1]} new tokens exceed the context of {self.cfg.max_len}: "
                "crop the input to its last `context` tokens"
            )
        pos = torch.arange(past, past + ids.shape[1], device=ids.device)
        x = self.drop(self.wte(ids) + self.wpe(pos))
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer, past)
        return F.linear(self.ln_f(x), self.wte.weight)  # tied output layer
