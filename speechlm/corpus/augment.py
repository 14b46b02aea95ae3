"""The corpus's corruptions: synthetic room reverberation, then pink noise at a chosen SNR.

Both take a NumPy random generator, so the corpus seeds one per utterance
and a corrupted corpus is as reproducible as a clean one. The noise is
:func:`speechlm.augment.add_noise` (its SNR in :data:`speechlm.augment.SNR_RANGE_DB`);
a silent clip stays silent. Introduced in notebook 00.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve

from speechlm.audio import SAMPLE_RATE
from speechlm.augment import add_noise, check_snr_db

__all__ = ["AUGMENT_VERSION", "augment", "reverberate", "room_impulse_response"]

AUGMENT_VERSION = 1


def _check_audio(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 1 or audio.size == 0:
        raise ValueError(f"expected mono audio of shape (num_samples,), got shape {audio.shape}")
    return audio.astype(np.float64)


def room_impulse_response(
    rng: np.random.Generator, sample_rate: int = SAMPLE_RATE, rt60_s: float | None = None
) -> np.ndarray:
    """A synthetic room impulse response: a direct path, then exponentially decaying noise.

    ``rt60_s`` is the time for the reverberant tail to fall by 60 dB (random
    in 0.2-0.7 s when None). The tail starts after a 3-10 ms pre-delay.
    Shape ``(round(rt60_s * sample_rate),)``, first sample 1.
    """
    if rt60_s is None:
        rt60_s = float(rng.uniform(0.2, 0.7))
    if not 0.01 <= rt60_s <= 3.0:
        raise ValueError(f"rt60_s must be in 0.01..3 seconds, got {rt60_s}")
    n = max(2, round(rt60_s * sample_rate))
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * 10.0 ** (-3.0 * t / rt60_s)  # -60 dB at rt60_s
    tail[: round(float(rng.uniform(0.003, 0.010)) * sample_rate)] = 0.0
    h = 0.3 * tail / np.sqrt(np.sum(tail**2) + 1e-12)
    h[0] = 1.0
    return h


def reverberate(audio: np.ndarray, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Convolve with a random :func:`room_impulse_response`; same length and peak as the input."""
    x = _check_audio(audio)
    y = fftconvolve(x, room_impulse_response(rng, sample_rate))[: len(x)]
    peak_in, peak_out = np.max(np.abs(x)), np.max(np.abs(y))
    if peak_out > 0:
        y *= peak_in / peak_out
    return y.astype(np.float32)


def augment(
    audio: np.ndarray,
    rng: np.random.Generator,
    *,
    sample_rate: int = SAMPLE_RATE,
    noise_snr_db: float | None = None,
    reverb: bool = False,
) -> np.ndarray:
    """Reverberation (if ``reverb``), then noise at ``noise_snr_db`` dB (if not None; :func:`check_snr_db`).

    ``audio``: shape ``(num_samples,)``; returns float32 of the same shape.
    """
    if noise_snr_db is not None:
        check_snr_db(noise_snr_db, "noise_snr_db")
    if not isinstance(reverb, bool | np.bool_):
        raise ValueError(f"reverb must be True or False, got {type(reverb).__name__} {reverb!r}")
    out = np.asarray(audio, dtype=np.float32)
    if reverb:
        out = reverberate(out, rng, sample_rate)
    if noise_snr_db is not None and np.any(out):  # a silent clip stays silent
        out = add_noise(out, noise_snr_db, noise="pink", rng=rng)
    return out
