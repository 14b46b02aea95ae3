"""MFCC (speechlm.dsp.mfcc, speechlm.dsp.kaldi) against librosa and torchaudio's Kaldi compliance."""

import librosa
import numpy as np
import pytest
import torch
import torchaudio.compliance.kaldi as kaldi
from hypothesis import given, settings
from hypothesis import strategies as st

from speechlm import dsp

SR = 16000


def _signals():
    rng = np.random.default_rng(0)
    noise = (0.1 * rng.standard_normal(SR)).astype(np.float32)
    vowels = np.concatenate(
        [
            dsp.synthetic_vowel((300.0, 2300.0, 3000.0), (60.0, 100.0, 120.0), 110.0, 0.4),  # "ee"
            np.zeros(1600),
            dsp.synthetic_vowel((700.0, 1220.0, 2600.0), (80.0, 90.0, 120.0), 180.0, 0.4, noise=0.05),
        ]
    ).astype(np.float32)
    return {"noise": noise, "vowels": vowels}


SIGNALS = _signals()

LIBROSA_ARGS = [
    dict(),
    dict(htk=True),
    dict(n_fft=512, hop_length=160, n_mels=40, n_mfcc=13),
    dict(n_fft=400, hop_length=100, win_length=320, n_mels=64, center=False),
    dict(n_fft=1024, hop_length=256, window="hamming", fmin=50.0, fmax=7000.0, lifter=22, htk=True),
    dict(n_fft=512, hop_length=128, power=1.0, norm=None, pad_mode="reflect", top_db=None),
]


@pytest.mark.parametrize("name", sorted(SIGNALS))
@pytest.mark.parametrize("kwargs", LIBROSA_ARGS)
def test_mfcc_matches_librosa(name, kwargs):
    y = SIGNALS[name]
    ours = dsp.mfcc(y, SR, **kwargs)
    librosa_kwargs = dict(kwargs)
    top_db = librosa_kwargs.pop("top_db", 80.0)
    if top_db is None:  # librosa.feature.mfcc always clips at 80 dB: pass the spectrogram instead
        mel = librosa.feature.melspectrogram(
            y=y, sr=SR, **{k: v for k, v in kwargs.items() if k in _MEL_ARGS}
        )
        theirs = librosa.feature.mfcc(
            S=librosa.power_to_db(mel, top_db=None), **{k: v for k, v in kwargs.items() if k in _DCT_ARGS}
        )
    else:
        theirs = librosa.feature.mfcc(y=y, sr=SR, **librosa_kwargs)
    assert ours.shape == theirs.T.shape
    assert np.max(np.abs(ours - theirs.T)) <= 1e-3 * np.max(np.abs(theirs))


_MEL_ARGS = {
    "n_fft",
    "hop_length",
    "win_length",
    "window",
    "center",
    "pad_mode",
    "power",
    "n_mels",
    "fmin",
    "fmax",
}
_DCT_ARGS = {"n_mfcc", "norm", "lifter"}


def test_log_mel_matches_librosa():
    y = SIGNALS["vowels"]
    mel = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=400, hop_length=160, n_mels=80)
    ours = dsp.log_mel_spectrogram(y, SR, n_fft=400, hop_length=160, n_mels=80)
    theirs = librosa.power_to_db(mel).T
    assert np.max(np.abs(ours - theirs)) <= 1e-4 * np.max(np.abs(theirs))  # float32 rounding of dB values


KALDI_ARGS = [
    ({}, {}),
    ({"use_energy": True}, {"use_energy": True}),
    ({"snip_edges": False}, {"snip_edges": False}),
    ({"use_energy": True, "raw_energy": False}, {"use_energy": True, "raw_energy": False}),
    (
        {"window": "hann", "energy_floor": 0.0, "use_energy": True},
        {"window_type": "hanning", "energy_floor": 0.0, "use_energy": True},
    ),
    (
        {
            "num_mel_bins": 40,
            "num_ceps": 20,
            "frame_length_ms": 20.0,
            "frame_shift_ms": 5.0,
            "window": "hamming",
        },
        {
            "num_mel_bins": 40,
            "num_ceps": 20,
            "frame_length": 20.0,
            "frame_shift": 5.0,
            "window_type": "hamming",
        },
    ),
    (
        {"low_freq_hz": 60.0, "high_freq_hz": -400.0, "cepstral_lifter": 0.0, "remove_dc_offset": False},
        {"low_freq": 60.0, "high_freq": -400.0, "cepstral_lifter": 0.0, "remove_dc_offset": False},
    ),
    (
        {"round_to_power_of_two": False, "preemphasis_coefficient": 0.0, "window": "rectangular"},
        {"round_to_power_of_two": False, "preemphasis_coefficient": 0.0, "window_type": "rectangular"},
    ),
]


@pytest.mark.parametrize("name", sorted(SIGNALS))
@pytest.mark.parametrize(("ours_kwargs", "theirs_kwargs"), KALDI_ARGS)
def test_mfcc_kaldi_matches_torchaudio(name, ours_kwargs, theirs_kwargs):
    y = SIGNALS[name] * 32768.0  # Kaldi's int16 scale
    theirs = kaldi.mfcc(torch.from_numpy(y)[None], dither=0.0, **theirs_kwargs).numpy()
    ours = dsp.mfcc_kaldi(y, SR, **ours_kwargs)
    assert ours.shape == theirs.shape
    assert np.max(np.abs(ours - theirs)) <= 1e-3 * np.max(np.abs(theirs))


def test_fbank_kaldi_matches_torchaudio():
    y = SIGNALS["vowels"] * 32768.0
    theirs = kaldi.fbank(torch.from_numpy(y)[None], num_mel_bins=80, use_energy=True).numpy()
    ours = dsp.fbank_kaldi(y, SR, num_mel_bins=80, use_energy=True)
    assert np.max(np.abs(ours - theirs)) <= 1e-3 * np.max(np.abs(theirs))


def test_kaldi_energy_floor_needs_int16_scale():
    """On [-1, 1) audio, quiet frames hit the energy floor log(1.0) = 0: the reason for the 32768."""
    quiet = SIGNALS["noise"] * 0.01  # RMS 0.001: a frame's energy is 400 * 1e-6 < 1
    energy = dsp.mfcc_kaldi(quiet, SR, use_energy=True)[:, 0]
    assert np.all(energy == 0.0)
    assert np.all(dsp.mfcc_kaldi(quiet * 32768.0, SR, use_energy=True)[:, 0] > 0.0)


def test_batch_equals_one_at_a_time():
    batch = np.stack([SIGNALS["noise"][: SIGNALS["vowels"].size], SIGNALS["vowels"]])
    ours = dsp.mfcc(batch, SR, n_fft=512, hop_length=160)
    for item, y in zip(ours, batch, strict=True):
        np.testing.assert_allclose(item, dsp.mfcc(y, SR, n_fft=512, hop_length=160), rtol=1e-5, atol=1e-4)
    kaldi_batch = dsp.mfcc_kaldi(batch * 32768.0, SR)
    np.testing.assert_allclose(kaldi_batch[1], dsp.mfcc_kaldi(batch[1] * 32768.0, SR), rtol=1e-10)


@given(
    n=st.integers(1, 3000),
    n_fft=st.sampled_from([256, 400, 512]),
    hop=st.integers(50, 300),
    center=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_mfcc_shape_follows_framing(n, n_fft, hop, center):
    y = np.random.default_rng(n).standard_normal(n)
    if n < n_fft:
        with pytest.raises(ValueError, match=f"at least frame_length={n_fft} samples"):
            dsp.mfcc(y, SR, n_fft=n_fft, hop_length=hop, center=center, n_mels=40, n_mfcc=13)
        return
    out = dsp.mfcc(y, SR, n_fft=n_fft, hop_length=hop, center=center, n_mels=40, n_mfcc=13)
    expected_frames = 1 + n // hop if center else 1 + (n - n_fft) // hop
    assert out.shape == (expected_frames, 13)
    assert np.all(np.isfinite(out))


@given(n=st.integers(1, 2000), snip_edges=st.booleans())
@settings(max_examples=40, deadline=None)
def test_mfcc_kaldi_shape_follows_framing(n, snip_edges):
    y = np.random.default_rng(n).standard_normal(n) * 1000
    if n < 400:
        with pytest.raises(ValueError, match="at least window_size"):
            dsp.mfcc_kaldi(y, SR, snip_edges=snip_edges)
        return
    expected = 1 + (n - 400) // 160 if snip_edges else (n + 80) // 160
    assert dsp.mfcc_kaldi(y, SR, snip_edges=snip_edges).shape == (expected, 13)


def test_mfcc_bad_input():
    with pytest.raises(ValueError, match="n_mfcc=50 cannot exceed n_mels=40"):
        dsp.mfcc(SIGNALS["noise"], SR, n_mfcc=50, n_mels=40)
    with pytest.raises(ValueError, match="sr must be a positive number"):
        dsp.mfcc(SIGNALS["noise"], 0)
    with pytest.raises(ValueError, match="NaN or inf"):
        dsp.mfcc(np.full(4000, np.nan), SR)
    with pytest.raises(ValueError, match="expected mono audio"):
        dsp.estimate_f0(np.zeros((2, 16000)), SR, 160)
    with pytest.raises(ValueError, match="num_ceps=30 cannot exceed num_mel_bins=23"):
        dsp.mfcc_kaldi(SIGNALS["noise"], SR, num_ceps=30)


def test_mfcc_is_gain_invariant_except_c0():
    """Scaling the signal shifts log-mel by a constant, so only c0 (the mean) moves."""
    y = SIGNALS["noise"]  # no digital silence, where the amin floor would not scale
    a = dsp.mfcc(y, SR, n_fft=512, hop_length=160, top_db=None)
    b = dsp.mfcc(4.0 * y, SR, n_fft=512, hop_length=160, top_db=None)
    np.testing.assert_allclose(b[:, 1:], a[:, 1:], atol=1e-3)
    np.testing.assert_allclose(b[:, 0] - a[:, 0], 20 * np.log10(4.0) * np.sqrt(128), rtol=1e-3)


@pytest.fixture(scope="module")
def corpus_speech():
    from speechlm import corpus

    return [u.audio for u in corpus.load("embedded", split="dev", size=3, seed=0, progress=False)]


def test_parity_on_corpus_speech(corpus_speech):
    for y in corpus_speech:
        for kwargs in LIBROSA_ARGS[:3]:
            ours = dsp.mfcc(y, SR, **kwargs)
            theirs = librosa.feature.mfcc(y=y, sr=SR, **kwargs)
            assert np.max(np.abs(ours - theirs.T)) <= 1e-3 * np.max(np.abs(theirs))
        scaled = 32768.0 * y
        theirs = kaldi.mfcc(torch.from_numpy(scaled)[None], dither=0.0).numpy()
        assert np.max(np.abs(dsp.mfcc_kaldi(scaled, SR) - theirs)) <= 1e-3 * np.max(np.abs(theirs))


def test_mfcc_kaldi_takes_int16_samples_as_they_are():
    y16 = np.round(SIGNALS["vowels"] * 32767).astype(np.int16)
    np.testing.assert_allclose(dsp.mfcc_kaldi(y16, SR), dsp.mfcc_kaldi(y16.astype(np.float64), SR))
    with pytest.raises(TypeError, match="32768"):
        dsp.mfcc(y16, SR)
