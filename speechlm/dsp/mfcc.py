"""Mel spectrograms and MFCC with librosa's conventions (notebook 03).

Everything is vectorised: the signal is framed with stride tricks, all frames
go through one real FFT, and the filterbank and DCT are single matrix
products with cached matrices. Outputs are time-major,
``(..., n_frames, n_features)``; librosa returns the transpose.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from speechlm.dsp._checks import as_signal, positive_float, positive_int
from speechlm.dsp.framing import power_spectrogram
from speechlm.dsp.mel import dct_matrix, mel_filterbank
from speechlm.dsp.mel import lifter as apply_lifter

__all__ = ["log_mel_spectrogram", "melspectrogram", "mfcc", "power_to_db"]


def melspectrogram(
    y: np.ndarray,
    sr: float,
    n_fft: int = 2048,
    hop_length: int = 512,
    win_length: int | None = None,
    window: str | np.ndarray = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    power: float = 2.0,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
) -> np.ndarray:
    """Mel energies ``(..., n_frames, n_mels)`` of ``y`` ``(..., time)``.

    The values of ``librosa.feature.melspectrogram`` (which is
    ``(..., n_mels, n_frames)``): ``|STFT|^power`` times the Slaney-normalised
    mel filterbank (:func:`speechlm.dsp.mel_filterbank`).
    """
    y = as_signal(y)
    sr = positive_float(sr, "sr")
    spec = power_spectrogram(y, n_fft, hop_length, win_length, window, center, pad_mode, power)
    return spec @ _mel_basis(sr, n_fft, n_mels, fmin, fmax, htk, spec.dtype.str)


def power_to_db(
    power: np.ndarray, ref: float = 1.0, amin: float = 1e-10, top_db: float | None = 80.0
) -> np.ndarray:
    """Decibels ``10 log10(max(power, amin) / ref)``, clipped to ``top_db`` below the peak.

    ``power`` is ``(..., n_frames, n_bins)``; the peak is taken per signal (over
    the last two axes), so every item of a batch is clipped on its own. For a
    single signal this is ``librosa.power_to_db``.
    """
    power = np.asarray(power)
    if amin <= 0:
        raise ValueError(f"amin must be positive, got {amin}")
    db = 10.0 * np.log10(np.maximum(power, amin))
    db -= 10.0 * np.log10(max(amin, ref))
    if top_db is not None:
        if top_db < 0:
            raise ValueError(f"top_db must be non-negative, got {top_db}")
        peak = db.max(axis=(-2, -1), keepdims=True) if db.ndim >= 2 else db.max()
        db = np.maximum(db, peak - top_db)
    return db


def log_mel_spectrogram(y: np.ndarray, sr: float, top_db: float | None = 80.0, **kwargs) -> np.ndarray:
    """Log-mel energies in dB, ``(..., n_frames, n_mels)``: ``power_to_db(melspectrogram(...))``.

    ``kwargs`` are those of :func:`melspectrogram`.
    """
    return power_to_db(melspectrogram(y, sr, **kwargs), top_db=top_db)


def mfcc(
    y: np.ndarray,
    sr: float,
    n_mfcc: int = 20,
    n_fft: int = 2048,
    hop_length: int = 512,
    win_length: int | None = None,
    window: str | np.ndarray = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    power: float = 2.0,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    norm: str | None = "ortho",
    lifter: float = 0,
    top_db: float | None = 80.0,
) -> np.ndarray:
    """Mel-frequency cepstral coefficients ``(..., n_frames, n_mfcc)`` of ``y`` ``(..., time)``.

    With the same arguments this computes what ``librosa.feature.mfcc`` computes
    (transposed: librosa returns ``(..., n_mfcc, n_frames)``): power STFT,
    Slaney mel filterbank (HTK mel points with ``htk=True``), dB with
    ``top_db`` clipping below each signal's peak, DCT-II (orthonormal with
    ``norm="ortho"``), keep the first ``n_mfcc``, then librosa's liftering
    (coefficients numbered from 1). ``n_frames = 1 + len(y) // hop_length``
    when ``center=True`` (even ``n_fft``), ``1 + (len(y) - n_fft) // hop_length``
    otherwise; input shorter than ``n_fft`` samples raises ``ValueError``.
    See :func:`speechlm.dsp.mfcc_kaldi` for Kaldi's recipe.
    """
    n_mfcc = positive_int(n_mfcc, "n_mfcc")
    if n_mfcc > n_mels:
        raise ValueError(f"n_mfcc={n_mfcc} cannot exceed n_mels={n_mels}")
    log_mel = log_mel_spectrogram(
        y, sr, top_db=top_db, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window,
        center=center, pad_mode=pad_mode, power=power, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk,
    )  # fmt: skip
    cepstra = log_mel @ _dct_basis(n_mels, n_mfcc, norm, log_mel.dtype.str)
    return apply_lifter(cepstra, lifter, first_index=1)


@lru_cache(maxsize=32)
def _mel_basis(sr, n_fft, n_mels, fmin, fmax, htk, dtype: str) -> np.ndarray:
    """The filterbank transposed, contiguous, in the spectrogram's dtype (cached for speed)."""
    basis = np.ascontiguousarray(mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk).T, dtype=dtype)
    basis.flags.writeable = False
    return basis


@lru_cache(maxsize=32)
def _dct_basis(n_in, n_out, norm, dtype: str) -> np.ndarray:
    basis = np.ascontiguousarray(dct_matrix(n_in, n_out, norm).T, dtype=dtype)
    basis.flags.writeable = False
    return basis
