"""Fine-tuning a speech encoder for character-level speech recognition with CTC (notebook 12).

The recipe, the same for a pretrained and a from-scratch encoder so that the
comparison is fair:

- a :class:`~speechlm.ctc.CTCHead` (linear layer over characters plus blank) on the encoder output,
  or (``head="layer_mix"``) a :class:`LayerMixCTCHead`: a learned weighted sum of every layer, as in
  SUPERB, then a small bidirectional GRU and the linear layer;
- AdamW with two learning rates, one for the head and one (usually lower) for the encoder;
- the encoder optionally frozen for the first ``freeze_steps`` (run in eval mode without gradients),
  so that a randomly initialised head does not wreck pretrained features, then unfrozen;
  ``freeze_steps >= steps`` keeps it frozen throughout (only the head trains);
- linear warm-up and linear decay; SpecAugment-style time and frequency masks on the log-mel input;
- the dev CER is measured every ``eval_every`` steps and the best checkpoint is kept.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from speechlm import metrics, workers
from speechlm.augment import SpecAugment, spec_augment
from speechlm.batching import pad_sequences, shuffled_batches
from speechlm.ctc import CharVocab, CTCHead, ctc_greedy_decode, normalize_text
from speechlm.features import log_mel_features
from speechlm.heads import LayerMix
from speechlm.optim import scheduler
from speechlm.ssl.encoder import SpeechEncoder, run_encoder
from speechlm.train import fit

__all__ = [
    "ASRItem",
    "CTCModel",
    "FinetuneConfig",
    "LayerMixCTCHead",
    "evaluate_asr",
    "finetune_ctc",
    "prepare",
    "transcribe",
]


@dataclass
class ASRItem:
    """One utterance ready for CTC: ``mels (mel_frames, n_mels)``, ``targets (n_chars,)`` label ids
    and the normalised ``text``."""

    mels: torch.Tensor
    targets: torch.Tensor
    text: str


def prepare(utterances: Sequence, vocab: CharVocab) -> list[ASRItem]:
    """Log-mel features and character targets of utterances (with ``.audio``, ``.sample_rate``, ``.text``)."""
    items = []
    for u in utterances:
        text = normalize_text(u.text)
        if not text:
            raise ValueError(f"utterance {getattr(u, 'id', '')!r} has no transcript characters: {u.text!r}")
        items.append(
            ASRItem(log_mel_features(u.audio, u.sample_rate), torch.tensor(vocab.encode(text)), text)
        )
    return items


class LayerMixCTCHead(nn.Module):
    """A CTC head on every layer of an encoder: a :class:`LayerMix`, then dropout, a bidirectional
    GRU of ``hidden`` units per direction and a linear layer give ``(batch, frames, n_classes)``
    log-probabilities."""

    def __init__(
        self, num_layers: int, d_model: int, n_classes: int, hidden: int = 128, dropout: float = 0.1
    ):
        super().__init__()
        if hidden < 1:
            raise ValueError(f"need hidden >= 1, got {hidden}")
        self.mix = LayerMix(num_layers, d_model)
        self.dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(d_model, hidden, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * hidden, n_classes)

    def forward(self, layers: Sequence[torch.Tensor], lengths: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.mix(layers))
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        y, _ = self.gru(packed)
        y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
        return self.proj(self.dropout(y)).log_softmax(dim=-1)


class CTCModel(nn.Module):
    """An encoder and a CTC head: ``(mels, mel_lengths)`` to ``(log_probs (batch, frames, classes),
    lengths (batch,))``.

    ``head="linear"``: a :class:`~speechlm.ctc.CTCHead` on the last layer; ``head="layer_mix"``: a
    :class:`LayerMixCTCHead` on all layers. While :attr:`frozen` is True the encoder runs in eval mode
    without gradients (only the head learns)."""

    def __init__(
        self,
        encoder: SpeechEncoder,
        n_classes: int,
        dropout: float = 0.1,
        head: str = "linear",
        hidden: int = 128,
    ):
        super().__init__()
        if head not in ("linear", "layer_mix"):
            raise ValueError(f"head must be 'linear' or 'layer_mix', got {head!r}")
        self.encoder = encoder
        self.frozen = False
        if head == "linear":
            self.head = CTCHead(encoder.config.d_model, n_classes, dropout)
        else:
            self.head = LayerMixCTCHead(
                encoder.config.num_layers + 1, encoder.config.d_model, n_classes, hidden, dropout
            )

    def forward(self, mels: torch.Tensor, mel_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = run_encoder(self.encoder, mels, mel_lengths, self.frozen)
        if isinstance(self.head, LayerMixCTCHead):
            return self.head(out.layers, out.lengths), out.lengths
        return self.head(out.hidden), out.lengths


@dataclass(frozen=True)
class FinetuneConfig:
    """Fine-tuning settings (defaults: the course's recipe)."""

    steps: int = 600
    batch_size: int = 8
    lr_head: float = 2e-3
    lr_encoder: float = 5e-4
    freeze_steps: int = 0  # encoder frozen for these first steps (>= steps: frozen throughout)
    warmup_steps: int = 60
    weight_decay: float = 0.01
    freq_masks: int = 2  # SpecAugment: number of frequency masks, each up to freq_width bands
    freq_width: int = 8
    time_masks: int = 2  # and of time masks, each up to time_width log-mel frames
    time_width: int = 10
    eval_every: int = 100
    seed: int = 0

    @property
    def masks(self) -> SpecAugment:
        """The SpecAugment settings among these (kept here, flat, because they are part of the
        recogniser's recipe and so of its cache key)."""
        return SpecAugment(self.freq_masks, self.freq_width, self.time_masks, self.time_width)


def _collate(items: Sequence[ASRItem]):
    mels, mel_lengths = pad_sequences([it.mels for it in items])
    targets, target_lengths = pad_sequences([it.targets for it in items])
    return mels, mel_lengths, targets, target_lengths


@torch.no_grad()
def transcribe(
    model: CTCModel, items: Sequence[ASRItem | torch.Tensor], vocab: CharVocab, batch_size: int = 32
) -> list[str]:
    """Greedy CTC transcripts of ``items``, :class:`ASRItem` or log-mel tensors ``(frames, n_mels)``
    (eval mode; the model's mode is restored). Where memory is short (Binder) the C heap is handed
    back after every batch."""
    was_training = model.training
    model.eval()
    features = [it if isinstance(it, torch.Tensor) else it.mels for it in items]
    texts = []
    trim = workers.memory_is_short()
    for start in range(0, len(features), batch_size):
        mels, mel_lengths = pad_sequences(features[start : start + batch_size])
        log_probs, lengths = model(mels, mel_lengths)
        texts.extend(vocab.decode(ids) for ids in ctc_greedy_decode(log_probs, lengths))
        del mels, log_probs
        if trim:
            workers.release_free_memory()
    model.train(was_training)
    return texts


def evaluate_asr(model: CTCModel, items: Sequence[ASRItem], vocab: CharVocab) -> dict[str, float]:
    """Corpus-level ``{"cer": ..., "wer": ...}`` of greedy transcripts against the items' texts."""
    hyps = transcribe(model, items, vocab)
    refs = [it.text for it in items]
    return {"cer": metrics.cer(refs, hyps), "wer": metrics.wer(refs, hyps)}


def finetune_ctc(
    encoder: SpeechEncoder,
    train_items: Sequence[ASRItem],
    dev_items: Sequence[ASRItem],
    vocab: CharVocab,
    config: FinetuneConfig | None = None,
    *,
    head: str = "linear",
    hidden: int = 128,
    progress: bool = True,
) -> tuple[CTCModel, dict]:
    """Fine-tune a copy of ``encoder`` with a new CTC head (``head``, ``hidden``: see
    :class:`CTCModel`) on ``train_items``.

    Returns the model at the step with the lowest dev CER (eval mode) and
    ``info`` with ``"best_dev_cer"``, ``"best_step"`` and the dev CER history
    ``"dev_cer"`` (a list of ``(step, cer)``). Deterministic for a given ``config.seed``.
    """
    if not train_items or not dev_items:
        raise ValueError("fine-tuning needs at least one training and one dev item")
    config = config or FinetuneConfig()
    torch.manual_seed(config.seed)
    model = CTCModel(copy.deepcopy(encoder).train(), len(vocab), head=head, hidden=hidden)
    optimizer = torch.optim.AdamW(
        [{"params": model.head.parameters(), "lr": config.lr_head},
         {"params": model.encoder.parameters(), "lr": config.lr_encoder}],
        weight_decay=config.weight_decay,
    )  # fmt: skip
    generator = torch.Generator().manual_seed(config.seed)
    order = shuffled_batches(len(train_items), config.batch_size, np.random.default_rng(config.seed))

    def batches():
        for batch in order:
            mels, mel_lengths, targets, target_lengths = _collate([train_items[i] for i in batch])
            yield (
                spec_augment(mels, mel_lengths, config.masks, generator),
                mel_lengths,
                targets,
                target_lengths,
            )

    def before_step(step: int) -> None:
        model.frozen = step <= config.freeze_steps  # the encoder learns from step freeze_steps + 1
        if not model.frozen:
            model.encoder.train()  # a frozen step left it in eval mode

    def step_fn(model: CTCModel, batch) -> torch.Tensor:
        mels, mel_lengths, targets, target_lengths = batch
        log_probs, lengths = model(mels, mel_lengths)
        return nn.functional.ctc_loss(
            log_probs.transpose(0, 1), targets, lengths, target_lengths, zero_infinity=True
        )

    # the encoder's rate stays 0 while it is frozen, then warms up again
    starts = [0, config.freeze_steps]
    history = fit(
        model,
        batches(),
        optimizer=optimizer,
        steps=config.steps,
        step_fn=step_fn,
        scheduler=scheduler(optimizer, config.steps, config.warmup_steps, starts=starts),
        grad_clip=5.0,
        eval_every=config.eval_every,
        before_step=before_step,
        eval_fn=lambda model: evaluate_asr(model, dev_items, vocab),
        keep_best="cer",
        progress=progress,
        desc="CTC fine-tuning",
    )
    model.frozen = False
    info = {
        "best_dev_cer": history.best,
        "best_step": history.best_step,
        "dev_cer": list(zip(history.eval_steps, history.eval["cer"], strict=True)),
    }
    return model.eval(), info
