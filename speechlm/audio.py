"""Audio files and arrays, with a clear error for every kind of bad input.

``load`` reads with ``soundfile`` (WAV, FLAC, OGG...) and refuses a file cut
short, ``save`` writes ``.wav``, ``.flac`` or ``.ogg`` (Vorbis) atomically,
``resample`` uses a polyphase filter, ``to_mono`` and ``normalize`` do what
they say. Arrays are float32 in [-1, 1], shape ``(num_samples,)`` for mono or
``(num_samples, channels)`` (soundfile's layout). Every check raises
:class:`AudioError` (a ``ValueError``) with a message that says what was wrong
and how to fix it; a missing file raises ``FileNotFoundError`` and a path that
is not a ``str`` or ``os.PathLike`` raises ``TypeError``. Introduced in notebook 00.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

__all__ = [
    "MAX_SAMPLE_RATE",
    "MIN_SAMPLE_RATE",
    "SAVE_FORMATS",
    "AudioError",
    "check_audio",
    "check_sample_rate",
    "load",
    "normalize",
    "resample",
    "save",
    "to_mono",
]

SAMPLE_RATE = 16_000  # the course's sample rate: the corpus, the features and every model
MIN_SAMPLE_RATE = 4000
MAX_SAMPLE_RATE = 192000
# suffix -> (soundfile format, default subtype): what ``save`` writes, and what the folder corpus reads
SAVE_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS")}


class AudioError(ValueError):
    """Bad audio: unreadable, truncated, empty, non-finite, wrong type, wrong shape, too short, bad rate."""


def _check_path(path, what: str) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{what} needs the path of an audio file (a str or pathlib.Path), got {path!r:.80}")
    return Path(path)


def _as_array(audio, name: str) -> np.ndarray:
    """``np.asarray(audio)``, with an :class:`AudioError` that says how to fix what NumPy refuses."""
    try:
        return np.asarray(audio)
    except (TypeError, ValueError, RuntimeError) as exc:
        if hasattr(audio, "detach"):  # a torch tensor that requires grad or lives on a GPU
            fix = "call .detach().cpu().numpy() on the tensor first"
        else:
            fix = (
                "pass an array of shape (num_samples,) or (num_samples, channels); "
                "a list of lists needs rows of equal length"
            )
        raise AudioError(f"{name} cannot be read as an array of samples ({exc}): {fix}") from exc


def _wav_header_frames(path: Path) -> int | None:
    """The number of frames a RIFF/WAVE header declares (data chunk size / block align), else None.

    libsndfile silently shortens a WAV whose data chunk runs past the end of the
    file, so a partial download would look like a short, complete recording.
    """
    block_align = 0
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        while len(chunk := f.read(8)) == 8:
            size = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                streamed = size in (0, 0xFFFFFFFF)  # a placeholder some streaming writers leave
                return None if streamed or not block_align else size // block_align
            if chunk[:4] == b"fmt ":
                block_align = int.from_bytes(f.read(size)[12:14], "little")
                f.seek(size % 2, os.SEEK_CUR)
            else:
                f.seek(size + size % 2, os.SEEK_CUR)
    return None


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

    Raises :class:`AudioError` for what is not an array of numbers (a ragged
    list, a tensor that requires grad), integer samples (int16 read without
    scaling), floats far outside [-1, 1] (int16 values stored as floats),
    NaN or inf, an empty array, more than one channel when ``mono``, and
    fewer than ``min_samples`` samples (e.g. one analysis frame: 400 samples
    = 25 ms at 16 kHz; ``sample_rate`` is only used to say it in ms).
    """
    arr = _as_array(audio, name)
    if arr.dtype.kind in "iu":
        scale = 2 ** (8 * arr.dtype.itemsize - 1)
        raise AudioError(
            f"{name} has integer samples ({arr.dtype}); expected floats in [-1, 1]: "
            f"use audio.astype(np.float32) / {scale}"
        )
    if arr.dtype.kind != "f":
        raise AudioError(
            f"{name} must be an array of float samples, got {type(audio).__name__} with dtype {arr.dtype}"
        )
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
    ``sample_rate`` the audio is resampled to that rate. A file that holds
    fewer samples than its header declares (a partial download) raises
    :class:`AudioError` rather than loading the part that is there.
    """
    import soundfile as sf

    path = _check_path(path, "audio.load")
    if not path.exists():
        raise FileNotFoundError(f"no audio file at {path}")
    if path.is_dir():
        raise AudioError(f"{path} is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path} is an empty file (0 bytes)")
    try:
        with sf.SoundFile(str(path)) as f:
            declared, rate = f.frames, f.samplerate
            data = f.read(dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioError(
            f"could not read {path} as audio ({exc}); is it really a WAV, FLAC or OGG file? "
            "re-export it or check that the download finished"
        ) from exc
    if data.shape[0] == 0:
        raise AudioError(f"{path} holds no samples (a header without audio)")
    declared = max(declared, _wav_header_frames(path) or 0)
    if data.shape[0] < declared:
        raise AudioError(
            f"{path} is truncated: its header declares {declared} samples but the file holds only "
            f"{data.shape[0]} ({data.shape[0] / rate:.2f} of {declared / rate:.2f} s at {rate} Hz); "
            "a partial download or an interrupted export? download or export it again"
        )
    check_sample_rate(rate, name=f"sample rate of {path.name}")
    audio = check_audio(data, mono=False, name=str(path))
    if mono:
        audio = to_mono(audio)
    if sample_rate is not None and sample_rate != rate:
        audio = resample(audio, rate, sample_rate)
        rate = sample_rate
    return audio, int(rate)


def save(path, audio, sample_rate: int, *, subtype: str | None = None) -> Path:
    """Write ``audio`` (float in [-1, 1]) to ``path`` atomically; the format follows the suffix.

    ``.wav`` and ``.flac`` are written as 16-bit PCM and ``.ogg`` as Vorbis
    (:data:`SAVE_FORMATS`) unless ``subtype`` names another encoding that
    soundfile supports for the format (e.g. ``"FLOAT"`` for WAV). Other
    suffixes (``.mp3``...) raise :class:`AudioError`: save a ``.wav`` and convert it.
    """
    import soundfile as sf

    from speechlm.utils import atomic_path

    path = _check_path(path, "audio.save")
    suffix = path.suffix.lower()
    if suffix not in SAVE_FORMATS:
        what = repr(suffix) if suffix else "a name without a suffix"
        raise AudioError(
            f"cannot save {path}: audio.save writes .wav, .flac or .ogg (Vorbis), not {what}; "
            f"save a .wav and convert it, e.g. ffmpeg -i {path.stem}.wav {path.name}"
        )
    fmt, default = SAVE_FORMATS[suffix]
    subtype = default if subtype is None else subtype
    if not sf.check_format(fmt, subtype):
        raise AudioError(
            f"cannot save {path}: {fmt} files cannot hold subtype {subtype!r}; "
            f"choose one of {sorted(sf.available_subtypes(fmt))} or leave subtype=None ({default})"
        )
    rate = check_sample_rate(sample_rate)
    arr = check_audio(audio, mono=False)
    if float(np.max(np.abs(arr))) > 1.0 and subtype.startswith("PCM"):
        raise AudioError(f"samples up to {np.max(np.abs(arr)):g} would clip in {subtype}: normalize first")
    with atomic_path(path) as tmp:
        sf.write(os.fspath(tmp), arr, rate, subtype=subtype, format=fmt)
    return path


def to_mono(audio) -> np.ndarray:
    """Average the channels: ``(num_samples, channels)`` -> ``(num_samples,)``; mono passes through.

    A ``(channels, num_samples)`` array (torchaudio's layout) with at most 8
    channels and more samples than channels is recognised and averaged too.
    """
    arr = _as_array(audio, "audio")
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
