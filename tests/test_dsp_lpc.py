"""Linear prediction (speechlm.dsp.lpc, pitch, synth) against SciPy and librosa."""

import librosa
import numpy as np
import pytest
import scipy.linalg
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

from speechlm import dsp

SR = 16000


@pytest.fixture
def vowel():
    return dsp.synthetic_vowel((700.0, 1220.0, 2600.0), (80.0, 90.0, 120.0), f0_hz=120.0, duration_s=0.5)


@pytest.mark.parametrize("order", [1, 2, 8, 16, 24])
def test_lpc_matches_exact_toeplitz_solve(vowel, order):
    frame = vowel[3000:3400] * np.hamming(400)
    r = dsp.autocorrelation(frame, order)
    exact = scipy.linalg.solve_toeplitz(r[:order], -r[1 : order + 1])
    a = dsp.lpc(frame, order)
    assert a[0] == 1.0
    assert np.max(np.abs(a[1:] - exact)) <= 1e-8 * np.max(np.abs(exact))


def test_autocorrelation_matches_numpy_correlate():
    x = np.random.default_rng(1).standard_normal(300)
    full = np.correlate(x, x, mode="full")[299:]
    np.testing.assert_allclose(dsp.autocorrelation(x, 20), full[:21], rtol=1e-12)


def test_levinson_durbin_error_and_reflection_coefficients():
    x = np.random.default_rng(2).standard_normal(2000)
    r = dsp.autocorrelation(x, 10)
    a, k, error = dsp.levinson_durbin(r)
    assert np.all(np.abs(k) < 1)
    assert error == pytest.approx(r[0] * np.prod(1 - k**2))
    assert error == pytest.approx(r @ a)  # the residual energy of the normal equations
    for m in (1, 4):  # the last reflection coefficient of order m is a_m of the order-m solution
        assert k[m - 1] == pytest.approx(dsp.levinson_durbin(r, m)[0][m])


def test_lpc_is_vectorised_over_frames(vowel):
    frames = dsp.frame(vowel, 400, 160) * np.hamming(400)
    batch = dsp.lpc(frames, 12)
    assert batch.shape == (frames.shape[0], 13)
    np.testing.assert_allclose(batch[5], dsp.lpc(frames[5], 12), rtol=1e-12)


def test_silence_gives_the_trivial_predictor():
    a, k, error = dsp.levinson_durbin(np.zeros(5))
    np.testing.assert_array_equal(a, [1, 0, 0, 0, 0])
    assert error == 0 and np.all(k == 0)


def test_lpc_bad_input():
    with pytest.raises(ValueError, match=r"order=10 must be smaller than the frame length \(8 samples\)"):
        dsp.lpc(np.ones(8), 10)
    with pytest.raises(ValueError, match="order must be a positive integer"):
        dsp.lpc(np.ones(8), 0)
    with pytest.raises(ValueError, match="NaN or inf"):
        dsp.lpc(np.array([1.0, np.inf, 0.0, 1.0]), 2)
    with pytest.raises(ValueError, match="method must be 'autocorrelation'"):
        dsp.lpc(np.ones(8), 2, method="burg")


@st.composite
def stable_ar(draw):
    """Reflection coefficients with |k| <= 0.9 always give a stable all-pole filter."""
    order = draw(st.integers(1, 6))
    k = draw(st.lists(st.floats(-0.9, 0.9), min_size=order, max_size=order))
    a = np.array([1.0])
    for km in k:  # step-up recursion
        a = np.concatenate([a, [0.0]]) + km * np.concatenate([a, [0.0]])[::-1]
    return a, draw(st.integers(0, 2**16))


@given(stable_ar())
@settings(max_examples=40, deadline=None)
def test_lpc_recovers_a_stable_ar_process(case):
    a_true, seed = case
    x = scipy.signal.lfilter([1.0], a_true, np.random.default_rng(seed).standard_normal(40000))
    a = dsp.lpc(x, len(a_true) - 1)
    assert np.max(np.abs(a - a_true)) < 0.05, (a, a_true)


def test_envelope_matches_freqz_and_formants_are_found():
    a = dsp.resonator_filter([500.0, 1500.0, 2500.0], [60.0, 80.0, 100.0], SR)
    env = dsp.lpc_envelope(a, gain=2.0, n_fft=1024)
    _, h = scipy.signal.freqz([2.0], a, worN=513, fs=SR, include_nyquist=True)
    np.testing.assert_allclose(env, np.abs(h) ** 2, rtol=1e-9)
    np.testing.assert_allclose(dsp.formants(a, SR), [500.0, 1500.0, 2500.0], rtol=1e-9)
    assert dsp.formants(a, SR, max_bandwidth_hz=70.0).tolist() == pytest.approx([500.0])


@pytest.mark.parametrize("order", [10, 12, 14])
def test_formants_of_a_synthetic_vowel(vowel, order):
    a = dsp.lpc(dsp.preemphasis(vowel[3000:3512]) * np.hamming(512), order)
    found = dsp.formants(a, SR)
    assert len(found) == 3
    np.testing.assert_allclose(found, [700.0, 1220.0, 2600.0], rtol=0.03)


def test_envelope_agrees_with_librosa_burg_on_a_voiced_frame(vowel):
    frame = vowel[3000:3512] * np.hamming(512)
    ours = 10 * np.log10(dsp.lpc_envelope(dsp.lpc(frame, 12)))
    burg = 10 * np.log10(dsp.lpc_envelope(librosa.lpc(frame, order=12)))
    ours, burg = ours - ours.max(), burg - burg.max()
    top = ours > -30  # the formant region, where the envelope matters
    assert np.median(np.abs(ours - burg)[top]) < 1.5


def test_residual_and_synthesis_invert_each_other(vowel):
    a, gain = dsp.lpc_frames(vowel, order=14, frame_length=400, hop_length=160)
    assert a.shape == (-(-vowel.size // 160), 15) and gain.shape == (a.shape[0],)
    residual = dsp.lpc_residual(vowel, a, hop_length=160)
    np.testing.assert_allclose(dsp.lpc_synthesize(residual, a, hop_length=160), vowel, atol=1e-9)
    assert np.sum(residual**2) < 0.1 * np.sum(vowel**2)  # prediction removes most of the energy
    single = dsp.lpc(vowel * np.hamming(vowel.size), 14)
    np.testing.assert_allclose(dsp.lpc_synthesize(dsp.lpc_residual(vowel, single), single), vowel, atol=1e-9)
    with pytest.raises(ValueError, match=r"expected ceil\(time / hop_length\)"):
        dsp.lpc_residual(vowel, a[:-1], hop_length=160)


def test_vocoder_keeps_the_level(vowel):
    a, gain = dsp.lpc_frames(vowel, order=14, frame_length=400, hop_length=160)
    f0 = dsp.estimate_f0(vowel, SR, hop_length=160)
    e = dsp.excitation(f0, 160, SR, n_samples=vowel.size)
    out = dsp.lpc_synthesize(e, a, hop_length=160, gain=gain)
    middle = slice(1600, 6400)
    ratio = np.sqrt(np.mean(out[middle] ** 2) / np.mean(vowel[middle] ** 2))
    assert 0.5 < ratio < 2.0, ratio


@pytest.mark.parametrize("f0", [85.0, 120.0, 210.0, 320.0])
def test_estimate_f0_on_synthetic_vowels(f0):
    vowel = dsp.synthetic_vowel(f0_hz=f0, duration_s=0.6)
    track = dsp.estimate_f0(vowel, SR, hop_length=160)
    assert np.median(track[5:-5]) == pytest.approx(f0, rel=0.03)
    noise = np.random.default_rng(0).standard_normal(8000)
    assert np.mean(dsp.estimate_f0(noise, SR, hop_length=160) > 0) < 0.1


def test_excitation_has_unit_power_and_pulses_at_f0():
    e = dsp.excitation(np.full(100, 200.0), 160, SR)
    assert np.mean(e**2) == pytest.approx(1.0, rel=0.02)
    assert np.count_nonzero(e) == pytest.approx(100 * 160 * 200 / SR, abs=1)
    noise = dsp.excitation(np.zeros(100), 160, SR, seed=3)
    assert np.mean(noise**2) == pytest.approx(1.0, rel=0.05)
