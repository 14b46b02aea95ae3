"""The attentive SLU head and the model that puts it on a speech encoder (notebook 14)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from speechlm.batching import lengths_to_mask
from speechlm.features import encoder_lengths
from speechlm.heads import LayerMix, attention_pool
from speechlm.ssl.encoder import SpeechEncoder
from speechlm.voice_commands.data import SlotVocab


class SLUHead(nn.Module):
    """Layer mix, context convolutions, one attentive pooling and one classifier per field.

    Input: ``layers (batch, n_layers, frames, d_in)`` (an encoder's per-layer
    outputs, or stacked log-mel frames with ``n_layers=1``) and ``padding_mask
    (batch, frames)`` (True at padding). The layers are mixed with softmax
    weights, projected to ``width`` channels, and two residual convolutions
    (``kernel`` frames, dilations 1 and 2: 13 frames = 0.26 s at 50 frames/s)
    let each frame see its word. Each field's query scores the frames;
    the softmax of the scores pools them into one vector per field. Output:
    ``{field: logits (batch, n_classes)}`` and the attention weights
    ``(batch, n_fields, frames)`` (which frames each field listened to).
    """

    def __init__(
        self,
        d_in: int,
        n_layers: int,
        vocab: SlotVocab,
        width: int = 144,
        kernel: int = 5,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.fields = vocab.fields
        self.mix = LayerMix(n_layers, norm=False)  # the projection's LayerNorm follows
        self.project = nn.Sequential(nn.LayerNorm(d_in), nn.Linear(d_in, width), nn.Dropout(dropout))
        self.context = nn.ModuleList(
            nn.Conv1d(width, width, kernel, padding=(kernel // 2) * dilation, dilation=dilation)
            for dilation in (1, 2)
        )
        self.queries = nn.Linear(width, len(self.fields))  # a score per frame and field
        self.classifiers = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Dropout(dropout), nn.Linear(width, len(c)))
            for c in vocab.classes.values()
        )

    def forward(self, layers: torch.Tensor, padding_mask: torch.Tensor) -> tuple[dict, torch.Tensor]:
        if layers.ndim != 4 or layers.shape[1] != self.mix.num_layers:
            raise ValueError(
                f"expected layers (batch, {self.mix.num_layers}, frames, d), got {tuple(layers.shape)}"
            )
        keep = (~padding_mask)[..., None].to(layers.dtype)
        x = self.project(self.mix(layers, dim=1)) * keep
        for conv in self.context:  # residual convolutions: each frame sees its neighbours' words
            x = x + F.gelu(conv(x.transpose(1, 2))).transpose(1, 2) * keep
        # one query per field: pooled (batch, fields, width), attention (batch, fields, frames)
        pooled, attention = attention_pool(x, self.queries(x).transpose(1, 2), padding_mask)
        logits = {
            f: clf(pooled[:, i]) for i, (f, clf) in enumerate(zip(self.fields, self.classifiers, strict=True))
        }
        return logits, attention


class SLUModel(nn.Module):
    """An encoder and an :class:`SLUHead`: ``(mels (batch, mel_frames, n_mels), mel_lengths)`` to
    ``({field: logits (batch, n_classes)}, attention (batch, n_fields, frames))``.

    ``encoder=None`` is the from-scratch baseline: the head reads the log-mel
    frames themselves, two stacked per step (50 steps/s, the encoder's rate).
    """

    def __init__(
        self,
        encoder: SpeechEncoder | None,
        vocab: SlotVocab,
        *,
        n_mels: int = 80,
        width: int = 144,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.encoder = encoder
        self.vocab = vocab
        if encoder is None:
            d_in, n_layers = 2 * n_mels, 1
        else:
            d_in, n_layers = encoder.config.d_model, encoder.config.num_layers + 1
        self.head = SLUHead(d_in, n_layers, vocab, width, dropout=dropout)

    def encode(self, mels: torch.Tensor, mel_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``layers (batch, n_layers, frames, d)`` and ``padding_mask (batch, frames)``, 50 frames/s."""
        if self.encoder is not None:
            out = self.encoder(mels, mel_lengths)
            return torch.stack(out.layers, dim=1), out.padding_mask
        mels = mels * lengths_to_mask(mel_lengths, mels.shape[1])[..., None]
        if mels.shape[1] % 2:
            mels = F.pad(mels, (0, 0, 0, 1))
        stacked = mels.reshape(mels.shape[0], mels.shape[1] // 2, 2 * mels.shape[2])
        lengths = encoder_lengths(mel_lengths)
        return stacked[:, None], ~lengths_to_mask(lengths, stacked.shape[1])

    def forward(self, mels: torch.Tensor, mel_lengths: torch.Tensor) -> tuple[dict, torch.Tensor]:
        return self.head(*self.encode(mels, mel_lengths))
