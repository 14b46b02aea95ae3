"""Data augmentation and corruption of speech: noise at an exact SNR, speed and pitch changes, SpecAugment.

``add_noise`` mixes white, pink, babble (several talkers at once) or any
recorded noise into a clip at a signal-to-noise ratio that is exact over the
whole clip; ``change_speed`` is Kaldi/torchaudio speed perturbation (a
windowed-sinc resampler: tempo and pitch change together);
``shift_pitch`` moves the pitch by semitones and keeps the duration (a phase
vocoder stretches time, then ``change_speed`` restores the length). Audio is
mono float32 at 16 kHz, shape ``(num_samples,)``. Introduced in notebook 14
(robustness of a voice-command recogniser to noise); notebook 17 uses it too.
:func:`spec_augment` masks log-mel features instead (frequency bands and time spans, settings in
:class:`SpecAugment`): the augmentation of CTC fine-tuning (notebook 12) and of the fine-tuned heads
of notebooks 12 and 14.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import torch
from scipy.signal import lfilter

from speechlm.audio import SAMPLE_RATE, AudioError, check_audio, check_sample_rate

__all__ = ["add_noise", "babble", "change_speed", "noise_like", "noisy_utterances", "shift_pitch", "snr_db"]
__all__ += ["SNR_RANGE_DB", "SpecAugment", "check_snr_db", "spec_augment"]

NOISE_TYPES = ("white", "pink", "babble")
# Below -20 dB the noise drowns the speech (100 times its power); above 80 dB it lies under the 16-bit
# rounding of speech at -20 dB full scale, so it would change nothing.
SNR_RANGE_DB = (-20.0, 80.0)
# a 1/f ("pink") filter: J. O. Smith's three-pole, three-zero approximation
_PINK_B = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
_PINK_A = [1.0, -2.494956002, 2.017265875, -0.522189400]


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


def _mono(audio, name: str = "audio") -> np.ndarray:
    return check_audio(audio, mono=True, name=name).astype(np.float64)


def snr_db(clean, noisy) -> float:
    """The SNR in dB of ``noisy`` against ``clean``: 10 log10(sum(clean^2) / sum((noisy - clean)^2))."""
    x, y = _mono(clean, "clean"), _mono(noisy, "noisy")
    if x.shape != y.shape:
        raise AudioError(f"clean and noisy must have the same shape, got {x.shape} and {y.shape}")
    return float(10.0 * np.log10(np.sum(x**2) / np.sum((y - x) ** 2)))


@functools.lru_cache(maxsize=4)
def _babble_bank(num_talkers: int, seconds: float, seed: int) -> np.ndarray:
    """``num_talkers`` dev-split voices reading dev-split sentences, each at unit RMS, summed."""
    from speechlm import corpus

    rng = np.random.default_rng(seed)
    voices = corpus.speakers("dev")
    texts = [item["text"] for item in corpus.sample_texts("dev", size=8 * num_talkers, seed=seed)]
    length = round(seconds * corpus.SAMPLE_RATE)
    mix = np.zeros(length)
    for talker in range(num_talkers):
        voice = voices[int(rng.integers(len(voices)))]
        parts, total = [], 0
        for text in texts[talker::num_talkers]:
            if total >= length:
                break
            parts.append(corpus.synthesize(text, voice).audio.astype(np.float64))
            total += len(parts[-1])
        track = np.resize(np.concatenate(parts), length)  # repeats the sentences if still too short
        mix += np.roll(track, int(rng.integers(length))) / np.sqrt(np.mean(track**2))
    return mix


def babble(num_samples: int, *, num_talkers: int = 6, seed: int = 0, rng=None) -> np.ndarray:
    """Babble noise: ``num_talkers`` people talking at once, shape ``(num_samples,)`` at 16 kHz.

    The talkers are dev-split voices of the embedded corpus (never a training
    or test speaker) reading dev-split sentences, synthesised once per
    ``(num_talkers, seed)`` into a 20 s loop (a few seconds, then cached in
    memory); ``rng`` picks where in the loop the excerpt starts.
    """
    if not isinstance(num_samples, int | np.integer) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
    if not isinstance(num_talkers, int | np.integer) or num_talkers < 1:
        raise ValueError(f"num_talkers must be a positive integer, got {num_talkers!r}")
    bank = _babble_bank(int(num_talkers), 20.0, int(seed))
    start = int(np.random.default_rng(rng).integers(len(bank)))
    return np.resize(np.roll(bank, -start), int(num_samples))


def noise_like(num_samples: int, noise="white", rng=None) -> np.ndarray:
    """Noise of ``num_samples`` samples, float64 at any scale: white, pink, babble or a given array.

    An array of recorded noise is tiled (if shorter) and cropped from a
    random start, so that different calls hear different parts of it.
    ``rng``: a ``np.random.Generator``, a seed, or None (fresh entropy).
    """
    rng = np.random.default_rng(rng)
    if isinstance(noise, str):
        if noise not in NOISE_TYPES:
            raise ValueError(
                f"noise must be one of {NOISE_TYPES} or an array of noise samples, got {noise!r}"
            )
        if noise == "babble":
            return babble(num_samples, rng=rng)
        white = rng.standard_normal(num_samples)
        return white if noise == "white" else lfilter(_PINK_B, _PINK_A, white)
    samples = _mono(noise, "noise")
    start = int(rng.integers(len(samples)))
    return np.resize(np.roll(samples, -start), num_samples)


def add_noise(audio, snr_db: float, *, noise="white", rng=None) -> np.ndarray:
    """Mix noise into ``audio`` (shape ``(num_samples,)``) at exactly ``snr_db`` dB over the whole clip.

    SNR = 10 log10(mean(audio^2) / mean(scaled_noise^2)), the noise being
    ``"white"`` (Gaussian), ``"pink"`` (1/f power), ``"babble"`` (see
    :func:`babble`) or an array of recorded noise (tiled and cropped from a
    random start). ``rng``: a ``np.random.Generator``, a seed, or None. ``snr_db``
    lies in :data:`SNR_RANGE_DB` (-20..80 dB). Returns float32
    ``audio + scaled_noise``, which may exceed [-1, 1] at low SNR.
    """
    x = _mono(audio)
    snr_db = check_snr_db(snr_db)
    power = float(np.mean(x**2))
    if power == 0.0:
        raise AudioError("audio is silent (every sample is 0): the SNR of silence is undefined")
    n = noise_like(len(x), noise, rng)
    noise_power = float(np.mean(n**2))
    if noise_power == 0.0:
        raise AudioError("the noise is silent (every sample is 0): pass noise with some energy")
    n *= np.sqrt(power / (noise_power * 10.0 ** (snr_db / 10.0)))
    return (x + n).astype(np.float32)


def noisy_utterances(utterances, snr_db: float, *, noise="white", seed: int = 0) -> list:
    """Copies of corpus utterances (``.audio``) with :func:`add_noise` at ``snr_db``; utterance ``i``'s
    noise is seeded with ``[seed, i]``, so a noisy test set is reproducible. The originals are untouched."""
    check_snr_db(snr_db)
    return [
        dataclasses.replace(
            u, audio=add_noise(u.audio, snr_db, noise=noise, rng=np.random.default_rng([seed, i]))
        )
        for i, u in enumerate(utterances)
    ]


def _resample_sinc(x: np.ndarray, factor: float, width: int = 6, rolloff: float = 0.99) -> np.ndarray:
    """Read ``x`` (float64) at positions 0, factor, 2 factor, ... with a Hann-windowed sinc lowpass.

    The kernel of ``torchaudio.functional.resample`` (``sinc_interp_hann``,
    ``lowpass_filter_width=width``, ``rolloff``), evaluated at any real ratio:
    cutoff ``rolloff * min(1, 1 / factor)`` of the input's Nyquist band.
    Output length ``ceil(len(x) / factor)``.
    """
    base = min(1.0, 1.0 / factor) * rolloff  # cutoff in cycles per input sample, times 2
    reach = math.ceil(width / base)
    positions = np.arange(math.ceil(len(x) / factor - 1e-9)) * factor
    taps = np.floor(positions)[:, None].astype(np.int64) + np.arange(-reach, reach + 2)[None, :]
    t = np.clip(base * (taps - positions[:, None]), -width, width)
    kernel = base * np.sinc(t) * np.cos(t * np.pi / (2 * width)) ** 2
    inside = (taps >= 0) & (taps < len(x))
    return np.sum(np.where(inside, kernel * x[np.clip(taps, 0, len(x) - 1)], 0.0), axis=1)


def _check_factor(factor, name: str) -> float:
    if isinstance(factor, bool) or not isinstance(factor, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a number, got {type(factor).__name__} {factor!r}")
    if not math.isfinite(factor) or factor <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {factor}")
    if not 0.25 <= factor <= 4.0:
        raise ValueError(f"{name} must be between 0.25 and 4 (a quarter to four times), got {factor}")
    return float(factor)


def change_speed(audio, factor: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Speed perturbation: play ``audio`` ``factor`` times faster (tempo and pitch both scale by it).

    ``factor`` 1.1 gives a clip 1/1.1 as long and 10% higher; 0.9 longer and
    lower (Kaldi's 0.9/1.0/1.1 recipe). Equivalent to resampling from
    ``factor * sample_rate`` to ``sample_rate`` Hz, as
    ``torchaudio.functional.speed`` does, with the same windowed-sinc kernel;
    output shape ``(ceil(num_samples / factor),)``, float32.
    """
    check_sample_rate(sample_rate)
    factor = _check_factor(factor, "factor")
    x = _mono(audio)
    if factor == 1.0:
        return x.astype(np.float32)
    return _resample_sinc(x, factor).astype(np.float32)


def _stft(x: np.ndarray, n_fft: int, hop: int, window: np.ndarray) -> np.ndarray:
    padded = np.pad(x, n_fft // 2)
    starts = np.arange(0, len(padded) - n_fft + 1, hop)
    return np.fft.rfft(padded[starts[:, None] + np.arange(n_fft)] * window, axis=1).T  # (bins, frames)


def _istft(spec: np.ndarray, n_fft: int, hop: int, window: np.ndarray, length: int) -> np.ndarray:
    frames = np.fft.irfft(spec.T, n=n_fft, axis=1) * window
    total = n_fft + hop * (len(frames) - 1)
    out, norm = np.zeros(total), np.zeros(total)
    for i, frame in enumerate(frames):
        out[i * hop : i * hop + n_fft] += frame
        norm[i * hop : i * hop + n_fft] += window**2
    out = out / np.where(norm > 1e-8, norm, 1.0)
    return _fix_length(out[n_fft // 2 :], length)


def _fix_length(x: np.ndarray, length: int) -> np.ndarray:
    """Crop ``x`` to ``length`` samples, or pad it with zeros at the end."""
    return x[:length] if len(x) >= length else np.pad(x, (0, length - len(x)))


def _stretch(x: np.ndarray, rate: float, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """Phase-vocoder time stretch: ``rate`` > 1 is faster (shorter); pitch unchanged (as librosa's)."""
    window = np.hanning(n_fft + 1)[:-1]  # periodic Hann
    spec = _stft(x, n_fft, hop, window)
    steps = np.arange(0, spec.shape[1], rate)
    spec = np.pad(spec, ((0, 0), (0, 2)))
    left, alpha = steps.astype(int), np.mod(steps, 1.0)
    magnitude = (1 - alpha) * np.abs(spec[:, left]) + alpha * np.abs(spec[:, left + 1])
    advance = np.linspace(0, np.pi * hop, spec.shape[0])[:, None]
    dphase = np.angle(spec[:, left + 1]) - np.angle(spec[:, left]) - advance
    dphase -= 2 * np.pi * np.round(dphase / (2 * np.pi))
    increments = np.concatenate([np.zeros((spec.shape[0], 1)), (advance + dphase)[:, :-1]], axis=1)
    phase = np.angle(spec[:, :1]) + np.cumsum(increments, axis=1)
    return _istft(magnitude * np.exp(1j * phase), n_fft, hop, window, round(len(x) / rate))


def shift_pitch(audio, semitones: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Shift the pitch by ``semitones`` (12 = one octave up), keeping the duration.

    Like ``librosa.effects.pitch_shift``: a phase vocoder stretches the clip
    by ``ratio = 2 ** (semitones / 12)`` without changing its pitch, then
    :func:`change_speed` by ``ratio`` brings it back to the original length
    with every frequency multiplied by ``ratio``. Output float32, same shape
    as ``audio``; formants move with the pitch (a "chipmunk" voice up, a deep one down).
    """
    check_sample_rate(sample_rate)
    if isinstance(semitones, bool) or not isinstance(semitones, int | float | np.integer | np.floating):
        raise ValueError(f"semitones must be a number, got {type(semitones).__name__} {semitones!r}")
    if not math.isfinite(semitones) or abs(semitones) > 24:
        raise ValueError(f"semitones must be finite and within +-24 (two octaves), got {semitones}")
    x = _mono(audio)
    if semitones == 0:
        return x.astype(np.float32)
    ratio = 2.0 ** (semitones / 12.0)
    shifted = _resample_sinc(_stretch(x, 1.0 / ratio), ratio)
    return _fix_length(shifted, len(x)).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class SpecAugment:
    """SpecAugment's masks: ``freq_masks`` bands of up to ``freq_width`` mel channels and
    ``time_masks`` spans of up to ``time_width`` frames (at most a fifth of the utterance) per utterance."""

    freq_masks: int = 2
    freq_width: int = 8
    time_masks: int = 2
    time_width: int = 10

    def __post_init__(self):
        for name in ("freq_masks", "freq_width", "time_masks", "time_width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"SpecAugment.{name} must be an integer >= 0, got {value!r}")


def spec_augment(
    mels: torch.Tensor, lengths: torch.Tensor, masks: SpecAugment, generator: torch.Generator
) -> torch.Tensor:
    """SpecAugment (Park et al. 2019) without time warping: zero ``masks.freq_masks`` random bands of
    up to ``freq_width`` mel channels and ``time_masks`` random spans of up to ``time_width`` frames in
    each utterance of ``mels (batch, time, n_mels)`` (``lengths``: real frames of each). Returns a
    masked copy (the features are normalised per utterance, so 0 is their mean)."""
    if mels.ndim != 3 or lengths.shape != mels.shape[:1]:
        raise ValueError(
            f"expected mels (batch, time, n_mels) and lengths (batch,), got {tuple(mels.shape)} and "
            f"{tuple(lengths.shape)}"
        )
    out = mels.clone()
    n_mels = mels.shape[-1]
    for i, length in enumerate(lengths.tolist()):
        for _ in range(masks.freq_masks):
            width = int(torch.randint(0, masks.freq_width + 1, (), generator=generator))
            start = int(torch.randint(0, max(1, n_mels - width), (), generator=generator))
            out[i, :, start : start + width] = 0.0
        for _ in range(masks.time_masks):
            width = min(int(torch.randint(0, masks.time_width + 1, (), generator=generator)), length // 5)
            start = int(torch.randint(0, max(1, length - width), (), generator=generator))
            out[i, start : start + width] = 0.0
    return out
