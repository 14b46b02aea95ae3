"""speechlm.augment: exact SNR, speed perturbation against torchaudio, pitch shift against librosa."""

import librosa
import numpy as np
import pytest
import torch
import torchaudio.functional as AF

from speechlm import augment
from speechlm.audio import AudioError

SR = 16000


def speechy(seconds=1.0, seed=0):
    """Amplitude-modulated noise: a speech-like envelope without the corpus."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    return (0.1 * rng.standard_normal(len(t)) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def harmonic(f0_hz=150.0, seconds=1.0):
    t = np.arange(int(SR * seconds)) / SR
    return (0.2 * sum(np.sin(2 * np.pi * f0_hz * k * t) / k for k in range(1, 6))).astype(np.float32)


@pytest.mark.parametrize("snr", [-5.0, 0.0, 5.0, 10.0, 20.0, 30.0])
@pytest.mark.parametrize("noise", ["white", "pink"])
def test_add_noise_hits_the_snr_exactly(snr, noise):
    x = speechy()
    y = augment.add_noise(x, snr, noise=noise, rng=1)
    assert y.dtype == np.float32 and y.shape == x.shape
    measured = 10 * np.log10(np.sum(x.astype(np.float64) ** 2) / np.sum((y - x.astype(np.float64)) ** 2))
    assert abs(measured - snr) < 1e-6
    assert augment.snr_db(x, y) == pytest.approx(measured, abs=1e-12)


def test_add_noise_is_seeded_and_noise_colours_differ():
    x = speechy()
    a, b = augment.add_noise(x, 5, rng=3), augment.add_noise(x, 5, rng=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, augment.add_noise(x, 5, rng=4))
    pink = augment.add_noise(x, 5, noise="pink", rng=3) - x
    white = a - x
    low = np.abs(np.fft.rfft(pink))[:1000].mean() / np.abs(np.fft.rfft(pink))[-1000:].mean()
    flat = np.abs(np.fft.rfft(white))[:1000].mean() / np.abs(np.fft.rfft(white))[-1000:].mean()
    assert low > 3 and 0.8 < flat < 1.25  # pink: amplitude ~ 1/sqrt(f), so the low bins are ~5x stronger


def test_add_noise_tiles_and_crops_an_array_of_noise():
    x = speechy(1.0)
    short = speechy(0.3, seed=7)  # shorter than the clip: tiled, so it repeats every 4800 samples
    y = augment.add_noise(x, 10.0, noise=short, rng=0)
    assert abs(augment.snr_db(x, y) - 10.0) < 1e-6
    added = y.astype(np.float64) - x
    np.testing.assert_allclose(added[: -len(short)], added[len(short) :], atol=1e-6)
    start = int(np.argmax(np.correlate(np.tile(short, 2), added[: len(short)])))
    excerpt = np.roll(short, -start).astype(np.float64)  # the noise, cropped from a random start
    scale = excerpt @ added[: len(short)] / (excerpt @ excerpt)
    np.testing.assert_allclose(added[: len(short)], scale * excerpt, atol=1e-6)
    long = speechy(3.0, seed=5)
    starts = {
        int(np.argmax(np.correlate(long, augment.add_noise(x, 0, noise=long, rng=s)[:200] - x[:200])))
        for s in range(3)
    }
    assert len(starts) == 3  # a different excerpt for each seed


def test_babble_is_several_talkers_at_the_requested_length_and_snr():
    b = augment.babble(8000, rng=0)
    assert b.shape == (8000,) and np.std(b) > 0
    np.testing.assert_array_equal(b, augment.babble(8000, rng=0))
    assert not np.array_equal(b, augment.babble(8000, rng=1))
    x = speechy()
    assert abs(augment.snr_db(x, augment.add_noise(x, 0.0, noise="babble", rng=2)) - 0.0) < 1e-6


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"audio": np.zeros((100, 2), np.float32), "snr_db": 5}, "expected mono audio"),
        ({"audio": np.array([0.1, np.nan], np.float32), "snr_db": 5}, "NaN"),
        ({"audio": np.zeros(100, np.float32), "snr_db": 5}, "silent"),
        ({"audio": np.ones(100, np.float32) * 0.1, "snr_db": float("inf")}, "finite"),
        ({"audio": np.ones(100, np.float32) * 0.1, "snr_db": "5"}, "number of dB"),
        ({"audio": np.ones(100, np.float32) * 0.1, "snr_db": 5, "noise": "brown"}, "noise must be one of"),
        ({"audio": np.ones(100, np.float32) * 0.1, "snr_db": 5, "noise": np.zeros(50)}, "noise is silent"),
    ],
)
def test_add_noise_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        augment.add_noise(**kwargs)


@pytest.mark.parametrize("factor", [0.9, 1.1, 0.95, 1.05, 0.8, 1.25])
def test_change_speed_matches_torchaudio_speed(factor):
    x = speechy()
    y = augment.change_speed(x, factor)
    expected, _ = AF.speed(torch.from_numpy(x).double()[None], SR, factor)
    assert y.shape == tuple(expected.shape[1:])
    np.testing.assert_allclose(y, expected[0].numpy(), atol=1e-7)


def test_change_speed_scales_pitch_and_duration():
    x = harmonic(150.0)
    y = augment.change_speed(x, 1.2)
    assert len(y) == int(np.ceil(len(x) / 1.2))
    f0 = np.median(librosa.yin(y, fmin=60, fmax=600, sr=SR))
    assert f0 == pytest.approx(180.0, rel=0.005)
    np.testing.assert_array_equal(augment.change_speed(x, 1.0), x)


@pytest.mark.parametrize("factor", [0, -1.1, float("nan"), 5.0])
def test_change_speed_rejects_bad_factors(factor):
    with pytest.raises(ValueError, match="factor must be"):
        augment.change_speed(speechy(), factor)


def test_change_speed_rejects_stereo():
    with pytest.raises(AudioError, match="expected mono audio"):
        augment.change_speed(np.zeros((1000, 2), np.float32), 1.1)


@pytest.mark.parametrize("semitones", [-5.0, 3.0, 7.0])
def test_shift_pitch_moves_f0_by_the_ratio_and_keeps_duration(semitones):
    x = harmonic(150.0)
    y = augment.shift_pitch(x, semitones)
    assert y.shape == x.shape and y.dtype == np.float32
    f0 = np.median(librosa.yin(y, fmin=60, fmax=600, sr=SR))
    assert f0 == pytest.approx(150.0 * 2 ** (semitones / 12), rel=0.005)


def test_shift_pitch_agrees_with_librosa():
    x = harmonic(150.0)
    ours = augment.shift_pitch(x, 4.0)
    theirs = librosa.effects.pitch_shift(x, sr=SR, n_steps=4.0)
    middle = slice(1600, -1600)  # the edges differ by resampler (librosa uses soxr)
    assert np.corrcoef(ours[middle], theirs[middle])[0, 1] > 0.97
    np.testing.assert_array_equal(augment.shift_pitch(x, 0), x)


@pytest.mark.parametrize("semitones", [float("inf"), 30.0, "up"])
def test_shift_pitch_rejects_bad_semitones(semitones):
    with pytest.raises(ValueError, match="semitones must be"):
        augment.shift_pitch(harmonic(), semitones)


def test_noisy_utterances_copies_each_clip_at_the_snr_reproducibly():
    from speechlm.corpus import Utterance

    utts = [Utterance(speechy(0.5, seed=s), SR, "x", "spk", labels={"task": "t"}) for s in range(3)]
    noisy = augment.noisy_utterances(utts, 5.0, seed=1)
    again = augment.noisy_utterances(utts, 5.0, seed=1)
    for u, n, m in zip(utts, noisy, again, strict=True):
        assert abs(augment.snr_db(u.audio, n.audio) - 5.0) < 1e-6
        np.testing.assert_array_equal(n.audio, m.audio)
        assert n.labels == u.labels and n.text == u.text and not np.array_equal(n.audio, u.audio)
    assert not np.allclose(noisy[0].audio - utts[0].audio, noisy[1].audio - utts[1].audio)
