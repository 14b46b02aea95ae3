"""speechlm.audio: load/save/resample/to_mono/normalize and a specific error for each bad input."""

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from speechlm import audio
from speechlm.audio import AudioError


def tone(freq_hz=440.0, rate=16000, seconds=0.5, amp=0.5):
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def test_save_then_load_round_trips_within_16_bit_quantisation(tmp_path):
    x = tone()
    path = audio.save(tmp_path / "a.wav", x, 16000)
    y, rate = audio.load(path)
    assert rate == 16000 and y.dtype == np.float32 and y.shape == x.shape
    assert np.max(np.abs(y - x)) <= 1 / 32768 + 1e-7
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_save_flac_and_load_with_resampling(tmp_path):
    x = tone(rate=8000)
    audio.save(tmp_path / "a.flac", x, 8000)
    y, rate = audio.load(tmp_path / "a.flac", sample_rate=16000)
    assert rate == 16000 and len(y) == 2 * len(x)
    expected = resample_poly(sf.read(tmp_path / "a.flac", dtype="float32")[0], 2, 1)
    np.testing.assert_allclose(y, expected, atol=1e-6)


def test_load_stereo_averages_or_keeps_channels(tmp_path):
    left, right = tone(440), tone(660, amp=0.2)
    sf.write(tmp_path / "s.wav", np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    mono, _ = audio.load(tmp_path / "s.wav")
    np.testing.assert_allclose(mono, (left + right) / 2, atol=1e-7)
    both, _ = audio.load(tmp_path / "s.wav", mono=False)
    assert both.shape == (len(left), 2)


def test_resample_matches_scipy_polyphase():
    x = tone(rate=22050, seconds=0.3)
    y = audio.resample(x, 22050, 16000)
    np.testing.assert_allclose(y, resample_poly(x, 320, 441), atol=1e-6)
    assert len(y) == int(np.ceil(len(x) * 16000 / 22050))
    assert audio.resample(x, 16000, 16000) is not None and np.array_equal(audio.resample(x, 16000, 16000), x)


def test_to_mono_accepts_both_layouts():
    stereo = np.stack([tone(), tone(330)], axis=1)
    np.testing.assert_allclose(audio.to_mono(stereo), stereo.mean(axis=1), atol=1e-7)
    np.testing.assert_allclose(audio.to_mono(stereo.T), stereo.mean(axis=1), atol=1e-7)


def test_normalize_sets_the_peak():
    y = audio.normalize(tone(amp=0.1), peak=0.9)
    assert np.isclose(np.max(np.abs(y)), 0.9, atol=1e-6)


# --- each bad input gets its own error ---------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no audio file"):
        audio.load(tmp_path / "nope.wav")


def test_corrupt_or_non_audio_file(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio at all")
    with pytest.raises(AudioError, match=r"could not read .* as audio"):
        audio.load(path)


def test_empty_file(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty file"):
        audio.load(tmp_path / "empty.wav")


def test_header_without_samples(tmp_path):
    sf.write(tmp_path / "zero.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="no samples"):
        audio.load(tmp_path / "zero.wav")


def test_nan_or_inf_samples(tmp_path):
    x = tone()
    x[100] = np.nan
    with pytest.raises(AudioError, match="NaN or infinite"):
        audio.check_audio(x)
    x[100] = np.inf
    sf.write(tmp_path / "inf.wav", x, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN or infinite"):
        audio.load(tmp_path / "inf.wav")


def test_integer_samples_are_refused_with_the_fix():
    with pytest.raises(AudioError, match=r"integer samples \(int16\).*/ 32768"):
        audio.check_audio((tone() * 32767).astype(np.int16))


def test_int16_values_stored_as_floats_are_refused():
    with pytest.raises(AudioError, match="far outside"):
        audio.normalize(tone() * 32767)


def test_stereo_where_mono_is_expected():
    with pytest.raises(AudioError, match=r"expected mono audio, got shape \(8000, 2\)"):
        audio.check_audio(np.stack([tone(), tone()], axis=1))


def test_clip_shorter_than_one_frame():
    with pytest.raises(AudioError, match=r"shorter than one analysis frame of 400 samples \(25 ms"):
        audio.check_audio(tone()[:100], min_samples=400, sample_rate=16000)


@pytest.mark.parametrize("rate", [0, -16000, 100, 1_000_000, 16000.5, "16k", True])
def test_unsupported_sample_rate(rate):
    with pytest.raises(AudioError, match=r"target_sr.*(Hz|number)"):
        audio.resample(tone(), 16000, rate)


def test_unsupported_sample_rate_in_a_file(tmp_path):
    sf.write(tmp_path / "slow.wav", tone(rate=1000, seconds=0.2), 1000)
    with pytest.raises(AudioError, match=r"unsupported sample rate of slow\.wav 1000"):
        audio.load(tmp_path / "slow.wav")


def test_empty_array_and_silent_normalize():
    with pytest.raises(AudioError, match="empty"):
        audio.check_audio(np.zeros(0, np.float32))
    with pytest.raises(AudioError, match="silent"):
        audio.normalize(np.zeros(100, np.float32))


def test_save_refuses_clipping_and_unknown_format(tmp_path):
    with pytest.raises(AudioError, match="would clip"):
        audio.save(tmp_path / "loud.wav", tone(amp=1.5), 16000)
    with pytest.raises(AudioError, match=r"a\.xyz: audio\.save writes \.wav, \.flac or \.ogg .*not '\.xyz'"):
        audio.save(tmp_path / "a.xyz", tone(), 16000)
    assert list(tmp_path.iterdir()) == []
