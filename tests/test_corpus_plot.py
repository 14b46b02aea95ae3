"""speechlm.plot: the spectrogram matches librosa's STFT, and the figures draw what they say."""

import librosa
import matplotlib
import numpy as np

from speechlm import corpus, plot

matplotlib.use("Agg")


def test_log_power_spectrogram_matches_librosa_stft():
    x = np.random.default_rng(0).standard_normal(8000) * 0.1
    db, freqs, times = plot.log_power_spectrogram(x, 16000, win_s=0.025, hop_s=0.01)
    stft = librosa.stft(
        x, n_fft=512, hop_length=160, win_length=400, window=np.hanning(400), pad_mode="constant"
    )
    expected = 10 * np.log10(np.maximum(np.abs(stft) ** 2, 1e-10))
    assert db.shape == expected.shape == (257, 51)
    np.testing.assert_allclose(db, expected, atol=1e-6)
    np.testing.assert_allclose(freqs, librosa.fft_frequencies(sr=16000, n_fft=512))
    np.testing.assert_allclose(times, np.arange(51) * 0.01)


def test_alignment_draws_every_word_and_phone():
    import matplotlib.pyplot as plt

    u = corpus.synthesize("turn on the radio")
    ax = plot.alignment(u)
    texts = [t.get_text() for t in ax.texts]
    assert [w for w, _, _ in u.words] == [t for t in texts if t in {"turn", "on", "the", "radio"}][:4]
    assert len(texts) == len(u.words) + len(u.phones)
    plt.close("all")


def test_waveform_and_curves_axes():
    import matplotlib.pyplot as plt

    ax = plot.waveform(np.zeros(1600, np.float32), 16000)
    assert ax.get_xlim() == (0.0, 0.1)
    ax = plot.curves({"train": [3.0, 2.0, 1.0], "dev": [3.5, 2.5, 2.0]}, logy=True)
    assert [line.get_label() for line in ax.get_lines()] == ["train", "dev"] and ax.get_yscale() == "log"
    plt.close("all")
