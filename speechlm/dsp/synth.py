"""A source-filter vowel synthesiser (notebook 01), also test data for LPC and MFCC."""

from __future__ import annotations

import numpy as np
import scipy.signal

from speechlm.dsp._checks import positive_float

__all__ = ["resonator_filter", "synthetic_vowel"]


def resonator_filter(formants_hz, bandwidths_hz, sr: float) -> np.ndarray:
    """The all-pole filter ``A(z)`` ``(2 * n_formants + 1,)`` with one pole pair per formant.

    A formant at ``F`` Hz with bandwidth ``B`` Hz is the pole pair
    ``r e^{+-j 2 pi F / sr}`` with ``r = exp(-pi B / sr)``. ``a[0] == 1``, the
    convention of :func:`speechlm.dsp.lpc`.
    """
    sr = positive_float(sr, "sr")
    f = np.atleast_1d(np.asarray(formants_hz, dtype=float))
    b = np.atleast_1d(np.asarray(bandwidths_hz, dtype=float))
    if f.shape != b.shape or f.ndim != 1 or np.any(f <= 0) or np.any(f >= sr / 2) or np.any(b <= 0):
        raise ValueError("need as many formants as bandwidths, 0 < formant < sr / 2 and positive bandwidths")
    radius = np.exp(-np.pi * b / sr)
    poles = radius * np.exp(2j * np.pi * f / sr)
    return np.real(np.poly(np.concatenate([poles, poles.conj()])))


def synthetic_vowel(
    formants_hz=(700.0, 1220.0, 2600.0),
    bandwidths_hz=(80.0, 90.0, 120.0),
    f0_hz: float = 120.0,
    duration_s: float = 0.5,
    sr: float = 16000.0,
    noise: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """A vowel ``(round(duration_s * sr),)`` float64, peak 0.5: the source-filter model.

    Source: an impulse train at ``f0_hz`` (band-limited: the sum of its
    harmonics below ``sr / 2``, so exactly periodic) through a glottal low-pass
    (``1 / (1 - 0.95 z^-1)^2``, about -12 dB/octave), plus optional white
    noise of relative level ``noise``. Filter: the formant resonances of
    :func:`resonator_filter`. Radiation at the lips: a first difference
    (+6 dB/octave). The defaults sound like the /a/ of "father".
    """
    sr = positive_float(sr, "sr")
    n = round(positive_float(duration_s, "duration_s") * sr)
    f0_hz = positive_float(f0_hz, "f0_hz")
    if f0_hz >= sr / 2:
        raise ValueError(f"f0_hz={f0_hz} must be below sr / 2 = {sr / 2}")
    harmonics = np.arange(1, int((sr / 2 - 1) // f0_hz) + 1)  # a band-limited impulse train
    source = np.cos(2 * np.pi * f0_hz / sr * np.outer(np.arange(n), harmonics)).sum(axis=1)
    source = scipy.signal.lfilter([1.0], [1.0, -1.9, 0.9025], source)
    if noise > 0:
        source += noise * source.std() * np.random.default_rng(seed).standard_normal(n)
    voice = scipy.signal.lfilter([1.0], resonator_filter(formants_hz, bandwidths_hz, sr), source)
    voice = np.diff(voice, prepend=0.0)
    return 0.5 * voice / np.max(np.abs(voice))
