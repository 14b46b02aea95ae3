"""Unit-to-speech: speak a unit sequence back with per-unit spectra and Griffin-Lim (notebook 13).

GSLM's unit-to-speech model is a Tacotron 2 trained to read units; ours is the
simplest model that makes units audible. Every unit gets a **prototype
spectrum**, the mean log-magnitude STFT frame of all training frames that the
tokeniser labelled with it. To speak ``(units, durations)``, each unit's
prototype is repeated for its duration (a 20 ms unit frame covers two 10 ms
STFT frames) and the phase that a magnitude-only spectrogram lacks is
recovered with **Griffin-Lim** (Griffin and Lim 1984; with the "fast"
momentum of Perraudin et al. 2013, as ``librosa.griffinlim`` does):

.. math::
    x_{i+1} = \\mathrm{ISTFT}(S \\, e^{j\\phi_i}), \\quad
    C_{i+1} = \\mathrm{STFT}(x_{i+1}), \\quad
    \\phi_{i+1} = \\angle\\big(C_{i+1} - \\tfrac{\\alpha}{1+\\alpha} C_i\\big),

starting from zero phase, with magnitudes ``S`` and momentum ``alpha``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from speechlm.units import deduplicate

__all__ = ["UnitVocoder", "griffin_lim", "stft_magnitude", "unit_frames"]

N_FFT = 512
WIN_LENGTH = 400  # 25 ms
HOP_LENGTH = 160  # 10 ms: two STFT frames per 20 ms unit frame
STFT_FRAMES_PER_UNIT = 2


def _window(win_length: int) -> torch.Tensor:
    return torch.hann_window(win_length, periodic=True, dtype=torch.float64)


def stft_magnitude(
    audio, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH, win_length: int = WIN_LENGTH
) -> np.ndarray:
    """Magnitude STFT ``(n_frames, n_fft // 2 + 1)`` of mono ``audio (samples,)``: Hann window, centred
    frames with zero padding (``librosa.stft``'s defaults), ``n_frames = 1 + samples // hop_length``."""
    y = np.asarray(audio, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"expected mono audio of shape (samples,), got shape {y.shape}")
    if y.size < win_length:
        raise ValueError(f"audio of {y.size} samples is shorter than one window ({win_length} samples)")
    if not np.all(np.isfinite(y)):
        raise ValueError("audio contains NaN or inf")
    spec = torch.stft(
        torch.from_numpy(y), n_fft, hop_length, win_length, _window(win_length),
        center=True, pad_mode="constant", return_complex=True,
    )  # fmt: skip
    return spec.abs().T.numpy()


def griffin_lim(
    magnitude,
    n_iter: int = 32,
    *,
    n_fft: int = N_FFT,
    hop_length: int = HOP_LENGTH,
    win_length: int = WIN_LENGTH,
    momentum: float = 0.99,
    length: int | None = None,
) -> np.ndarray:
    """Audio ``(samples,)`` whose STFT magnitude approximates ``magnitude (n_frames, n_fft // 2 + 1)``.

    Fast Griffin-Lim from zero initial phase; the same iteration as
    ``librosa.griffinlim(S.T, init=None, momentum=momentum, ...)`` with a Hann window and centred,
    zero-padded frames. ``length`` trims or pads the output to that many samples.
    """
    s = np.asarray(magnitude, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != n_fft // 2 + 1:
        raise ValueError(f"magnitude must be (n_frames, {n_fft // 2 + 1}) for n_fft={n_fft}, got {s.shape}")
    if not np.all(np.isfinite(s)) or (s < 0).any():
        raise ValueError("magnitude must be finite and non-negative")
    if n_iter < 1:
        raise ValueError(f"n_iter must be at least 1, got {n_iter}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    mag = torch.from_numpy(s.T).to(torch.complex128)
    window = _window(win_length)

    def istft(spec: torch.Tensor) -> torch.Tensor:
        return torch.istft(spec, n_fft, hop_length, win_length, window, center=True, length=length)

    def stft(y: torch.Tensor) -> torch.Tensor:
        return torch.stft(
            y, n_fft, hop_length, win_length, window, center=True, pad_mode="constant", return_complex=True
        )

    angles = mag.clone()  # zero phase
    previous = None
    for _ in range(n_iter):
        rebuilt = stft(istft(angles))
        update = rebuilt if previous is None else rebuilt - (momentum / (1 + momentum)) * previous
        angles = mag * update / (update.abs() + 1e-16)
        previous = rebuilt
    return istft(angles).numpy().astype(np.float32)


def unit_frames(units, durations) -> np.ndarray:
    """Expand de-duplicated ``units (n,)`` with ``durations (n,)`` (unit frames of 20 ms) into one
    unit per 10 ms STFT frame, ``(2 * sum(durations),)`` int64."""
    u, d = np.asarray(units), np.asarray(durations)
    if u.ndim != 1 or u.shape != d.shape:
        raise ValueError(f"units and durations must be 1-D of equal length, got {u.shape} and {d.shape}")
    if (d < 1).any():
        raise ValueError("every duration must be at least one frame")
    return np.repeat(u, d * STFT_FRAMES_PER_UNIT).astype(np.int64)


@dataclass
class UnitVocoder:
    """Per-unit prototype spectra ``log_magnitude (n_units, n_fft // 2 + 1)`` (natural log), mean run
    lengths ``mean_durations (n_units,)`` in 20 ms frames, and a Griffin-Lim inverter. Units never
    seen in training get the mean spectrum of all frames and a duration of one frame."""

    log_magnitude: np.ndarray
    mean_durations: np.ndarray
    n_iter: int = 32

    @classmethod
    def fit(cls, audios: Sequence[np.ndarray], frame_units: Sequence[np.ndarray], n_units: int, **kwargs):
        """Average the log-magnitude STFT frames of ``audios`` per unit.

        ``frame_units`` are each utterance's units at 50 frames/s (``(1 + samples // 320,)``, as
        :meth:`SpeechTokenizer.units` returns them); STFT frame ``i`` (10 ms) belongs to unit
        frame ``i // 2``.
        """
        if len(audios) != len(frame_units) or not audios:
            raise ValueError(
                f"need one unit sequence per utterance, got {len(audios)} audios, {len(frame_units)} units"
            )
        sums, counts, total = None, np.zeros(n_units), None
        run_sums, run_counts = np.zeros(n_units), np.zeros(n_units)
        for audio, z in zip(audios, frame_units, strict=True):
            log_mag = np.log(stft_magnitude(audio) + 1e-5)
            z = np.asarray(z, dtype=np.int64)
            if len(z) != -(-len(log_mag) // STFT_FRAMES_PER_UNIT):
                raise ValueError(
                    f"{len(z)} unit frames (20 ms) do not match {len(log_mag)} STFT frames (10 ms): "
                    "pass the frame-level units of the same audio"
                )
            index = np.arange(len(log_mag)) // STFT_FRAMES_PER_UNIT
            if z.min() < 0 or z.max() >= n_units:
                raise ValueError(f"unit ids must lie in 0..{n_units - 1}, got {z.min()}..{z.max()}")
            if sums is None:
                sums, total = np.zeros((n_units, log_mag.shape[1])), np.zeros(log_mag.shape[1])
            np.add.at(sums, z[index], log_mag)
            counts += np.bincount(z[index], minlength=n_units)
            total += log_mag.sum(0)
            values, runs = deduplicate(z)
            np.add.at(run_sums, values, runs)
            run_counts += np.bincount(values, minlength=n_units)
        mean = total / counts.sum()
        seen = counts > 0
        prototypes = np.where(seen[:, None], sums / np.maximum(counts, 1)[:, None], mean)
        durations = np.where(run_counts > 0, run_sums / np.maximum(run_counts, 1), 1.0)
        return cls(prototypes.astype(np.float32), durations, **kwargs)

    @property
    def n_units(self) -> int:
        return self.log_magnitude.shape[0]

    def spectrogram(self, units, durations) -> np.ndarray:
        """Log-magnitude spectrogram ``(2 * sum(durations), n_fft // 2 + 1)`` of the prototypes."""
        frames = unit_frames(units, durations)
        if frames.size and (frames.min() < 0 or frames.max() >= self.n_units):
            raise ValueError(f"unit ids must lie in 0..{self.n_units - 1}")
        return self.log_magnitude[frames]

    def default_durations(self, units) -> np.ndarray:
        """Each unit's mean training run length, rounded (at least one frame): durations for units
        that a language model generated without them."""
        u = np.asarray(units, dtype=np.int64)
        if u.size and (u.min() < 0 or u.max() >= self.n_units):
            raise ValueError(f"unit ids must lie in 0..{self.n_units - 1}")
        return np.maximum(np.rint(self.mean_durations[u]), 1).astype(np.int64)

    def synthesize(self, units, durations=None) -> np.ndarray:
        """16 kHz audio ``(samples,)`` float32 for de-duplicated ``units`` with ``durations`` (20 ms
        frames; default :meth:`default_durations`), peak-normalised to 0.9."""
        if durations is None:
            durations = self.default_durations(units)
        spec = self.spectrogram(units, durations)
        if len(spec) < 2:
            raise ValueError("need at least one unit to synthesise")
        audio = griffin_lim(np.exp(spec), self.n_iter, length=(len(spec) - 1) * HOP_LENGTH)
        return (0.9 * audio / (np.abs(audio).max() + 1e-9)).astype(np.float32)
