"""Tests of speechlm.slm: speech tokeniser, unit LM data, resynthesis and the joint vocabulary."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch
from tiny_models import TWO_BLOCKS

from speechlm import gpt, slm
from speechlm.ssl import SpeechEncoder

# --- resynthesis ---------------------------------------------------------------------------------


def test_stft_magnitude_matches_librosa():
    y = np.random.default_rng(0).standard_normal(4000).astype(np.float32)
    ours = slm.stft_magnitude(y)
    theirs = np.abs(librosa.stft(y.astype(np.float64), n_fft=512, hop_length=160, win_length=400)).T
    assert ours.shape == (1 + 4000 // 160, 257)
    np.testing.assert_allclose(ours, theirs, atol=1e-9, rtol=0)


@pytest.mark.parametrize("n_iter, momentum", [(1, 0.99), (8, 0.99), (8, 0.0)])
def test_griffin_lim_matches_librosa(n_iter, momentum):
    y = np.random.default_rng(1).standard_normal(6000)
    magnitude = slm.stft_magnitude(y)
    ours = slm.griffin_lim(magnitude, n_iter, momentum=momentum, length=6000)
    theirs = librosa.griffinlim(
        magnitude.T, n_iter=n_iter, hop_length=160, win_length=400, n_fft=512,
        init=None, momentum=momentum, length=6000,
    )  # fmt: skip
    assert ours.dtype == np.float32 and ours.shape == (6000,)
    np.testing.assert_allclose(ours, theirs, atol=1e-6, rtol=0)


def test_griffin_lim_gets_closer_to_the_target_magnitude():
    t = np.arange(8000) / 16000
    y = np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 660 * t)
    target = slm.stft_magnitude(y)

    def error(n_iter):
        got = slm.stft_magnitude(slm.griffin_lim(target, n_iter, length=len(y)))
        return np.linalg.norm(got - target) / np.linalg.norm(target)

    assert error(32) < 0.5 * error(1)


def test_griffin_lim_rejects_bad_input():
    with pytest.raises(ValueError, match="n_frames, 257"):
        slm.griffin_lim(np.ones((10, 100)))
    with pytest.raises(ValueError, match="non-negative"):
        slm.griffin_lim(-np.ones((10, 257)))
    with pytest.raises(ValueError, match="momentum"):
        slm.griffin_lim(np.ones((10, 257)), momentum=1.0)


def test_unit_frames_repeats_each_unit_twice_per_frame():
    np.testing.assert_array_equal(slm.unit_frames([3, 1], [2, 1]), [3, 3, 3, 3, 1, 1])
    with pytest.raises(ValueError, match="at least one frame"):
        slm.unit_frames([3, 1], [2, 0])


def _two_tone_corpus():
    """Utterances alternating 300 Hz and 2 kHz tones in 0.2 s blocks, with the matching units."""
    t = np.arange(3200) / 16000
    low, high = np.sin(2 * np.pi * 300 * t), np.sin(2 * np.pi * 2000 * t)
    audio = np.concatenate([low, high, low, high]).astype(np.float32)
    z = np.repeat([0, 1, 0, 1], 10)  # 10 unit frames (20 ms) per 0.2 s block
    z = np.concatenate([z, [1]])  # 1 + samples // 320 frames
    return [audio], [z]


def test_vocoder_prototypes_and_resynthesis_follow_the_units():
    audios, frame_units = _two_tone_corpus()
    vocoder = slm.UnitVocoder.fit(audios, frame_units, n_units=3)
    freqs = np.fft.rfftfreq(512, 1 / 16000)
    peaks = freqs[vocoder.log_magnitude.argmax(axis=1)]
    assert abs(peaks[0] - 300) < 40 and abs(peaks[1] - 2000) < 40
    all_frames = np.log(slm.stft_magnitude(audios[0]) + 1e-5).mean(0)  # unit 2 is never seen
    np.testing.assert_allclose(vocoder.log_magnitude[2], all_frames, rtol=1e-5)
    np.testing.assert_allclose(vocoder.mean_durations, [10, 10.5, 1])
    audio = vocoder.synthesize([0, 1, 0], [10, 10, 10])
    assert audio.shape == (59 * 160,) and np.abs(audio).max() == pytest.approx(0.9, abs=1e-6)
    resynth = np.log(slm.stft_magnitude(audio) + 1e-5)
    for start, unit in ((4, 0), (24, 1), (44, 0)):  # well inside each 20-frame block
        other = 1 - unit
        block = resynth[start : start + 12]
        corr = [np.corrcoef(f, vocoder.log_magnitude[unit])[0, 1] for f in block]
        corr_other = [np.corrcoef(f, vocoder.log_magnitude[other])[0, 1] for f in block]
        assert np.mean(corr) > 0.8 and np.mean(corr) > np.mean(corr_other) + 0.2


def test_vocoder_default_durations_and_errors():
    audios, frame_units = _two_tone_corpus()
    vocoder = slm.UnitVocoder.fit(audios, frame_units, n_units=2)
    np.testing.assert_array_equal(vocoder.default_durations([0, 1]), [10, 10])
    assert len(vocoder.synthesize([0, 1])) == (2 * 20 - 1) * 160
    with pytest.raises(ValueError, match="do not match"):
        slm.UnitVocoder.fit(audios, [frame_units[0][:-3]], n_units=2)
    with pytest.raises(ValueError, match=r"0\.\.1"):
        slm.UnitVocoder.fit(audios, frame_units, n_units=1)
    with pytest.raises(ValueError, match=r"0\.\.1"):
        vocoder.synthesize([0, 5], [1, 1])


# --- the speech tokeniser --------------------------------------------------------------------------


def test_speech_tokenizer_units_and_deduplication():
    torch.manual_seed(0)
    encoder = SpeechEncoder(TWO_BLOCKS).eval()
    rng = np.random.default_rng(0)
    audios = [0.1 * rng.standard_normal(n).astype(np.float32) for n in (8000, 5000, 6400)]
    tokenizer = slm.SpeechTokenizer.fit(encoder, audios, n_units=8, layer=2)
    assert tokenizer.n_units == 8
    frame_units = tokenizer.units(audios)
    assert [len(z) for z in frame_units] == [1 + len(a) // 320 for a in audios]
    assert all(z.dtype == np.int64 and z.min() >= 0 and z.max() < 8 for z in frame_units)
    for z, seq in zip(frame_units, tokenizer.tokenize(audios), strict=True):
        np.testing.assert_array_equal(np.repeat(seq.units, seq.durations), z)
        assert (seq.units[1:] != seq.units[:-1]).all()
    frames = slm.encoder_frames(encoder, audios[:1], 2)[0]
    np.testing.assert_allclose(frames.mean(0), 0, atol=1e-5)
    np.testing.assert_array_equal(frame_units[0], tokenizer.kmeans.predict(frames))
    with pytest.raises(ValueError, match="layer"):
        slm.encoder_frames(encoder, audios, 5)


# --- unit LM data ----------------------------------------------------------------------------------


def test_lm_sequences_and_stream():
    seqs = slm.lm_sequences([np.array([3, 1]), np.array([2])], n_units=4)
    assert seqs == [[4, 3, 1, 4], [4, 2, 4]]
    assert slm.token_stream(seqs).tolist() == [4, 3, 1, 4, 2, 4]
    with pytest.raises(ValueError, match=r"0\.\.3"):
        slm.lm_sequences([np.array([4])], n_units=4)
    with pytest.raises(ValueError, match="start and end"):
        slm.token_stream([[4, 1, 4], [1, 4]])


def _tiny_gpt(vocab_size, context=16, seed=0):
    torch.manual_seed(seed)
    return gpt.GPT(
        gpt.GPTConfig(vocab_size=vocab_size, max_len=context, d_model=16, num_layers=2, num_heads=2)
    ).eval()


def test_span_perplexity_scores_only_the_span():
    model = _tiny_gpt(6)
    seqs = [[5, 1, 2, 3, 5], [5, 4, 4, 5]]
    assert slm.span_perplexity(model, seqs, [1, 1]) == pytest.approx(gpt.perplexity(model, seqs), rel=1e-5)
    with torch.no_grad():
        logp = model(torch.tensor([seqs[0]])).log_softmax(-1)[0]
    expected = np.exp(-(logp[2, 3] + logp[3, 5]).item() / 2)  # tokens 3 and 5, from positions 2 and 3
    assert slm.span_perplexity(model, seqs[:1], [3]) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="start must be"):
        slm.span_perplexity(model, seqs[:1], [5])


# --- the joint vocabulary --------------------------------------------------------------------------


def test_joint_vocabulary_layout_and_sequences():
    vocab = slm.JointVocabulary(["turn", "on", "light"], n_units=4)
    assert len(vocab) == 3 + 3 + 4 and vocab.unit_offset == 6
    assert (vocab.eos, vocab.text, vocab.speech) == (0, 1, 2)
    seq = vocab.sequence(["turn", "on"], [3, 0])
    assert vocab.decode(seq) == ["<eos>", "<text>", "turn", "on", "<speech>", "<u3>", "<u0>", "<eos>"]
    assert vocab.decode(vocab.sequence(["on"], [1], speech_first=True)) == [
        "<eos>", "<speech>", "<u1>", "<text>", "on", "<eos>",
    ]  # fmt: skip
    assert vocab.sequence(None, [2]) == [0, 2, 8, 0]
    assert vocab.is_unit(seq).tolist() == [False] * 5 + [True, True, False]
    with pytest.raises(KeyError, match="off"):
        vocab.text_ids(["turn", "off"])
    with pytest.raises(KeyError, match="<speech>"):
        vocab.text_ids(["<speech>"])
    with pytest.raises(ValueError, match=r"0\.\.3"):
        vocab.unit_ids([4])
    with pytest.raises(ValueError, match="unique"):
        slm.JointVocabulary(["a", "a"], 2)
    with pytest.raises(ValueError, match="give text"):
        vocab.sequence()


def test_extend_vocabulary_keeps_the_unit_lm():
    vocab = slm.JointVocabulary(["a", "b", "c"], n_units=5)
    unit_lm = _tiny_gpt(6, context=16)
    joint = slm.extend_vocabulary(unit_lm, vocab, max_len=12).eval()
    assert joint.cfg.vocab_size == len(vocab) and joint.cfg.max_len == 12
    seq = vocab.sequence(None, [4, 0, 3])
    seq = [seq[0], *seq[2:]]  # drop <speech>: the unit GPT has no such token
    with torch.no_grad():
        ours = joint(torch.tensor([seq]))[0]
        theirs = unit_lm(torch.tensor([slm.unit_lm_ids(vocab, seq)]))[0]
    columns = [*range(vocab.unit_offset, len(vocab)), vocab.eos]
    torch.testing.assert_close(ours[:, columns], theirs, atol=1e-6, rtol=0)
    assert slm.unit_lm_ids(vocab, seq) == [5, 4, 0, 3, 5]
    with pytest.raises(ValueError, match="no id in the unit GPT"):
        slm.unit_lm_ids(vocab, [vocab.text])
    with pytest.raises(ValueError, match="n_units \\+ 1"):
        slm.extend_vocabulary(_tiny_gpt(9), vocab)
