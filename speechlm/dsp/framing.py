"""Framing, windows, pre-emphasis and the short-time Fourier transform.

Introduced in notebook 01 (speech signals). Every function works on the last
axis, so a batch of equal-length signals ``(batch, time)`` is processed at
once. Frames come out time-major: ``(..., n_frames, frame_length)``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft

from speechlm.dsp._checks import as_signal, check_length, positive_int

__all__ = [
    "WINDOWS",
    "block_frames",
    "frame",
    "get_window",
    "n_frames",
    "power_spectrogram",
    "preemphasis",
    "stft",
]

WINDOWS = ("hann", "hamming", "povey", "rectangular")


@lru_cache(maxsize=64)
def _window(name: str, length: int, periodic: bool) -> np.ndarray:
    denom = length if periodic else max(length - 1, 1)
    phase = 2.0 * np.pi * np.arange(length) / denom
    if name == "hann":
        w = 0.5 - 0.5 * np.cos(phase)
    elif name == "hamming":
        w = 0.54 - 0.46 * np.cos(phase)
    elif name == "povey":
        w = (0.5 - 0.5 * np.cos(phase)) ** 0.85
    else:
        w = np.ones(length)
    w.flags.writeable = False
    return w


def get_window(window: str | np.ndarray, length: int, *, periodic: bool = True) -> np.ndarray:
    """A window of ``length`` samples, shape ``(length,)``, float64, read-only (cached).

    ``window`` is ``"hann"``, ``"hamming"``, ``"povey"`` (Kaldi's: Hann to the
    power 0.85, which reaches zero at both ends) or ``"rectangular"``, or an
    array of ``length`` samples, returned as is. ``periodic=True`` gives the
    DFT-even windows of ``scipy.signal.get_window`` and librosa (the period is
    ``length``); ``periodic=False`` gives the symmetric ones (period
    ``length - 1``) that Kaldi uses.
    """
    length = positive_int(length, "window length")
    if isinstance(window, str):
        if window not in WINDOWS:
            choices = ", ".join(WINDOWS)
            raise ValueError(f"unknown window {window!r}: choose one of {choices} or pass an array")
        return _window(window, length, bool(periodic))
    w = np.asarray(window, dtype=float)
    if w.shape != (length,):
        raise ValueError(f"window array has shape {w.shape}, expected ({length},)")
    return w


def n_frames(n_samples: int, frame_length: int, hop_length: int, *, center: bool = False) -> int:
    """How many frames :func:`frame` makes of ``n_samples`` samples.

    ``1 + (n_samples - frame_length) // hop_length`` without centring; with
    ``center=True`` the signal is first padded by ``frame_length // 2`` on each
    side (so frame ``t`` is centred on sample ``t * hop_length``).
    """
    check_length(n_samples, frame_length)
    if center:
        n_samples += 2 * (frame_length // 2)
    return 1 + (n_samples - frame_length) // hop_length


def frame(
    y: np.ndarray,
    frame_length: int,
    hop_length: int,
    *,
    center: bool = False,
    pad_mode: str = "constant",
) -> np.ndarray:
    """Slice ``y`` ``(..., time)`` into overlapping frames ``(..., n_frames, frame_length)``.

    Frame ``t`` holds samples ``t * hop_length`` to ``t * hop_length + frame_length``
    (of the padded signal when ``center=True``, which pads ``frame_length // 2``
    samples on both sides with ``np.pad(..., mode=pad_mode)``). The result is a
    read-only strided view, not a copy. Input shorter than one frame
    (``frame_length`` samples) raises a ``ValueError`` in both modes.
    """
    y = as_signal(y)
    frame_length = positive_int(frame_length, "frame_length")
    hop_length = positive_int(hop_length, "hop_length")
    check_length(y.shape[-1], frame_length)
    if center:
        pad = frame_length // 2
        if pad_mode == "reflect" and y.shape[-1] <= pad:
            raise ValueError(f"pad_mode='reflect' needs more than {pad} samples, got {y.shape[-1]}")
        y = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(pad, pad)], mode=pad_mode)
    frames = np.lib.stride_tricks.sliding_window_view(y, frame_length, axis=-1)
    return frames[..., ::hop_length, :]


def block_frames(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """One analysis frame per block of ``hop_length`` samples, centred on the block.

    Block ``t`` is samples ``[t * hop_length, (t + 1) * hop_length)``; its frame
    is the ``frame_length`` samples centred on the block, zero-padded at the
    ends. Returns ``(..., ceil(time / hop_length), frame_length)``: the framing
    of frame-by-frame analysis-synthesis, such as the LPC vocoder of notebook 02
    (:func:`speechlm.dsp.lpc_frames`, :func:`speechlm.dsp.lpc_synthesize`).
    """
    y = as_signal(y)
    frame_length = positive_int(frame_length, "frame_length")
    hop_length = positive_int(hop_length, "hop_length")
    n_blocks = -(-y.shape[-1] // hop_length)
    offset = hop_length // 2 - frame_length // 2  # start of frame 0, in samples of y
    left = max(0, -offset)
    right = max(0, (n_blocks - 1) * hop_length + offset + frame_length - y.shape[-1])
    y = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(left, right)])
    frames = np.lib.stride_tricks.sliding_window_view(y[..., offset + left :], frame_length, axis=-1)
    return frames[..., ::hop_length, :][..., :n_blocks, :]


def preemphasis(y: np.ndarray, coef: float = 0.97) -> np.ndarray:
    """First-order high-pass ``out[n] = y[n] - coef * y[n - 1]`` along the last axis.

    The sample before the first is taken equal to the first, so
    ``out[0] = (1 - coef) * y[0]`` (Kaldi's convention, which
    :func:`speechlm.dsp.mfcc_kaldi` applies to every frame). Shape is kept.
    """
    y = as_signal(y)
    if not 0.0 <= coef <= 1.0:
        raise ValueError(f"coef must lie in [0, 1], got {coef}")
    previous = np.concatenate([y[..., :1], y[..., :-1]], axis=-1)
    return y - coef * previous


def stft(
    y: np.ndarray,
    n_fft: int = 2048,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: str | np.ndarray = "hann",
    center: bool = True,
    pad_mode: str = "constant",
) -> np.ndarray:
    """Short-time Fourier transform, complex ``(..., n_frames, n_fft // 2 + 1)``.

    Same arguments and values as ``librosa.stft`` (which returns the transpose,
    ``(..., 1 + n_fft // 2, n_frames)``): a periodic window of ``win_length``
    samples (default ``n_fft``) zero-padded to ``n_fft`` in the middle, frames
    every ``hop_length`` samples (default ``n_fft // 4``), centred with
    ``pad_mode`` padding when ``center=True``. float32 input gives complex64.
    """
    y = as_signal(y)
    n_fft = positive_int(n_fft, "n_fft")
    hop_length = n_fft // 4 if hop_length is None else hop_length
    win_length = n_fft if win_length is None else positive_int(win_length, "win_length")
    if win_length > n_fft:
        raise ValueError(f"win_length={win_length} must not exceed n_fft={n_fft}")
    key = window if isinstance(window, str) else tuple(np.asarray(window, float))
    w = _padded_window(key, win_length, n_fft)
    frames = frame(y, n_fft, hop_length, center=center, pad_mode=pad_mode)
    return scipy.fft.rfft(frames * w.astype(y.dtype, copy=False), axis=-1)


@lru_cache(maxsize=32)
def _padded_window(window: str | tuple, win_length: int, n_fft: int) -> np.ndarray:
    w = get_window(window if isinstance(window, str) else np.array(window), win_length)
    left = (n_fft - win_length) // 2
    padded = np.zeros(n_fft)
    padded[left : left + win_length] = w
    padded.flags.writeable = False
    return padded


def power_spectrogram(
    y: np.ndarray,
    n_fft: int = 2048,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: str | np.ndarray = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    power: float = 2.0,
) -> np.ndarray:
    """``|stft(y)| ** power``, real ``(..., n_frames, n_fft // 2 + 1)`` (power=1: magnitude)."""
    if power <= 0:
        raise ValueError(f"power must be positive, got {power}")
    spec = stft(y, n_fft, hop_length, win_length, window, center, pad_mode)
    magnitude_sq = spec.real**2 + spec.imag**2
    if power == 2.0:
        return magnitude_sq
    return magnitude_sq ** (power / 2.0)
