"""The mel scale, mel filterbanks, the orthonormal DCT, liftering and deltas.

Introduced in notebook 03 (MFCC). Conventions follow librosa (Slaney's mel
scale and area normalisation by default, HTK's on request) so that
:func:`mel_filterbank` equals ``librosa.filters.mel``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from speechlm.dsp._checks import positive_float, positive_int

__all__ = [
    "dct",
    "dct_matrix",
    "deltas",
    "fft_frequencies",
    "hz_to_mel",
    "lifter",
    "mel_filterbank",
    "mel_frequencies",
    "mel_to_hz",
]

# Slaney's scale (Auditory Toolbox): linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(frequencies_hz, htk: bool = False):
    """Convert Hz to mels (array or scalar in, same shape out).

    ``htk=True``: ``2595 * log10(1 + f / 700)``. ``htk=False`` (Slaney, librosa's
    default): ``f / (200 / 3)`` below 1 kHz, then ``15 + log(f / 1000) / (log(6.4) / 27)``.
    """
    f = np.asarray(frequencies_hz, dtype=float)
    if np.any(f < 0):
        raise ValueError("frequencies must be non-negative (Hz)")
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    linear = f / _F_SP
    log_part = _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(f >= _MIN_LOG_HZ, log_part, linear)


def mel_to_hz(mels, htk: bool = False):
    """Convert mels to Hz: the inverse of :func:`hz_to_mel` with the same ``htk``."""
    m = np.asarray(mels, dtype=float)
    if np.any(m < 0):
        raise ValueError("mels must be non-negative")
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    linear = _F_SP * m
    log_part = _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(m, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(m >= _MIN_LOG_MEL, log_part, linear)


def mel_frequencies(n_mels: int, fmin: float = 0.0, fmax: float = 11025.0, htk: bool = False) -> np.ndarray:
    """``n_mels`` frequencies in Hz, equally spaced on the mel scale from ``fmin`` to ``fmax``."""
    n_mels = positive_int(n_mels, "n_mels")
    mels = np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels)
    return mel_to_hz(mels, htk)


def fft_frequencies(sr: float, n_fft: int) -> np.ndarray:
    """Centre frequencies in Hz of the ``n_fft // 2 + 1`` bins of a real FFT."""
    return np.arange(positive_int(n_fft, "n_fft") // 2 + 1) * (positive_float(sr, "sr") / n_fft)


def mel_filterbank(
    sr: float,
    n_fft: int,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    norm: str | None = "slaney",
) -> np.ndarray:
    """Triangular mel filters, shape ``(n_mels, n_fft // 2 + 1)``, float64, read-only (cached).

    Filter ``m`` rises linearly (in Hz) from mel point ``m`` to ``m + 1`` and falls
    to ``m + 2``, where the ``n_mels + 2`` points are equally spaced in mels
    between ``fmin`` and ``fmax`` (default ``sr / 2``). ``norm="slaney"`` divides
    each filter by half its width in Hz so that every band has the same area;
    ``norm=None`` keeps peaks at 1. Equals ``librosa.filters.mel`` with the same
    arguments. Multiply a power spectrogram ``(..., n_frames, n_fft // 2 + 1)``
    by its transpose to get mel energies ``(..., n_frames, n_mels)``.
    """
    sr = positive_float(sr, "sr")
    fmax = sr / 2.0 if fmax is None else float(fmax)
    if not 0.0 <= fmin < fmax <= sr / 2.0 + 1e-9:
        raise ValueError(f"need 0 <= fmin < fmax <= sr / 2 = {sr / 2}, got fmin={fmin}, fmax={fmax}")
    if norm not in ("slaney", None):
        raise ValueError(f"norm must be 'slaney' or None, got {norm!r}")
    n_fft, n_mels = positive_int(n_fft, "n_fft"), positive_int(n_mels, "n_mels")
    return _mel_filterbank(sr, n_fft, n_mels, float(fmin), fmax, bool(htk), norm)


@lru_cache(maxsize=32)
def _mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk, norm) -> np.ndarray:
    fft_hz = fft_frequencies(sr, n_fft)
    mel_hz = mel_frequencies(n_mels + 2, fmin, fmax, htk)
    widths = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    if norm == "slaney":
        weights *= (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]
    weights.flags.writeable = False
    return weights


@lru_cache(maxsize=32)
def _dct_matrix(n_in: int, n_out: int, norm: str | None) -> np.ndarray:
    n = np.arange(n_in)
    k = np.arange(n_out)[:, None]
    basis = 2.0 * np.cos(np.pi * k * (2 * n + 1) / (2 * n_in))
    if norm == "ortho":
        basis[0] *= np.sqrt(1.0 / (4 * n_in))
        basis[1:] *= np.sqrt(1.0 / (2 * n_in))
    basis.flags.writeable = False
    return basis


def dct_matrix(n_in: int, n_out: int | None = None, norm: str | None = "ortho") -> np.ndarray:
    """The DCT-II as a matrix ``(n_out, n_in)``: ``dct(x) = x @ dct_matrix(n).T``.

    ``X_k = 2 sum_n x_n cos(pi k (2n + 1) / (2N))`` (scipy's unnormalised
    convention) for ``norm=None``; ``norm="ortho"`` scales row 0 by
    ``sqrt(1 / 4N)`` and the others by ``sqrt(1 / 2N)``, which makes the full
    matrix orthogonal. Read-only (cached).
    """
    n_in = positive_int(n_in, "n_in")
    n_out = n_in if n_out is None else positive_int(n_out, "n_out")
    if n_out > n_in:
        raise ValueError(f"n_out={n_out} must not exceed n_in={n_in}")
    if norm not in ("ortho", None):
        raise ValueError(f"norm must be 'ortho' or None, got {norm!r}")
    return _dct_matrix(n_in, n_out, norm)


def dct(x: np.ndarray, n_out: int | None = None, axis: int = -1, norm: str | None = "ortho") -> np.ndarray:
    """DCT-II of ``x`` along ``axis``, keeping the first ``n_out`` coefficients.

    Same values as ``scipy.fft.dct(x, type=2, norm=norm, axis=axis)[..., :n_out]``,
    computed as one matrix product (fast for the short axes of MFCC).
    """
    x = np.asarray(x)
    basis = dct_matrix(x.shape[axis], n_out, norm).astype(np.result_type(x.dtype, np.float32), copy=False)
    return np.moveaxis(np.moveaxis(x, axis, -1) @ basis.T, -1, axis)


def lifter(cepstra: np.ndarray, lifter: float, *, first_index: int = 0) -> np.ndarray:
    """Sinusoidal liftering of cepstra ``(..., n_ceps)``: ``c_n * (1 + L/2 sin(pi n / L))``.

    ``n`` counts the coefficients from ``first_index``: 0 is the HTK/Kaldi
    convention (``c_0`` is left unchanged), while ``librosa.feature.mfcc``
    numbers them from 1 (``first_index=1``). ``lifter=0`` returns the input.
    """
    cepstra = np.asarray(cepstra)
    if lifter < 0:
        raise ValueError(f"lifter must be non-negative, got {lifter}")
    if lifter == 0:
        return cepstra
    n = np.arange(first_index, first_index + cepstra.shape[-1])
    weights = 1.0 + (lifter / 2.0) * np.sin(np.pi * n / lifter)
    return cepstra * weights.astype(cepstra.dtype, copy=False)


def deltas(features: np.ndarray, width: int = 2, axis: int = -2) -> np.ndarray:
    """Regression deltas over time (HTK, Kaldi and ``torchaudio.functional.compute_deltas``).

    ``d_t = sum_{n=1}^{N} n (c_{t+n} - c_{t-n}) / (2 sum_{n=1}^{N} n^2)`` with
    ``N = width`` and the edge frames repeated. ``features`` is
    ``(..., n_frames, n_features)`` with time on ``axis`` (default -2); apply
    twice for delta-deltas. Same shape out.
    """
    features = np.asarray(features)
    if features.ndim < 2:
        raise ValueError(
            f"features must be (..., n_frames, n_features), got shape {features.shape}: "
            "for a single feature track use x[:, None]"
        )
    width = positive_int(width, "width")
    x = np.moveaxis(features, axis, -1)
    padded = np.concatenate([np.repeat(x[..., :1], width, -1), x, np.repeat(x[..., -1:], width, -1)], axis=-1)
    t = x.shape[-1]
    out = sum(
        n * (padded[..., width + n : width + n + t] - padded[..., width - n : width - n + t])
        for n in range(1, width + 1)
    )
    out = out / (2.0 * sum(n * n for n in range(1, width + 1)))
    return np.moveaxis(out.astype(features.dtype, copy=False), -1, axis)
