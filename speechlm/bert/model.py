"""The BERT model and its pretraining loss (notebook 08); see :mod:`speechlm.bert`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class BertConfig:
    """Sizes of a BERT (defaults: a tiny one that pretrains in a minute on a CPU), in the course's one
    vocabulary (as :class:`~speechlm.gpt.GPTConfig` and :class:`~speechlm.ssl.EncoderConfig`).

    ``d_model`` is the model width, ``num_heads`` must divide it, ``num_layers`` is the number of
    encoder layers, ``d_ff`` the feed-forward width, ``max_len`` the longest input in tokens,
    ``type_vocab`` the number of segments (2: sentence A and B). Hugging Face's ``BertConfig`` calls
    them ``hidden_size``, ``num_attention_heads``, ``num_hidden_layers``, ``intermediate_size``,
    ``max_position_embeddings`` and ``type_vocab_size``: :func:`speechlm.bert.to_hf` maps them.
    """

    vocab_size: int
    d_model: int = 128
    num_layers: int = 2
    num_heads: int = 4
    d_ff: int = 512
    max_len: int = 64
    type_vocab: int = 2
    dropout: float = 0.1
    attention_dropout: float = 0.1
    layer_norm_eps: float = 1e-12
    pad_id: int = 0
    init_std: float = 0.02

    def __post_init__(self):
        if self.d_model % self.num_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of num_heads ({self.num_heads})")
        if self.vocab_size < 1 or self.num_layers < 1:
            raise ValueError(
                f"vocab_size and num_layers must be positive, got {self.vocab_size}, {self.num_layers}"
            )


class BertOutput(NamedTuple):
    """What :class:`Bert` returns: ``mlm_logits`` ``(batch, time, vocab)``,
    ``nsp_logits`` ``(batch, 2)``, ``hidden`` ``(batch, time, hidden)``, ``pooled`` ``(batch, hidden)``."""

    mlm_logits: torch.Tensor
    nsp_logits: torch.Tensor
    hidden: torch.Tensor
    pooled: torch.Tensor


class EncoderLayer(nn.Module):
    """A post-LN encoder layer: ``x = LN(x + Attn(x))``, then ``x = LN(x + FFN(x))``."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.heads = cfg.num_heads
        self.attention_dropout = cfg.attention_dropout
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.attn_out = nn.Linear(cfg.d_model, cfg.d_model)
        self.attn_norm = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.ff_in = nn.Linear(cfg.d_model, cfg.d_ff)
        self.ff_out = nn.Linear(cfg.d_ff, cfg.d_model)
        self.ff_norm = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        """``x`` ``(batch, time, hidden)``; ``key_mask`` ``(batch, 1, 1, time)``, True at visible keys."""
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(
            q, k, v, attn_mask=key_mask, dropout_p=self.attention_dropout if self.training else 0.0
        )
        a = a.transpose(1, 2).reshape(b, t, d)
        x = self.attn_norm(x + self.dropout(self.attn_out(a)))
        h = self.ff_out(F.gelu(self.ff_in(x)))
        return self.ff_norm(x + self.dropout(h))


class Bert(nn.Module):
    """BERT with its two pretraining heads (notebook 08).

    ``forward(input_ids, token_type_ids=None, attention_mask=None)`` takes
    ``(batch, time)`` integer tensors (token types default to 0, the mask to
    "everything but ``[PAD]``") and returns a :class:`BertOutput`.
    """

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.cfg = cfg
        self.word_emb = nn.Embedding(cfg.vocab_size, cfg.d_model, padding_idx=cfg.pad_id)
        self.pos_emb = nn.Embedding(cfg.max_len, cfg.d_model)
        self.type_emb = nn.Embedding(cfg.type_vocab, cfg.d_model)
        self.emb_norm = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.num_layers))
        self.pooler = nn.Linear(cfg.d_model, cfg.d_model)
        self.mlm_dense = nn.Linear(cfg.d_model, cfg.d_model)
        self.mlm_norm = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.mlm_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.nsp = nn.Linear(cfg.d_model, 2)
        self.apply(self._init)

    def _init(self, module: nn.Module) -> None:
        """BERT's initialisation: normal(0, 0.02) weights, zero biases, unit LayerNorms."""
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=self.cfg.init_std)
        if isinstance(module, nn.Linear):
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            nn.init.zeros_(module.weight[module.padding_idx])

    def encode(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The encoder's last hidden states ``(batch, time, hidden)``."""
        if input_ids.dim() != 2:
            raise ValueError(f"expected input_ids of shape (batch, time), got {tuple(input_ids.shape)}")
        t = input_ids.shape[1]
        if t > self.cfg.max_len:
            raise ValueError(f"input of {t} tokens is longer than max_len={self.cfg.max_len}: truncate it")
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        if attention_mask is None:
            attention_mask = input_ids != self.cfg.pad_id
        pos = torch.arange(t, device=input_ids.device)
        x = self.word_emb(input_ids) + self.type_emb(token_type_ids) + self.pos_emb(pos)
        x = self.dropout(self.emb_norm(x))
        key_mask = attention_mask.bool()[:, None, None, :]
        for layer in self.layers:
            x = layer(x, key_mask)
        return x

    def forward(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        mlm_mask: torch.Tensor | None = None,
    ) -> BertOutput:
        """Both heads. With ``mlm_mask`` ``(batch, time)`` (True at the chosen
        positions), the MLM head runs only there and ``mlm_logits`` is
        ``(n_chosen, vocab)``: the same numbers, several times cheaper in pretraining."""
        hidden = self.encode(input_ids, token_type_ids, attention_mask)
        pooled = torch.tanh(self.pooler(hidden[:, 0]))
        h = hidden if mlm_mask is None else hidden[mlm_mask]
        h = self.mlm_norm(F.gelu(self.mlm_dense(h)))
        mlm_logits = F.linear(h, self.word_emb.weight, self.mlm_bias)  # tied to the input embeddings
        return BertOutput(mlm_logits, self.nsp(pooled), hidden, pooled)


def pretraining_loss(
    out: BertOutput, mlm_labels: torch.Tensor, nsp_labels: torch.Tensor | None = None
) -> torch.Tensor:
    """BERT's pretraining loss: mean MLM cross-entropy over positions whose
    label is not ``-100``, plus (unless ``nsp_labels`` is None, the "no NSP"
    ablation) the NSP cross-entropy over pairs whose label is not ``-100``.
    ``mlm_labels`` has ``out.mlm_logits``' shape without the vocabulary axis,
    ``nsp_labels`` is ``(batch,)`` with 0 = IsNext, 1 = NotNext."""
    vocab = out.mlm_logits.shape[-1]
    loss = F.cross_entropy(out.mlm_logits.reshape(-1, vocab), mlm_labels.reshape(-1), ignore_index=-100)
    if nsp_labels is not None:
        loss = loss + F.cross_entropy(out.nsp_logits, nsp_labels)
    return loss


def mlm_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of chosen positions (label != -100) whose arg-max prediction is the original token."""
    chosen = labels != -100
    if not chosen.any():
        raise ValueError("no position is chosen (every label is -100)")
    return float((logits.argmax(-1)[chosen] == labels[chosen]).float().mean())
