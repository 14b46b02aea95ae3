"""Reproducible corruptions: additive noise at a chosen SNR and synthetic room reverberation.

Both take a NumPy random generator, so the corpus seeds one per utterance
and a corrupted corpus is as reproducible as a clean one. An SNR must lie in
:data:`SNR_RANGE_DB`, -20 to 80 dB: below -20 dB the noise drowns the speech
(100 times its power), above 80 dB it lies under the 16-bit rounding of speech
at -20 dB full scale, so it would change nothing. Introduced in notebook 00;
notebooks 14 and 17 use them to test robustness.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import fftconvolve, lfilter

__all__ = ["AUGMENT_VERSION", "SNR_RANGE_DB", "add_noise", "augment", "check_snr_db", "reverberate"]
__all__ += ["room_impulse_response"]

AUGMENT_VERSION = 1
SNR_RANGE_DB = (-20.0, 80.0)
# a 1/f ("pink") filter: J. O. Smith's three-pole, three-zero approximation
_PINK_B = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
_PINK_A = [1.0, -2.494956002, 2.017265875, -0.522189400]


def _check_audio(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 1 or audio.size == 0:
        raise ValueError(f"expected mono audio of shape (num_samples,), got shape {audio.shape}")
    return audio.astype(np.float64)


def check_snr_db(value, name: str = "snr_db") -> float:
    """``value`` as a float if it is a number of dB in :data:`SNR_RANGE_DB`, else a clear ValueError."""
    low, high = SNR_RANGE_DB
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(
            f"{name} must be a number of dB in {low:g}..{high:g}, got {type(value).__name__} {value!r}:"
            f" pass a number, e.g. {name}=10"
        )
    if not math.isfinite(value):
        raise ValueError(
            f"{name} must be a finite number of dB in {low:g}..{high:g}, got {value!r}"
            " (for clean audio add no noise)"
        )
    if not low <= value <= high:
        raise ValueError(
            f"{name} must be in {low:g}..{high:g} dB, got {value!r}: below {low:g} dB the noise drowns the"
            f" speech, above {high:g} dB it is quieter than 16-bit rounding (for clean audio add no noise)"
        )
    return float(value)


def add_noise(audio: np.ndarray, snr_db: float, rng: np.random.Generator, color: str = "pink") -> np.ndarray:
    """Add noise so that the signal-to-noise ratio over the clip is ``snr_db`` dB.

    ``audio``: shape ``(num_samples,)``. ``color``: ``"white"`` (flat spectrum)
    or ``"pink"`` (power falling as 1/f, closer to room and street noise).
    SNR = 10 log10(mean(audio^2) / mean(noise^2)), in :data:`SNR_RANGE_DB`;
    silent audio is returned unchanged.
    """
    x = _check_audio(audio)
    snr_db = check_snr_db(snr_db)
    if color not in ("white", "pink"):
        raise ValueError(f"color must be 'white' or 'pink', got {color!r}")
    power = float(np.mean(x**2))
    if power == 0.0:
        return audio.astype(np.float32)
    noise = rng.standard_normal(len(x))
    if color == "pink":
        noise = lfilter(_PINK_B, _PINK_A, noise)
    noise *= np.sqrt(power / (np.mean(noise**2) * 10.0 ** (snr_db / 10.0)))
    return (x + noise).astype(np.float32)


def room_impulse_response(
    rng: np.random.Generator, sample_rate: int = 16000, rt60_s: float | None = None
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


def reverberate(audio: np.ndarray, rng: np.random.Generator, sample_rate: int = 16000) -> np.ndarray:
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
    sample_rate: int = 16000,
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
    if noise_snr_db is not None:
        out = add_noise(out, noise_snr_db, rng)
    return out
