"""Training a voice-command model: on a frozen encoder's outputs or end to end (notebook 14)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from speechlm import workers
from speechlm.augment import SpecAugment, spec_augment
from speechlm.batching import lengths_to_mask, pad_sequences, shuffled_batches
from speechlm.optim import scheduler
from speechlm.ssl.encoder import SpeechEncoder, encode_utterances
from speechlm.train import fit
from speechlm.voice_commands.data import UNSEEN_LABEL, SlotVocab, SLUItem, _collate
from speechlm.voice_commands.model import SLUModel


@dataclass(frozen=True)
class SLUConfig:
    """Training settings (defaults: notebook 14's recipe)."""

    steps: int = 400
    batch_size: int = 16
    lr_head: float = 2e-3
    lr_encoder: float = 5e-4
    freeze_encoder: bool = True  # train the head only, on encoder outputs computed once
    warmup_steps: int = 40
    weight_decay: float = 0.01
    spec_augment: bool = True  # SpecAugment masks (end-to-end training only)
    width: int = 144  # the head's channels
    dropout: float = 0.1
    seed: int = 0


def _loss(logits: dict, targets: torch.Tensor) -> torch.Tensor:
    return sum(
        F.cross_entropy(lg, targets[:, i], ignore_index=UNSEEN_LABEL) for i, lg in enumerate(logits.values())
    )


@torch.no_grad()
def _frozen_layers(
    model: SLUModel, items: Sequence[SLUItem], batch_size: int = 32, trim: bool = False
) -> list[torch.Tensor]:
    """Each item's ``(frames, n_layers, d)`` head inputs, computed once (eval mode): the encoder's
    layers (:func:`~speechlm.ssl.encoder.encode_utterances`) or, without an encoder, the log-mel
    frames stacked in pairs (:meth:`SLUModel.encode`); copied out of their padded batch, so that
    the padding is freed with the batch. ``trim``: hand the heap back after every batch."""
    model.eval()
    if model.encoder is not None:
        return encode_utterances(model.encoder, [it.mels for it in items], batch_size=batch_size)
    out = []
    for start in range(0, len(items), batch_size):
        mels, mel_lengths, _ = _collate(items[start : start + batch_size])
        layers, padding_mask = model.encode(mels, mel_lengths)
        out.extend(
            lay[:, : int(n)].transpose(0, 1).clone()
            for lay, n in zip(layers, (~padding_mask).sum(1), strict=True)
        )
        del layers, padding_mask, mels
        if trim:
            workers.release_free_memory()
    return out


def train_slu(
    encoder: SpeechEncoder | None,
    train_items: Sequence[SLUItem],
    vocab: SlotVocab,
    config: SLUConfig | None = None,
    *,
    progress: bool = True,
) -> SLUModel:
    """Train an :class:`SLUModel` on a copy of ``encoder`` (None: log-mel frames) for ``config.steps`` steps.

    With ``freeze_encoder`` only the head learns, on encoder outputs computed
    once (fast); otherwise the encoder is fine-tuned too (``lr_encoder``, with
    SpecAugment). Warm-up then linear decay; deterministic for a given
    ``config.seed``. Returns the model in eval mode.
    """
    if not train_items:
        raise ValueError("train_slu needs at least one training item")
    config = config or SLUConfig()
    if config.steps < 1 or config.batch_size < 1 or config.warmup_steps < 0:
        raise ValueError(
            f"need steps >= 1, batch_size >= 1 and warmup_steps >= 0, got {config.steps}, "
            f"{config.batch_size} and {config.warmup_steps}"
        )
    torch.manual_seed(config.seed)
    end_to_end = encoder is not None and not config.freeze_encoder
    n_mels = train_items[0].mels.shape[1]
    model = SLUModel(copy.deepcopy(encoder), vocab, n_mels=n_mels, width=config.width, dropout=config.dropout)
    trim = workers.memory_is_short()  # Binder: hand the heap back after every step (variable-length batches)
    frozen = None if end_to_end else _frozen_layers(model, train_items, trim=trim)
    if encoder is not None:
        model.encoder.requires_grad_(end_to_end)
    groups = [{"params": model.head.parameters(), "lr": config.lr_head}]
    if end_to_end:
        groups.append({"params": model.encoder.parameters(), "lr": config.lr_encoder})
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    masking = SpecAugment()
    generator = torch.Generator().manual_seed(config.seed)
    order = shuffled_batches(len(train_items), config.batch_size, np.random.default_rng(config.seed))

    def batches():
        for batch in order:
            targets = torch.stack([train_items[i].targets for i in batch])
            if frozen is not None:
                layers, lengths = pad_sequences([frozen[i] for i in batch])
                yield layers.transpose(1, 2), ~lengths_to_mask(lengths, layers.shape[1]), targets
            else:
                mels, mel_lengths, _ = _collate([train_items[i] for i in batch])
                if config.spec_augment:
                    mels = spec_augment(mels, mel_lengths, masking, generator)
                yield mels, mel_lengths, targets

    def step_fn(trained: nn.Module, batch) -> torch.Tensor:
        *inputs, targets = batch
        logits, _ = trained(*inputs)
        return _loss(logits, targets)

    # a frozen encoder's outputs were computed once: only the head trains, on them
    fit(
        model if frozen is None else model.head,
        batches(),
        optimizer=optimizer,
        steps=config.steps,
        step_fn=step_fn,
        scheduler=scheduler(optimizer, config.steps, config.warmup_steps),
        grad_clip=5.0,
        release_memory=trim,
        progress=progress,
        desc="SLU training",
    )
    if trim:
        frozen = None  # the inputs computed once
        workers.release_free_memory()
    return model.eval()
