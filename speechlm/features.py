"""Input features and frame rates of the speech encoder (notebooks 10-12).

The encoder reads log-mel frames at 100 frames/s (25 ms windows, 10 ms hop)
and its convolutional front end halves the rate to 50 frames/s, one frame per
20 ms, as in wav2vec 2.0 and HuBERT. HuBERT's first-iteration targets are
k-means clusters of MFCC with deltas computed at the encoder's 50 frames/s,
so that target ``j`` and encoder frame ``j`` describe the same instant
(``j * 20 ms``; both use centred frames).
"""

from __future__ import annotations

import numpy as np
import torch

from speechlm import dsp
from speechlm.audio import SAMPLE_RATE

__all__ = [
    "ENCODER_FRAME_RATE_HZ",
    "MEL_FRAME_RATE_HZ",
    "SAMPLE_RATE",
    "encoder_lengths",
    "log_mel_features",
    "mfcc_features",
]

MEL_HOP = 160  # 10 ms
ENCODER_HOP = 320  # 20 ms, after the x2 subsampling
MEL_FRAME_RATE_HZ = SAMPLE_RATE / MEL_HOP
ENCODER_FRAME_RATE_HZ = SAMPLE_RATE / ENCODER_HOP


def _check_audio(audio, sample_rate: int) -> np.ndarray:
    y = np.asarray(audio, dtype=np.float32)
    if sample_rate != SAMPLE_RATE:
        raise ValueError(
            f"the encoder expects {SAMPLE_RATE} Hz audio, got {sample_rate} Hz: resample it first"
        )
    if y.ndim != 1:
        raise ValueError(
            f"expected mono audio of shape (samples,), got shape {y.shape}: average the channels"
        )
    if y.size < 400:
        raise ValueError(f"audio of {y.size} samples is shorter than one 25 ms window (400 samples)")
    if not np.all(np.isfinite(y)):
        raise ValueError("audio contains NaN or inf")
    return y


def _normalise(x: np.ndarray) -> np.ndarray:
    """Per-utterance mean and variance normalisation of each feature (CMVN)."""
    return ((x - x.mean(axis=0)) / (x.std(axis=0) + 1e-5)).astype(np.float32)


def log_mel_features(audio, sample_rate: int = SAMPLE_RATE, n_mels: int = 80) -> torch.Tensor:
    """Encoder input: ``(n_frames, n_mels)`` float32 log-mel energies at 100 frames/s, normalised
    per utterance (zero mean, unit variance per mel band). ``n_frames = 1 + samples // 160``."""
    y = _check_audio(audio, sample_rate)
    log_mel = dsp.log_mel_spectrogram(y, SAMPLE_RATE, n_fft=400, hop_length=MEL_HOP, n_mels=n_mels)
    return torch.from_numpy(_normalise(log_mel))


def mfcc_features(audio, sample_rate: int = SAMPLE_RATE, n_mfcc: int = 13) -> np.ndarray:
    """HuBERT's iteration-1 k-means input: ``(n_frames, 3 * n_mfcc)`` MFCC, deltas and
    delta-deltas at 50 frames/s, normalised per utterance. ``n_frames = 1 + samples // 320``,
    the number of encoder frames (:func:`encoder_lengths`)."""
    y = _check_audio(audio, sample_rate)
    c = dsp.mfcc(y, SAMPLE_RATE, n_mfcc=n_mfcc, n_fft=400, hop_length=ENCODER_HOP, n_mels=40)
    d = dsp.deltas(c)
    return _normalise(np.concatenate([c, d, dsp.deltas(d)], axis=-1))


def encoder_lengths(mel_lengths: torch.Tensor) -> torch.Tensor:
    """Encoder frames for ``mel_lengths`` log-mel frames: ``ceil(n / 2)`` (kernel 3, stride 2, pad 1)."""
    return (torch.as_tensor(mel_lengths) + 1) // 2
