"""Kaldi's filterbank and MFCC recipe (``compute-mfcc-feats``), notebook 03.

Per frame: remove the DC offset, measure the raw log energy, pre-emphasise
(within the frame), apply the Povey window, zero-pad to a power of two, take
the power spectrum, 23 triangular filters on Kaldi's mel scale
(``1127 ln(1 + f / 700)``), natural log, orthonormal DCT-II, keep 13,
lifter 22. Same options and values as ``torchaudio.compliance.kaldi.mfcc``
(which, like Kaldi, expects int16-scaled samples: multiply audio in [-1, 1)
by 32768 when you compare, or the energy floor of 1.0 clips quiet frames).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft

from speechlm.dsp._checks import as_signal, check_length, positive_float, positive_int
from speechlm.dsp.framing import get_window, preemphasis
from speechlm.dsp.mel import dct_matrix, lifter

__all__ = ["fbank_kaldi", "kaldi_frames", "kaldi_mel_filterbank", "mfcc_kaldi"]

_EPS = float(np.finfo(np.float32).eps)  # Kaldi's floor on energies before the log


def kaldi_frames(y: np.ndarray, window_size: int, window_shift: int, snip_edges: bool = True) -> np.ndarray:
    """Kaldi's framing of ``y`` ``(..., time)`` into ``(..., n_frames, window_size)``.

    ``snip_edges=True``: only frames that fit, ``1 + (time - window_size) // window_shift``.
    ``snip_edges=False``: ``(time + window_shift // 2) // window_shift`` frames, the
    signal mirrored at both ends (``x[2], x[1], x[0], x[0], x[1], ...``).
    """
    y = as_signal(y)
    check_length(y.shape[-1], window_size, "window_size (frame_length_ms * sr / 1000)")
    if snip_edges:
        count = 1 + (y.shape[-1] - window_size) // window_shift
    else:
        count = (y.shape[-1] + window_shift // 2) // window_shift
        pad = window_size // 2 - window_shift // 2
        mirrored = y[..., ::-1]
        if pad > 0:
            y = np.concatenate([y[..., :pad][..., ::-1], y, mirrored], axis=-1)
        else:
            y = np.concatenate([y[..., -pad:], mirrored], axis=-1)
    frames = np.lib.stride_tricks.sliding_window_view(y, window_size, axis=-1)
    return frames[..., ::window_shift, :][..., :count, :]


@lru_cache(maxsize=16)
def _kaldi_mel_filterbank(num_bins: int, n_fft: int, sr: float, low_hz: float, high_hz: float) -> np.ndarray:
    def mel(f):
        return 1127.0 * np.log(1.0 + np.asarray(f) / 700.0)

    mel_low, mel_high = mel(low_hz), mel(high_hz)
    delta = (mel_high - mel_low) / (num_bins + 1)
    left = mel_low + np.arange(num_bins)[:, None] * delta
    centre, right = left + delta, left + 2 * delta
    bin_mel = mel(np.arange(n_fft // 2) * (sr / n_fft))[None, :]
    up = (bin_mel - left) / (centre - left)
    down = (right - bin_mel) / (right - centre)
    weights = np.zeros((num_bins, n_fft // 2 + 1))
    weights[:, :-1] = np.maximum(0.0, np.minimum(up, down))  # Kaldi leaves the Nyquist bin out
    weights.flags.writeable = False
    return weights


def kaldi_mel_filterbank(
    num_bins: int, n_fft: int, sr: float, low_freq_hz: float = 20.0, high_freq_hz: float = 0.0
) -> np.ndarray:
    """Kaldi's triangular filters ``(num_bins, n_fft // 2 + 1)``, read-only (cached).

    Triangles are linear in mels (``1127 ln(1 + f / 700)``), not in Hz as in
    librosa, have peak 1 (no area normalisation) and leave the Nyquist bin out.
    ``high_freq_hz <= 0`` means Nyquist plus ``high_freq_hz``.
    """
    sr = positive_float(sr, "sr")
    num_bins = positive_int(num_bins, "num_mel_bins")
    high = high_freq_hz + sr / 2 if high_freq_hz <= 0 else high_freq_hz
    if num_bins <= 3:
        raise ValueError(f"Kaldi needs more than 3 mel bins, got {num_bins}")
    if not 0.0 <= low_freq_hz < high <= sr / 2:
        raise ValueError(f"need 0 <= low_freq_hz < high freq <= sr / 2 = {sr / 2}, got {low_freq_hz}, {high}")
    return _kaldi_mel_filterbank(num_bins, positive_int(n_fft, "n_fft"), sr, float(low_freq_hz), float(high))


def _windowed_frames(
    y, sr, frame_length_ms, frame_shift_ms, snip_edges, dither, seed, remove_dc_offset, raw_energy,
    energy_floor, preemphasis_coefficient, window, round_to_power_of_two,
):  # fmt: skip
    """Kaldi's per-frame processing: returns (power spectrum, log energy, FFT size)."""
    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.integer):  # int16 samples are Kaldi's own scale: use them as they are
        y = y.astype(np.float64)
    y = as_signal(y)
    sr = positive_float(sr, "sr")
    window_shift = int(sr * frame_shift_ms * 0.001)
    window_size = int(sr * frame_length_ms * 0.001)
    if window_size < 2 or window_shift < 1:
        raise ValueError(f"frame_length_ms={frame_length_ms} or frame_shift_ms={frame_shift_ms} is too short")
    n_fft = 1 << (window_size - 1).bit_length() if round_to_power_of_two else window_size
    if n_fft % 2:
        raise ValueError(f"the FFT size {n_fft} must be even: use round_to_power_of_two=True")
    frames = kaldi_frames(y.astype(np.float64), window_size, window_shift, snip_edges)
    if dither != 0.0:
        frames = frames + dither * np.random.default_rng(seed).standard_normal(frames.shape)
    if remove_dc_offset:
        frames = frames - frames.mean(axis=-1, keepdims=True)

    def log_energy(x):
        energy = np.log(np.maximum((x * x).sum(axis=-1), _EPS))
        return energy if energy_floor == 0.0 else np.maximum(energy, np.log(energy_floor))

    if raw_energy:
        energy = log_energy(frames)
    if preemphasis_coefficient != 0.0:
        frames = preemphasis(frames, preemphasis_coefficient)
    frames = frames * get_window(window, window_size, periodic=False)
    if not raw_energy:
        energy = log_energy(frames)
    spectrum = scipy.fft.rfft(frames, n=n_fft, axis=-1)
    return spectrum.real**2 + spectrum.imag**2, energy, n_fft


def fbank_kaldi(
    y: np.ndarray,
    sr: float = 16000.0,
    *,
    num_mel_bins: int = 23,
    frame_length_ms: float = 25.0,
    frame_shift_ms: float = 10.0,
    preemphasis_coefficient: float = 0.97,
    window: str = "povey",
    low_freq_hz: float = 20.0,
    high_freq_hz: float = 0.0,
    remove_dc_offset: bool = True,
    round_to_power_of_two: bool = True,
    snip_edges: bool = True,
    use_energy: bool = False,
    raw_energy: bool = True,
    energy_floor: float = 1.0,
    dither: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """Kaldi log-mel filterbank energies ``(..., n_frames, num_mel_bins)`` (natural log).

    With ``use_energy=True`` the frame's log energy is prepended as column 0.
    Matches ``torchaudio.compliance.kaldi.fbank`` (``htk_compat=False``) with the
    same options; ``dither`` noise is drawn from ``numpy.random.default_rng(seed)``.
    """
    power, energy, n_fft = _windowed_frames(
        y, sr, frame_length_ms, frame_shift_ms, snip_edges, dither, seed, remove_dc_offset, raw_energy,
        energy_floor, preemphasis_coefficient, window, round_to_power_of_two,
    )  # fmt: skip
    fb = kaldi_mel_filterbank(num_mel_bins, n_fft, sr, low_freq_hz, high_freq_hz)
    log_mel = np.log(np.maximum(power @ fb.T, _EPS))
    if use_energy:
        log_mel = np.concatenate([energy[..., None], log_mel], axis=-1)
    return log_mel


def mfcc_kaldi(
    y: np.ndarray,
    sr: float = 16000.0,
    *,
    num_ceps: int = 13,
    num_mel_bins: int = 23,
    cepstral_lifter: float = 22.0,
    frame_length_ms: float = 25.0,
    frame_shift_ms: float = 10.0,
    preemphasis_coefficient: float = 0.97,
    window: str = "povey",
    low_freq_hz: float = 20.0,
    high_freq_hz: float = 0.0,
    remove_dc_offset: bool = True,
    round_to_power_of_two: bool = True,
    snip_edges: bool = True,
    use_energy: bool = False,
    raw_energy: bool = True,
    energy_floor: float = 1.0,
    dither: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """Kaldi MFCC ``(..., n_frames, num_ceps)`` of ``y`` ``(..., time)``, float64.

    25 ms frames every 10 ms, pre-emphasis 0.97, Povey window, 23 mel bins,
    natural log, orthonormal DCT-II, 13 coefficients, lifter 22 (``c_0``
    unscaled); ``use_energy=True`` replaces ``c_0`` by the log frame energy.
    Same options and values as ``torchaudio.compliance.kaldi.mfcc`` (its
    ``frame_length``, ``frame_shift``, ``low_freq``, ``high_freq``, ``window_type``
    and ``sample_frequency`` are our ``*_ms``, ``*_hz``, ``window`` and ``sr``).
    Kaldi works on int16-scaled samples: pass int16 audio as it is, or
    ``32768 * y`` for float audio in [-1, 1), to get Kaldi's numbers (the
    ``energy_floor`` is absolute).
    """
    num_ceps = positive_int(num_ceps, "num_ceps")
    if num_ceps > num_mel_bins:
        raise ValueError(f"num_ceps={num_ceps} cannot exceed num_mel_bins={num_mel_bins}")
    feats = fbank_kaldi(
        y, sr, num_mel_bins=num_mel_bins, frame_length_ms=frame_length_ms, frame_shift_ms=frame_shift_ms,
        preemphasis_coefficient=preemphasis_coefficient, window=window, low_freq_hz=low_freq_hz,
        high_freq_hz=high_freq_hz, remove_dc_offset=remove_dc_offset,
        round_to_power_of_two=round_to_power_of_two, snip_edges=snip_edges, use_energy=use_energy,
        raw_energy=raw_energy, energy_floor=energy_floor, dither=dither, seed=seed,
    )  # fmt: skip
    energy, log_mel = (feats[..., 0], feats[..., 1:]) if use_energy else (None, feats)
    ceps = lifter(log_mel @ dct_matrix(num_mel_bins, num_ceps).T, cepstral_lifter)
    if use_energy:
        ceps[..., 0] = energy
    return ceps
