"""Mel scale, filterbanks, DCT, liftering and deltas (speechlm.dsp.mel) against librosa, SciPy, torchaudio."""

import librosa
import numpy as np
import pytest
import scipy.fft
import torch
import torchaudio.functional as AF
from hypothesis import given, settings
from hypothesis import strategies as st

from speechlm import dsp


@given(f=st.floats(0.0, 48000.0), htk=st.booleans())
@settings(max_examples=200, deadline=None)
def test_mel_and_hz_invert_each_other(f, htk):
    assert dsp.mel_to_hz(dsp.hz_to_mel(f, htk), htk) == pytest.approx(f, rel=1e-9, abs=1e-9)


@given(m=st.floats(0.0, 4000.0), htk=st.booleans())
@settings(max_examples=100, deadline=None)
def test_hz_and_mel_invert_each_other(m, htk):
    assert dsp.hz_to_mel(dsp.mel_to_hz(m, htk), htk) == pytest.approx(m, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("htk", [False, True])
def test_mel_scale_matches_librosa(htk):
    f = np.linspace(0, 8000, 321)
    np.testing.assert_allclose(dsp.hz_to_mel(f, htk), librosa.hz_to_mel(f, htk=htk), rtol=1e-12)
    assert np.all(np.diff(dsp.hz_to_mel(f, htk)) > 0)
    with pytest.raises(ValueError, match="non-negative"):
        dsp.hz_to_mel(-1.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(sr=16000, n_fft=2048),
        dict(sr=16000, n_fft=512, n_mels=40, htk=True),
        dict(sr=22050, n_fft=1024, n_mels=64, fmin=60.0, fmax=7600.0),
        dict(sr=16000, n_fft=400, n_mels=80, norm=None),
    ],
)
def test_mel_filterbank_matches_librosa(kwargs):
    ours = dsp.mel_filterbank(**kwargs)
    theirs = librosa.filters.mel(**kwargs, dtype=np.float64)
    assert ours.shape == theirs.shape
    assert np.max(np.abs(ours - theirs)) <= 1e-6
    assert not ours.flags.writeable  # cached: callers must not change it


def test_mel_filterbank_bad_arguments():
    with pytest.raises(ValueError, match="fmax <= sr / 2"):
        dsp.mel_filterbank(16000, 512, fmax=9000.0)
    with pytest.raises(ValueError, match="norm must be 'slaney' or None"):
        dsp.mel_filterbank(16000, 512, norm="l2")


@pytest.mark.parametrize("norm", ["ortho", None])
def test_dct_matches_scipy(norm):
    x = np.random.default_rng(0).standard_normal((3, 7, 40))
    np.testing.assert_allclose(dsp.dct(x, norm=norm), scipy.fft.dct(x, type=2, norm=norm), atol=1e-10)
    expected = scipy.fft.dct(x, type=2, norm=norm, axis=1)[:, :5]
    np.testing.assert_allclose(dsp.dct(x, n_out=5, axis=1, norm=norm), expected, atol=1e-10)
    with pytest.raises(ValueError, match="n_out=13 must not exceed n_in=7"):
        dsp.dct(x, n_out=13, axis=1)


def test_orthonormal_dct_is_orthogonal():
    basis = dsp.dct_matrix(23)
    np.testing.assert_allclose(basis @ basis.T, np.eye(23), atol=1e-12)


def test_lifter_conventions():
    c = np.ones((4, 13))
    kaldi = dsp.lifter(c, 22.0)
    np.testing.assert_allclose(kaldi[0], 1.0 + 11.0 * np.sin(np.pi * np.arange(13) / 22.0))
    assert kaldi[0, 0] == 1.0  # c0 is not scaled in the Kaldi/HTK numbering
    librosa_style = dsp.lifter(c, 22.0, first_index=1)[0]
    np.testing.assert_allclose(librosa_style, 1.0 + 11.0 * np.sin(np.pi * np.arange(1, 14) / 22.0))
    assert dsp.lifter(c, 0) is c


@pytest.mark.parametrize("width", [1, 2, 3])
def test_deltas_match_torchaudio(width):
    feats = np.random.default_rng(1).standard_normal((2, 50, 13))
    theirs = AF.compute_deltas(torch.from_numpy(feats).transpose(1, 2), win_length=2 * width + 1)
    np.testing.assert_allclose(dsp.deltas(feats, width), theirs.transpose(1, 2).numpy(), atol=1e-12)


def test_deltas_of_a_ramp_are_its_slope():
    ramp = np.arange(30.0)[:, None] * np.array([[1.0, -2.0]])
    d = dsp.deltas(ramp)
    np.testing.assert_allclose(d[2:-2], np.broadcast_to([1.0, -2.0], (26, 2)))
    with pytest.raises(ValueError, match=r"\(\.\.\., n_frames, n_features\)"):
        dsp.deltas(np.arange(30.0))
