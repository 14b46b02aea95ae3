"""Tests of speechlm.spoken_understanding: end-to-end pooled classifiers, the cascade, error analysis."""

from __future__ import annotations

import math

import jiwer
import numpy as np
import pytest
import torch

from speechlm import spoken_understanding as su
from speechlm.features import encoder_lengths
from speechlm.heads import PooledClassifier
from speechlm.ssl import EncoderConfig, SpeechEncoder

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def encoder() -> SpeechEncoder:
    torch.manual_seed(0)
    config = EncoderConfig(n_mels=12, d_model=16, num_layers=2, num_heads=2, d_ff=32, pos_conv_kernel=5)
    return SpeechEncoder(config).eval()


def _mels(lengths, n_mels=12, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(n, n_mels, generator=gen) for n in lengths]


def test_speech_features_shapes_and_batch_invariance(encoder):
    mels = _mels([30, 17, 41])
    feats = su.speech_features(encoder, mels, batch_size=3)
    assert [tuple(f.shape) for f in feats] == [(int(encoder_lengths(len(m))), 3, 16) for m in mels]
    alone = [su.speech_features(encoder, [m])[0] for m in mels]  # no padding around it
    for batched, single in zip(feats, alone, strict=True):
        torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-5)
    # layer 2 is the encoder's last block output (before the final LayerNorm)
    out = encoder(mels[0][None], torch.tensor([30]))
    torch.testing.assert_close(feats[0][:, 2], out.layers[2][0], atol=1e-6, rtol=0)
    pooled = su.speech_features(encoder, mels, mean_pool=True)
    for full, mean in zip(feats, pooled, strict=True):
        assert mean.shape == (1, 3, 16)
        torch.testing.assert_close(mean[0], full.mean(0), atol=1e-6, rtol=1e-6)
    assert not encoder.training
    with pytest.raises(ValueError, match="at least one utterance"):
        su.speech_features(encoder, [])


def _padded(feats):
    x = torch.nn.utils.rnn.pad_sequence(feats, batch_first=True)
    return x, torch.tensor([len(f) for f in feats])


@pytest.mark.parametrize("layer", [None, 1])
def test_mean_pooling_on_pre_pooled_features_gives_the_same_logits(layer):
    gen = torch.Generator().manual_seed(1)
    feats = [torch.randn(n, 3, 8, generator=gen) for n in (5, 9, 2)]
    torch.manual_seed(0)
    model = PooledClassifier(8, 4, 3, layer=layer, hidden=6).eval()
    model.fit_normalisation(feats)
    full = model(*_padded(feats))
    pre = model(*_padded([f.mean(0, keepdim=True) for f in feats]))
    torch.testing.assert_close(full, pre, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pooling", ["mean", "attention"])
def test_padding_frames_do_not_change_the_logits(pooling):
    gen = torch.Generator().manual_seed(2)
    feats = [torch.randn(n, 2, 8, generator=gen) for n in (4, 7)]
    torch.manual_seed(0)
    model = PooledClassifier(8, 3, 2, pooling=pooling).eval()
    x, lengths = _padded(feats)
    garbage = x.clone()
    garbage[0, 4:] = 1e3  # beyond utterance 0's length
    torch.testing.assert_close(model(x, lengths), model(garbage, lengths), atol=1e-6, rtol=0)


def test_chosen_layer_ignores_the_other_layers_and_the_mix_starts_uniform():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 6, 3, 8, generator=gen)
    lengths = torch.tensor([6, 4])
    torch.manual_seed(0)
    model = PooledClassifier(8, 2, 3, layer=2).eval()
    changed = x.clone()
    changed[:, :, :2] = torch.randn(2, 6, 2, 8, generator=gen)
    torch.testing.assert_close(model(x, lengths), model(changed, lengths))
    assert model.mix is None and model.layer == 2  # one layer read, nothing mixed
    mixed = PooledClassifier(8, 2, 3)
    torch.testing.assert_close(mixed.mix.weights(), torch.full((3,), 1 / 3))
    torch.testing.assert_close(mixed.pool(x, torch.tensor([6, 6])), x.mean(2).mean(1))


def test_attention_pooling_picks_the_frame_with_the_highest_score():
    model = PooledClassifier(4, 2, 1, pooling="attention").eval()
    with torch.no_grad():
        model.attention.weight.copy_(torch.tensor([[100.0, 0, 0, 0]]))
        model.attention.bias.zero_()
    x = torch.zeros(1, 5, 1, 4)
    x[0, :, 0, 1] = torch.arange(5.0)
    x[0, 3, 0, 0] = 1.0  # frame 3 scores 100, the others 0
    torch.testing.assert_close(model.pool(x, torch.tensor([5])), x[:, 3, 0])
    # beyond the length the frame is ignored, however high its score would be
    torch.testing.assert_close(model.pool(x, torch.tensor([3])), x[:, :3, 0].mean(1))


def test_bad_configurations_and_inputs_are_rejected():
    with pytest.raises(ValueError, match="pooling"):
        PooledClassifier(8, 2, pooling="max")
    with pytest.raises(ValueError, match="layer must be"):
        PooledClassifier(8, 2, 3, layer=3)
    with pytest.raises(ValueError, match="num_classes"):
        PooledClassifier(8, 1)
    model = PooledClassifier(8, 2, 3)
    with pytest.raises(ValueError, match=r"\(batch, frames, 3, 8\)"):
        model(torch.zeros(2, 5, 8), torch.tensor([5, 5]))
    feats = [torch.zeros(4, 3, 8)] * 2
    with pytest.raises(ValueError, match="labels must be in"):
        su.train_classifier(model, feats, [0, 2], steps=1)
    with pytest.raises(ValueError, match="2 feature tensors but 3 labels"):
        su.train_classifier(model, feats, [0, 1, 0], steps=1)
    with pytest.raises(ValueError, match="empty"):
        su.predict(model, [])


def _synthetic(n, seed):
    """Three layers of noise; in layer 1 one random frame is marked (channel 1 = 5) and the sign of
    its channel 0 is the label: a needle that attentive pooling can find and mean pooling dilutes."""
    gen = torch.Generator().manual_seed(seed)
    feats, labels = [], []
    for _ in range(n):
        frames = int(torch.randint(6, 15, (), generator=gen))
        x = torch.randn(frames, 3, 8, generator=gen)
        label = int(torch.randint(2, (), generator=gen))
        x[:, 1, 1] = 0.0
        marked = int(torch.randint(frames, (), generator=gen))
        x[marked, 1, 1] = 5.0
        x[marked, 1, 0] = 3.0 if label else -3.0
        feats.append(x)
        labels.append(label)
    return feats, labels


def test_attentive_pooling_learns_the_informative_layer_and_beats_mean_pooling():
    train_x, train_y = _synthetic(300, seed=0)
    test_x, test_y = _synthetic(300, seed=1)
    accuracy = {}
    for pooling in ("attention", "mean"):
        torch.manual_seed(0)
        model = PooledClassifier(8, 2, 3, pooling=pooling)
        losses = su.train_classifier(model, train_x, train_y, steps=300, lr=1e-2, seed=0)
        assert len(losses) == 300 and not model.training
        accuracy[pooling] = float((su.predict(model, test_x) == np.array(test_y)).mean())
        weights = model.mix.weights().detach()
        assert int(weights.argmax()) == 1 and float(weights[1]) > 0.5, (pooling, weights)
    assert accuracy["attention"] > 0.97, accuracy
    assert accuracy["attention"] - accuracy["mean"] > 0.05, accuracy


class _FakeASR:
    def __init__(self, transcripts):
        self.transcripts = transcripts
        self.calls = []

    def transcribe(self, audios, sample_rate=16000):
        self.calls.append((len(audios), sample_rate))
        return self.transcripts[: len(audios)]


def test_cascade_reads_the_transcripts():
    asr = _FakeASR(["the film was good", "the film was not good", "bad"])
    cascade = su.Cascade(asr, lambda texts: [int("not" in t or t == "bad") for t in texts])
    audios = [np.zeros(1600, np.float32)] * 3
    preds, transcripts = cascade.predict(audios, sample_rate=8000)
    assert preds.tolist() == [0, 1, 1] and preds.dtype == np.int64
    assert transcripts == asr.transcripts and asr.calls == [(3, 8000)]
    assert cascade.classify(["not"]).tolist() == [1]
    with pytest.raises(TypeError, match="transcribe"):
        su.Cascade(object(), len)
    with pytest.raises(TypeError, match="callable"):
        su.Cascade(asr, "bert")
    with pytest.raises(ValueError, match="returned shape"):
        su.Cascade(asr, lambda texts: [0]).predict(audios)
    with pytest.raises(ValueError, match="no audio"):
        cascade.predict([])


def test_utterance_cer_matches_jiwer_per_utterance():
    refs = ["the movie was not very good", "call now", "abc"]
    hyps = ["the movie was very good", "colnow", "abc"]
    got = su.utterance_cer(refs, hyps)
    assert got.shape == (3,)
    np.testing.assert_allclose(got, [jiwer.cer(r, h) for r, h in zip(refs, hyps, strict=True)], rtol=1e-12)
    assert got[0] == pytest.approx(4 / 27) and got[2] == 0.0
    with pytest.raises(ValueError, match="2 references but 1"):
        su.utterance_cer(["a", "b"], ["a"])


def test_accuracy_by_bucket_counts_each_utterance_once_with_right_closed_buckets():
    values = [0.0, 0.0, 0.05, 0.1, 0.2, 0.3, 0.31, 1.5]
    correct = [True, True, True, False, True, False, False, True]
    buckets = su.accuracy_by_bucket(values, correct, edges=(0.0, 0.1, 0.3))
    assert [b.label for b in buckets] == ["<= 0", "(0, 0.1]", "(0.1, 0.3]", "> 0.3"]
    assert [b.n for b in buckets] == [2, 2, 2, 2]
    assert [b.accuracy for b in buckets] == [1.0, 0.5, 0.5, 0.5]
    empty = su.accuracy_by_bucket([0.0, 0.5], [True, False], edges=(0.0, 0.1, 0.3))
    assert [b.n for b in empty] == [1, 0, 0, 1] and math.isnan(empty[1].accuracy)
    with pytest.raises(ValueError, match="strictly increasing"):
        su.accuracy_by_bucket(values, correct, edges=(0.3, 0.1))
    with pytest.raises(ValueError, match="equal in length"):
        su.accuracy_by_bucket(values, correct[:3])
    with pytest.raises(ValueError, match="finite"):
        su.accuracy_by_bucket([float("nan")], [True])


def test_encoding_and_training_trim_the_heap_where_memory_is_short(encoder, monkeypatch):
    """Binder's 2 GB: the heap is handed back after every encoded batch and training step, and
    nothing computed changes."""
    from speechlm import workers

    mels = _mels([30, 17, 41, 25, 12])
    feats, labels = _synthetic(12, seed=3)
    results = {}
    for short in (False, True):
        calls = []
        monkeypatch.setattr(workers, "memory_is_short", lambda short=short: short)
        monkeypatch.setattr(workers, "release_free_memory", lambda calls=calls: calls.append(1) or True)
        encoded = su.speech_features(encoder, mels, batch_size=2)  # 3 batches
        torch.manual_seed(0)
        model = PooledClassifier(8, 2, 3, pooling="attention", hidden=8)
        losses = su.train_classifier(model, feats, labels, steps=4, batch_size=4)
        assert len(calls) == (3 + 4 if short else 0)
        results[short] = (encoded, losses, su.predict(model, feats))
    for a, b in zip(results[False][0], results[True][0], strict=True):
        assert torch.equal(a, b)
    assert results[False][1] == results[True][1]
    np.testing.assert_array_equal(results[False][2], results[True][2])
