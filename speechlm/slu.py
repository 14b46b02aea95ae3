"""Spoken language understanding: intent and slots of a voice command, straight from speech (notebook 14).

A smart speaker maps "turn on the kitchen lights" to ``intent="activate_lights"``,
``action="activate"``, ``device="lights"``, ``room="kitchen"`` (``"none"`` when
no room is said). :class:`SLUModel` reads the log-mel frames with a
:class:`~speechlm.ssl.SpeechEncoder`, mixes its layers with learned softmax
weights (as SUPERB does), and gives each field its own attentive pooling (a
learned query that looks for the frames of its words, e.g. "kitchen" for the
room) and its own classifier. :func:`train_slu` trains the head on a frozen
encoder, or everything end to end; :func:`predict` turns audio into a dict of
labels with probabilities; :func:`slu_scores` measures per-field accuracy
and exact match (every field right).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from speechlm.augment import SpecAugment, spec_augment
from speechlm.batching import lengths_to_mask, pad_sequences, shuffled_batches
from speechlm.features import SAMPLE_RATE, encoder_lengths, log_mel_features
from speechlm.optim import scheduler
from speechlm.ssl.encoder import SpeechEncoder
from speechlm.train import fit, release_free_memory
from speechlm.workers import memory_is_short

__all__ = [
    "FIELDS",
    "SLUConfig",
    "SLUHead",
    "SLUItem",
    "SLUModel",
    "SlotVocab",
    "compose_intent",
    "decode",
    "evaluate",
    "majority_baseline",
    "predict",
    "predict_items",
    "prepare_slu",
    "recognise",
    "slu_scores",
    "top_confusions",
    "train_slu",
]

FIELDS = ("intent", "action", "device", "room")  # the labels of the corpus's "commands" task
IGNORE = -100  # target index of a label never seen in training: no loss, always an error


@dataclass(frozen=True)
class SlotVocab:
    """The classes of each field, from training labels: ``classes["room"] = ("bathroom", ...)``."""

    classes: dict[str, tuple[str, ...]]

    @classmethod
    def from_labels(cls, labels: Sequence[dict], fields: Sequence[str] = FIELDS) -> SlotVocab:
        """Collect the sorted classes of ``fields`` from label dicts (e.g. ``u.labels`` of commands)."""
        if not labels:
            raise ValueError("SlotVocab needs at least one label dict")
        missing = [f for f in fields if any(f not in lab for lab in labels)]
        if missing:
            raise ValueError(f"every label dict needs the fields {tuple(fields)}; missing {missing[0]!r}")
        return cls({f: tuple(sorted({str(lab[f]) for lab in labels})) for f in fields})

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.classes)

    def encode(self, labels: dict) -> torch.Tensor:
        """``(n_fields,)`` int64 class indices; a label unseen in training gets ``IGNORE`` (-100)."""
        index = [{c: i for i, c in enumerate(self.classes[f])} for f in self.fields]
        return torch.tensor(
            [ix.get(str(labels[f]), IGNORE) for ix, f in zip(index, self.fields, strict=True)]
        )


@dataclass
class SLUItem:
    """A prepared utterance: ``mels (mel_frames, n_mels)``, ``targets (n_fields,)``, its ``labels``."""

    mels: torch.Tensor
    targets: torch.Tensor
    labels: dict


def prepare_slu(utterances: Sequence, vocab: SlotVocab) -> list[SLUItem]:
    """Log-mel features and field targets of utterances (with ``.audio``, ``.sample_rate``, ``.labels``)."""
    return [
        SLUItem(log_mel_features(u.audio, u.sample_rate), vocab.encode(u.labels), dict(u.labels))
        for u in utterances
    ]


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
        self.layer_logits = nn.Parameter(torch.zeros(n_layers))
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

    @property
    def layer_weights(self) -> torch.Tensor:
        """``(n_layers,)`` softmax weights of the layer mix."""
        return torch.softmax(self.layer_logits, dim=0)

    def forward(self, layers: torch.Tensor, padding_mask: torch.Tensor) -> tuple[dict, torch.Tensor]:
        if layers.ndim != 4 or layers.shape[1] != len(self.layer_logits):
            raise ValueError(
                f"expected layers (batch, {len(self.layer_logits)}, frames, d), got {tuple(layers.shape)}"
            )
        keep = (~padding_mask)[..., None].to(layers.dtype)
        x = self.project(torch.einsum("l,blfd->bfd", self.layer_weights, layers)) * keep
        for conv in self.context:  # residual convolutions: each frame sees its neighbours' words
            x = x + F.gelu(conv(x.transpose(1, 2))).transpose(1, 2) * keep
        scores = self.queries(x).transpose(1, 2).masked_fill(padding_mask[:, None, :], float("-inf"))
        attention = torch.softmax(scores, dim=-1)  # (batch, fields, frames)
        pooled = attention @ x  # (batch, fields, d_model)
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


def _collate(items: Sequence[SLUItem]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    mels, mel_lengths = pad_sequences([it.mels for it in items])
    return mels, mel_lengths, torch.stack([it.targets for it in items])


def _loss(logits: dict, targets: torch.Tensor) -> torch.Tensor:
    return sum(
        F.cross_entropy(lg, targets[:, i], ignore_index=IGNORE) for i, lg in enumerate(logits.values())
    )


@torch.no_grad()
def _frozen_layers(
    model: SLUModel, items: Sequence[SLUItem], batch_size: int = 32, trim: bool = False
) -> list[torch.Tensor]:
    """Each item's ``(n_layers, frames, d_model)`` encoder outputs (eval mode), computed once; copied
    out of its padded batch, so that the padding is freed with the batch. ``trim``: hand the heap
    back after every batch (where memory is short)."""
    model.eval()
    out = []
    for start in range(0, len(items), batch_size):
        mels, mel_lengths, _ = _collate(items[start : start + batch_size])
        layers, padding_mask = model.encode(mels, mel_lengths)
        out.extend(lay[:, : int(n)].clone() for lay, n in zip(layers, (~padding_mask).sum(1), strict=True))
        del layers, padding_mask, mels
        if trim:
            release_free_memory()
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
    trim = memory_is_short()  # Binder: hand the heap back after every step (variable-length batches)
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
                layers, lengths = pad_sequences([frozen[i].transpose(0, 1) for i in batch])
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
        release_free_memory()
    return model.eval()


@torch.no_grad()
def predict_items(model: SLUModel, items: Sequence[SLUItem], batch_size: int = 32) -> dict[str, np.ndarray]:
    """Class probabilities ``{field: (n_items, n_classes)}`` of prepared items (eval mode)."""
    was_training = model.training
    model.eval()
    probs: dict[str, list] = {f: [] for f in model.vocab.fields}
    for start in range(0, len(items), batch_size):
        mels, mel_lengths, _ = _collate(items[start : start + batch_size])
        logits, _ = model(mels, mel_lengths)
        for f, lg in logits.items():
            probs[f].append(torch.softmax(lg, dim=-1).numpy())
    model.train(was_training)
    return {f: np.concatenate(p) for f, p in probs.items()}


def decode(vocab: SlotVocab, probs: dict[str, np.ndarray]) -> list[dict]:
    """The most probable label of each field: ``[{field: (label, probability)}]`` (one dict per row)."""
    n = len(next(iter(probs.values())))
    best = {f: p.argmax(axis=1) for f, p in probs.items()}
    return [
        {f: (vocab.classes[f][best[f][i]], float(probs[f][i, best[f][i]])) for f in vocab.fields}
        for i in range(n)
    ]


def predict(model: SLUModel, audios: Sequence[np.ndarray], sample_rate: int = SAMPLE_RATE) -> list[dict]:
    """Recognise each clip (mono float32 at 16 kHz): ``[{field: (label, probability)}]``, e.g.
    ``{"intent": ("activate_lights", 0.97), "room": ("kitchen", 0.99), ...}``."""
    if isinstance(audios, np.ndarray) and audios.ndim == 1:
        raise ValueError("predict takes a list of clips: wrap a single clip as [audio]")
    items = [SLUItem(log_mel_features(a, sample_rate), torch.zeros(0), {}) for a in audios]
    return decode(model.vocab, predict_items(model, items)) if items else []


def compose_intent(action: str, device: str) -> str:
    """The corpus's intent of an action and a device: ``("lock", "back door")`` -> ``"lock_back_door"``."""
    if not action or not device:
        raise ValueError(f"action and device must be non-empty strings, got {action!r} and {device!r}")
    return f"{action}_{device.replace(' ', '_')}"


def recognise(model: SLUModel, source, sample_rate: int | None = None) -> dict:
    """Recognise one command from a WAV/FLAC path or a mono array: ``{field: (label, probability)}``.

    A file is read with :func:`speechlm.audio.load` (channels averaged,
    resampled to 16 kHz); an array is taken at ``sample_rate`` (default 16 kHz)
    and resampled if needed.
    """
    from speechlm import audio as audio_io

    if isinstance(source, str | Path):
        samples, _ = audio_io.load(source, sample_rate=SAMPLE_RATE)
    else:
        samples = audio_io.to_mono(source)
        if sample_rate is not None and sample_rate != SAMPLE_RATE:
            samples = audio_io.resample(samples, sample_rate, SAMPLE_RATE)
    return predict(model, [samples])[0]


def evaluate(model: SLUModel, items: Sequence[SLUItem]) -> dict:
    """:func:`slu_scores` of the model's predictions on prepared items."""
    return slu_scores(
        decode(model.vocab, predict_items(model, items)), [it.labels for it in items], model.vocab.fields
    )


def top_confusions(predictions: Sequence[dict], references: Sequence[dict], field: str, k: int = 5) -> list:
    """The ``k`` most frequent errors of ``field``: ``[((true, predicted), count)]``, most frequent first."""
    errors = Counter(
        (str(r[field]), _label(p[field]))
        for p, r in zip(predictions, references, strict=True)
        if _label(p[field]) != str(r[field])
    )
    return errors.most_common(k)


def _label(value) -> str:
    return value[0] if isinstance(value, tuple) else str(value)


def slu_scores(
    predictions: Sequence[dict], references: Sequence[dict], fields: Sequence[str] = FIELDS
) -> dict:
    """Accuracy of each field and ``"exact_match"`` (the share with every field right).

    ``predictions``: dicts of labels or of ``(label, probability)`` (as :func:`predict` gives);
    ``references``: label dicts such as ``u.labels``.
    """
    if len(predictions) != len(references) or not references:
        raise ValueError(
            f"need as many predictions as references (>0), got {len(predictions)} and {len(references)}"
        )
    right = np.array(
        [[_label(p[f]) == str(r[f]) for f in fields] for p, r in zip(predictions, references, strict=True)]
    )
    scores = {f: float(right[:, i].mean()) for i, f in enumerate(fields)}
    scores["exact_match"] = float(right.all(axis=1).mean())
    return scores


def majority_baseline(
    train_labels: Sequence[dict], test_labels: Sequence[dict], fields: Sequence[str] = FIELDS
) -> dict:
    """:func:`slu_scores` of always answering each field's most frequent training label."""
    guess = {f: Counter(str(lab[f]) for lab in train_labels).most_common(1)[0][0] for f in fields}
    return slu_scores([guess] * len(test_labels), test_labels, fields)
