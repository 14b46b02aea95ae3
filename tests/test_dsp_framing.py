"""Framing, windows, pre-emphasis and STFT (speechlm.dsp.framing) against NumPy, SciPy and librosa."""

import librosa
import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

from speechlm import dsp


@pytest.fixture
def noise():
    return np.random.default_rng(0).standard_normal(3001)


@given(
    n=st.integers(1, 400),
    frame_length=st.integers(1, 64),
    hop=st.integers(1, 40),
    center=st.booleans(),
)
@settings(max_examples=80, deadline=None)
def test_frame_count_and_content(n, frame_length, hop, center):
    y = np.arange(n, dtype=float)
    if n < frame_length:
        with pytest.raises(ValueError, match=f"at least frame_length={frame_length} samples"):
            dsp.frame(y, frame_length, hop, center=center)
        return
    frames = dsp.frame(y, frame_length, hop, center=center)
    assert frames.shape == (dsp.n_frames(n, frame_length, hop, center=center), frame_length)
    offset = frame_length // 2 if center else 0
    for t in (0, frames.shape[0] - 1):
        start = t * hop - offset
        expected = [y[i] if 0 <= i < n else 0.0 for i in range(start, start + frame_length)]
        np.testing.assert_array_equal(frames[t], expected)


def test_frame_is_a_view_and_batches(noise):
    batch = np.stack([noise, -noise])
    frames = dsp.frame(batch, 400, 160)
    assert frames.shape == (2, 1 + (3001 - 400) // 160, 400)
    assert np.shares_memory(frames, batch)
    np.testing.assert_array_equal(frames[1], -frames[0])


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (np.array([]), ValueError, "empty"),
        (np.float64(1.0), ValueError, "scalar"),
        (np.array([0.0, np.nan, 1.0]), ValueError, "NaN or inf"),
        (np.array([1, 2, 3], dtype=np.int16), TypeError, "32768"),
        (np.array([1j, 2j]), TypeError, "real floating-point"),
    ],
)
def test_bad_signals_get_clear_errors(bad, error, match):
    with pytest.raises(error, match=match):
        dsp.frame(bad, 1, 1)


def test_bad_lengths_get_clear_errors(noise):
    with pytest.raises(ValueError, match="hop_length must be a positive integer"):
        dsp.frame(noise, 10, 0)
    with pytest.raises(ValueError, match="unknown window 'kaiser'"):
        dsp.get_window("kaiser", 10)
    with pytest.raises(ValueError, match="win_length=600 must not exceed n_fft=512"):
        dsp.stft(noise, 512, win_length=600)


@pytest.mark.parametrize("name", ["hann", "hamming"])
@pytest.mark.parametrize("periodic", [True, False])
def test_windows_match_scipy(name, periodic):
    expected = scipy.signal.get_window(name, 401, fftbins=periodic)
    np.testing.assert_allclose(dsp.get_window(name, 401, periodic=periodic), expected, atol=1e-12)


def test_povey_window_is_hann_to_the_085():
    w = dsp.get_window("povey", 400, periodic=False)
    np.testing.assert_allclose(w, np.hanning(400) ** 0.85, atol=1e-12)
    assert w[0] == 0.0 and w[-1] < 1e-12


def test_preemphasis_matches_librosa_with_replicated_first_sample(noise):
    ours = dsp.preemphasis(noise, 0.97)
    theirs = librosa.effects.preemphasis(noise, coef=0.97, zi=[-0.97 * noise[0]])
    np.testing.assert_allclose(ours, theirs, atol=1e-12)
    assert ours[0] == pytest.approx(0.03 * noise[0])


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(n_fft=512, hop_length=128),
        dict(n_fft=400, hop_length=160, win_length=320, window="hamming"),
        dict(n_fft=256, hop_length=100, center=False),
        dict(n_fft=512, hop_length=256, pad_mode="reflect"),
    ],
)
def test_stft_matches_librosa(noise, kwargs):
    y = noise.astype(np.float32)
    theirs = librosa.stft(y, **kwargs)
    ours = dsp.stft(y, **kwargs)
    assert ours.dtype == np.complex64
    assert ours.shape == theirs.T.shape
    np.testing.assert_allclose(ours, theirs.T, atol=1e-4 * np.abs(theirs).max())


def test_stft_of_a_tone_peaks_at_its_bin():
    sr, n_fft = 16000, 512
    y = np.sin(2 * np.pi * 1000.0 * np.arange(sr) / sr)
    spec = dsp.power_spectrogram(y, n_fft=n_fft, hop_length=256)
    assert np.all(np.argmax(spec[2:-2], axis=-1) == round(1000 * n_fft / sr))
    np.testing.assert_allclose(dsp.power_spectrogram(y, n_fft, 256, power=1.0) ** 2, spec, rtol=1e-9)


def test_block_frames_are_centred_on_blocks():
    y = np.arange(1.0, 11.0)
    frames = dsp.block_frames(y, frame_length=4, hop_length=3)
    assert frames.shape == (4, 4)  # ceil(10 / 3) blocks
    np.testing.assert_array_equal(frames[1], [3.0, 4.0, 5.0, 6.0])  # block 1 is samples 3..5 (values 4..6)
    np.testing.assert_array_equal(frames[-1], [9.0, 10.0, 0.0, 0.0])
