"""Recognising commands: probabilities, labels, audio files and arrays, and scores on prepared items
(notebook 14)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from speechlm.features import SAMPLE_RATE, log_mel_features
from speechlm.voice_commands.data import SlotVocab, SLUItem, _collate
from speechlm.voice_commands.metrics import slu_scores
from speechlm.voice_commands.model import SLUModel


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
