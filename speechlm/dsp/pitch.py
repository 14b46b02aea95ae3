"""Pitch by autocorrelation and excitation signals for the LPC vocoder (notebook 02)."""

from __future__ import annotations

import numpy as np
import scipy.fft

from speechlm.dsp._checks import as_mono, positive_float, positive_int
from speechlm.dsp.framing import block_frames, get_window

__all__ = ["estimate_f0", "excitation"]


def estimate_f0(
    y: np.ndarray,
    sr: float,
    hop_length: int,
    frame_length: int | None = None,
    fmin_hz: float = 60.0,
    fmax_hz: float = 400.0,
    voicing_threshold: float = 0.45,
    silence_db: float = -40.0,
) -> np.ndarray:
    """Fundamental frequency in Hz per block of ``hop_length`` samples, 0 where unvoiced.

    Frames as :func:`speechlm.dsp.block_frames` (``frame_length`` defaults to
    ``2.5 * sr / fmin_hz`` rounded, enough for two and a half periods of the lowest
    pitch). For each Hann-windowed frame the normalised autocorrelation
    ``r[k] / r[0]`` peaks at the pitch period ``k`` in ``[sr / fmax_hz, sr / fmin_hz]``
    (its taper towards long lags favours the period over its multiples); a
    frame is voiced when that peak, corrected for the window's own
    autocorrelation, exceeds ``voicing_threshold`` and the frame's energy is
    within ``-silence_db`` dB of the loudest frame. Returns ``(n_blocks,)``.
    """
    y = as_mono(y)
    sr = positive_float(sr, "sr")
    hop_length = positive_int(hop_length, "hop_length")
    if not 0 < fmin_hz < fmax_hz < sr / 2:
        raise ValueError(f"need 0 < fmin_hz < fmax_hz < sr / 2, got {fmin_hz}, {fmax_hz}")
    frame_length = round(2.5 * sr / fmin_hz) if frame_length is None else frame_length
    lag_min, lag_max = int(np.floor(sr / fmax_hz)), int(np.ceil(sr / fmin_hz))
    if lag_max >= frame_length:
        raise ValueError(f"frame_length={frame_length} is too short for fmin_hz={fmin_hz}: need > {lag_max}")
    w = get_window("hann", frame_length, periodic=False)
    frames = block_frames(y.astype(np.float64), frame_length, hop_length) * w
    n_fft = scipy.fft.next_fast_len(2 * frame_length)
    r = scipy.fft.irfft(np.abs(scipy.fft.rfft(frames, n_fft, axis=-1)) ** 2, n_fft, axis=-1)
    r_window = scipy.fft.irfft(np.abs(scipy.fft.rfft(w, n_fft)) ** 2, n_fft)
    lags = np.arange(lag_min, lag_max + 1)
    energy = r[:, 0]
    biased = r[:, lags] / np.maximum(energy[:, None], 1e-20)
    best = np.argmax(biased, axis=1)  # the taper towards long lags guards against octave errors
    peak = biased[np.arange(len(best)), best] * (r_window[0] / r_window[lags[best]])
    loud = 10 * np.log10(np.maximum(energy, 1e-20) / max(energy.max(), 1e-20)) > silence_db
    voiced = (peak > voicing_threshold) & loud
    return np.where(voiced, sr / lags[best], 0.0)


def excitation(
    f0_hz: np.ndarray, hop_length: int, sr: float, n_samples: int | None = None, seed: int = 0
) -> np.ndarray:
    """Unit-power excitation ``(n_samples,)`` from a pitch track ``(n_blocks,)``.

    Voiced blocks (``f0 > 0``) get a pulse train whose phase runs on from block
    to block, pulses of height ``sqrt(sr / f0)`` so that the power is 1;
    unvoiced blocks get white Gaussian noise of variance 1 (seeded). Feed it
    to :func:`speechlm.dsp.lpc_synthesize` with the gains of
    :func:`speechlm.dsp.lpc_frames`: the classic LPC vocoder.
    """
    f0 = np.asarray(f0_hz, dtype=np.float64)
    if f0.ndim != 1 or f0.size == 0 or np.any(~np.isfinite(f0)) or np.any(f0 < 0):
        raise ValueError("f0_hz must be a non-empty 1-D array of non-negative finite frequencies")
    hop_length = positive_int(hop_length, "hop_length")
    sr = positive_float(sr, "sr")
    n_samples = f0.size * hop_length if n_samples is None else positive_int(n_samples, "n_samples")
    per_sample = np.repeat(f0, hop_length)[:n_samples]
    per_sample = np.pad(per_sample, (0, n_samples - per_sample.size), mode="edge")
    cycles = np.cumsum(per_sample / sr)
    pulse = np.diff(np.floor(cycles), prepend=0.0) > 0
    voiced = per_sample > 0
    out = np.random.default_rng(seed).standard_normal(n_samples)
    out[voiced] = 0.0
    heights = np.sqrt(sr / np.maximum(per_sample, 1e-9))
    out[pulse & voiced] = heights[pulse & voiced]
    return out
