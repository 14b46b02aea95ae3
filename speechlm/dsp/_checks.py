"""Input checks shared by the DSP modules: a clear error at the boundary."""

from __future__ import annotations

import numbers

import numpy as np


def as_signal(y, name: str = "y") -> np.ndarray:
    """Return ``y`` as a floating-point array of samples ``(..., time)``.

    Raises a specific error for a scalar, an empty signal, integer or complex
    samples, and NaN or inf values.
    """
    y = np.asarray(y)
    if y.ndim == 0:
        raise ValueError(f"{name} must be an array of samples with shape (..., time), got a scalar")
    if y.shape[-1] == 0 or y.size == 0:
        raise ValueError(f"{name} is empty (shape {y.shape}): expected at least one sample")
    if np.issubdtype(y.dtype, np.integer):
        raise TypeError(
            f"{name} has integer dtype {y.dtype}: convert to floating point first, "
            "e.g. y.astype(np.float32) / 32768 for int16 samples"
        )
    if not np.issubdtype(y.dtype, np.floating):
        raise TypeError(f"{name} must hold real floating-point samples, got dtype {y.dtype}")
    if not np.all(np.isfinite(y)):
        bad = int(np.size(y) - np.count_nonzero(np.isfinite(y)))
        raise ValueError(f"{name} contains {bad} NaN or inf value(s): clean or clip the signal first")
    return y


def as_mono(y, name: str = "y") -> np.ndarray:
    """Like :func:`as_signal`, but require one channel: shape ``(time,)``."""
    y = as_signal(y, name)
    if y.ndim != 1:
        raise ValueError(
            f"expected mono audio of shape (time,), got {name} with shape {y.shape}: "
            "pass one channel, or average the channels with y.mean(axis=0)"
        )
    return y


def positive_int(value, name: str) -> int:
    """Check that ``value`` is a positive integer and return it as ``int``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def positive_float(value, name: str) -> float:
    """Check that ``value`` is a finite positive number and return it as ``float``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def check_length(n_samples: int, frame_length: int, what: str = "frame_length") -> None:
    """Raise if a signal of ``n_samples`` is shorter than one frame."""
    if n_samples < frame_length:
        raise ValueError(
            f"the signal has {n_samples} samples, fewer than one frame: "
            f"it needs at least {what}={frame_length} samples (pad it, or use a shorter frame)"
        )
