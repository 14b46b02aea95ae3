"""Audio files and arrays, with a clear error for every kind of bad input.

``load`` reads with ``soundfile`` (WAV, FLAC, OGG...), ``save`` writes
atomically, ``resample`` uses a polyphase filter, ``to_mono`` and
``normalize`` do what they say. Arrays are float32 in [-1, 1], shape
``(num_samples,)`` for mono or ``(num_samples, channels)`` (soundfile's
layout). Every check raises :class:`AudioError` (a ``ValueError``) with a
message that says what was wrong and how to fix it; a missing file raises
``FileNotFoundError``. Introduced in notebook 00.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

__all__ = [
    "MAX_SAMPLE_RATE",
    "MIN_SAMPLE_RATE",
    "AudioError",
    "check_audio",
    "check_sample_rate",
    "load",
    "normalize",
    "resample",
    "save",
    "to_mono",
]

MIN_SAMPLE_RATE = 4000
MAX_SAMPLE_RATE = 192000


class AudioError(ValueError):
    """Bad audio: unreadable, empty, non-finite, wrong type, wrong shape, too short, bad rate."""


def check_sample_rate(sample_rate, name: str = "sample_rate") -> int:
    """Return ``sample_rate`` as an int, or raise :class:`AudioError` if it is not a usable rate in Hz."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | np.integer | float):
        raise AudioError(f"{name} must be a number of Hz, got {type(sample_rate).__name__} {sample_rate!r}")
    if float(sample_rate) != int(sample_rate) or not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioError(
            f"unsupported {name} {sample_rate!r} Hz: expected a whole number of Hz between "
            f"{MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE} (speech is usually 8000 or 16000 Hz)"
        )
    return int(sample_rate)


def check_audio(
    audio,
    *,
    mono: bool = True,
    min_samples: int = 1,
    sample_rate: int | None = None,
    name: str = "audio",
) -> np.ndarray:
    """Validate an array of samples and return it as float32.

    Raises :class:`AudioError` for integer samples (int16 read without
    scaling), floats far outside [-1, 1] (int16 values stored as floats),
    NaN or inf, an empty array, more than one channel when ``mono``, and
    fewer than ``min_samples`` samples (e.g. one analysis frame: 400 samples
    = 25 ms at 16 kHz; ``sample_rate`` is only used to say it in ms).
    """
    arr = np.asarray(audio)
    if arr.dtype.kind in "iu":
        scale = 2 ** (8 * arr.dtype.itemsize - 1)
        raise AudioError(
            f"{name} has integer samples ({arr.dtype}); expected floats in [-1, 1]: "
            f"use audio.astype(np.float32) / {scale}"
        )
    if arr.dtype.kind != "f":
        raise AudioError(f"{name} must be an array of float samples, got dtype {arr.dtype}")
    if arr.ndim == 0 or arr.size == 0:
        raise AudioError(f"{name} is empty (shape {arr.shape}): there are no samples")
    if arr.ndim > 2:
        raise AudioError(f"{name} must have shape (num_samples,) or (num_samples, channels), got {arr.shape}")
    if mono and arr.ndim == 2 and arr.shape[1] != 1:
        raise AudioError(
            f"expected mono audio, got shape {arr.shape}: pass mono=True when loading, "
            "or average the channels with speechlm.audio.to_mono"
        )
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise AudioError(f"{name} contains {bad} NaN or infinite sample(s); fix or drop them first")
    peak = float(np.max(np.abs(arr)))
    if peak > 2.0:
        raise AudioError(
            f"{name} has float samples up to {peak:g}, far outside [-1, 1]: integer samples stored as "
            "floats? divide by 32768 (16-bit) first"
        )
    if mono and arr.ndim == 2:
        arr = arr[:, 0]
    num = arr.shape[0]
    if num < min_samples:
        where = f" ({1000 * min_samples / sample_rate:g} ms at {sample_rate} Hz)" if sample_rate else ""
        raise AudioError(
            f"{name} has {num} samples, shorter than one analysis frame of {min_samples} samples{where}; "
            "pad it or use a longer clip"
        )
    return arr.astype(np.float32, copy=False)


def load(path, *, sample_rate: int | None = None, mono: bool = True) -> tuple[np.ndarray, int]:
    """Read an audio file; return ``(audio, sample_rate)``.

    ``audio`` is float32 in [-1, 1], shape ``(num_samples,)`` when ``mono``
    (channels averaged), else ``(num_samples, channels)``. With
    ``sample_rate`` the audio is resampled to that rate.
    """
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no audio file at {path}")
    if path.is_dir():
        raise AudioError(f"{path} is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path} is an empty file (0 bytes)")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioError(
            f"could not read {path} as audio ({exc}); is it really a WAV, FLAC or OGG file? "
            "re-export it or check that the download finished"
        ) from exc
    if data.shape[0] == 0:
        raise AudioError(f"{path} holds no samples (a header without audio)")
    check_sample_rate(rate, name=f"sample rate of {path.name}")
    audio = check_audio(data, mono=False, name=str(path))
    if mono:
        audio = to_mono(audio)
    if sample_rate is not None and sample_rate != rate:
        audio = resample(audio, rate, sample_rate)
        rate = sample_rate
    return audio, int(rate)


def save(path, audio, sample_rate: int, *, subtype: str = "PCM_16") -> Path:
    """Write ``audio`` (float in [-1, 1]) to ``path`` atomically; the format follows the suffix."""
    import soundfile as sf

    from speechlm.utils import atomic_path

    rate = check_sample_rate(sample_rate)
    arr = check_audio(audio, mono=False)
    if float(np.max(np.abs(arr))) > 1.0 and subtype.startswith("PCM"):
        raise AudioError(f"samples up to {np.max(np.abs(arr)):g} would clip in {subtype}: normalize first")
    path = Path(path)
    fmt = path.suffix.lstrip(".").upper()
    if fmt not in sf.available_formats():
        raise AudioError(f"cannot save {path}: unknown audio format {path.suffix!r}; use .wav or .flac")
    with atomic_path(path) as tmp:
        sf.write(os.fspath(tmp), arr, rate, subtype=subtype, format=fmt)
    return path


def to_mono(audio) -> np.ndarray:
    """Average the channels: ``(num_samples, channels)`` -> ``(num_samples,)``; mono passes through.

    A ``(channels, num_samples)`` array (torchaudio's layout) with at most 8
    channels and more samples than channels is recognised and averaged too.
    """
    arr = np.asarray(audio)
    if arr.ndim == 1:
        return check_audio(arr)
    if arr.ndim == 2 and arr.shape[0] <= 8 < arr.shape[1]:
        arr = arr.T
    return check_audio(check_audio(arr, mono=False).mean(axis=1))


def resample(audio, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample along the time axis with a polyphase filter (``scipy.signal.resample_poly``).

    Works on ``(num_samples,)`` and ``(num_samples, channels)``; the output has
    ``ceil(num_samples * target_sr / orig_sr)`` samples, sample ``k`` at time ``k / target_sr``.
    """
    from scipy.signal import resample_poly

    orig, target = check_sample_rate(orig_sr, "orig_sr"), check_sample_rate(target_sr, "target_sr")
    arr = check_audio(audio, mono=False)
    if orig == target:
        return arr
    ratio = Fraction(target, orig)
    return resample_poly(arr, ratio.numerator, ratio.denominator, axis=0).astype(np.float32)


def normalize(audio, peak: float = 0.95) -> np.ndarray:
    """Scale so that the largest absolute sample equals ``peak`` (0 < peak <= 1)."""
    if not 0.0 < peak <= 1.0:
        raise AudioError(f"peak must be in (0, 1], got {peak}")
    arr = check_audio(audio, mono=False)
    top = float(np.max(np.abs(arr)))
    if top == 0.0:
        raise AudioError("cannot normalize silent audio (every sample is 0)")
    return (arr * (peak / top)).astype(np.float32)
