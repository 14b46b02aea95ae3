import numpy as np
import pytest
import torch

from speechlm import features, ssl
from speechlm.ssl import masking

pytestmark = pytest.mark.usefixtures("one_thread")


SMALL = ssl.EncoderConfig(n_mels=16, d_model=32, num_layers=2, num_heads=4, d_ff=64, dropout=0.0,
                          pos_conv_kernel=7, pos_conv_groups=4)  # fmt: skip


def test_features_have_matching_frame_counts():
    audio = np.random.default_rng(0).standard_normal(16_000 + 250).astype(np.float32) * 0.1
    mels = features.log_mel_features(audio)
    mfcc = features.mfcc_features(audio)
    assert mels.shape == (1 + len(audio) // 160, 80) and mels.dtype == torch.float32
    assert mfcc.shape == (1 + len(audio) // 320, 39)
    assert int(features.encoder_lengths(torch.tensor(mels.shape[0]))) == mfcc.shape[0]
    np.testing.assert_allclose(mels.mean(0).numpy(), 0.0, atol=1e-4)  # normalised per utterance
    np.testing.assert_allclose(mfcc.std(0), 1.0, atol=1e-3)


@pytest.mark.parametrize(
    ("audio", "sr", "match"),
    [
        (np.zeros((2, 16000)), 16000, "mono"),
        (np.zeros(16000), 8000, "resample"),
        (np.zeros(100), 16000, "shorter"),
        (np.full(16000, np.nan), 16000, "NaN"),
    ],
)
def test_features_reject_bad_audio(audio, sr, match):
    with pytest.raises(ValueError, match=match):
        features.log_mel_features(audio, sr)


def test_encoder_shapes_and_all_layers():
    enc = ssl.SpeechEncoder(SMALL).eval()
    out = enc(torch.randn(3, 41, 16), torch.tensor([41, 30, 7]))
    assert out.hidden.shape == (3, 21, 32)
    assert len(out.layers) == SMALL.num_layers + 1
    assert all(h.shape == (3, 21, 32) for h in out.layers)
    assert out.lengths.tolist() == [21, 15, 4]
    assert out.padding_mask.sum(1).tolist() == [0, 6, 17]
    with pytest.raises(ValueError, match="log-mel frames"):
        enc(torch.randn(2, 10, 80), torch.tensor([10, 10]))


def test_encoder_output_does_not_depend_on_padding():
    torch.manual_seed(0)
    enc = ssl.SpeechEncoder(SMALL).eval()
    short = torch.randn(1, 23, 16)
    alone = enc(short, torch.tensor([23])).hidden
    batch = torch.cat([short, torch.zeros(1, 17, 16)], dim=1)
    batch = torch.cat([batch, torch.randn(1, 40, 16)])
    padded = enc(batch, torch.tensor([23, 40])).hidden
    torch.testing.assert_close(padded[:1, :12], alone, atol=1e-5, rtol=1e-5)


def test_mask_fraction_matches_the_closed_form_and_spares_padding():
    g = torch.Generator().manual_seed(0)
    lengths = torch.tensor([20_000, 20_000, 5_000])
    mask = ssl.mask_spans(lengths, 20_000, start_prob=0.08, span_length=10, generator=g)
    assert mask[:2].float().mean().item() == pytest.approx(ssl.expected_mask_fraction(0.08, 10), abs=0.01)
    assert not mask[2, 5_000:].any()
    assert ssl.expected_mask_fraction(
        masking.DEFAULT_START_PROB, masking.DEFAULT_SPAN_LENGTH
    ) == pytest.approx(0.50, abs=0.01)


def test_mask_spans_are_span_length_runs_and_every_utterance_gets_one():
    g = torch.Generator().manual_seed(1)
    mask = ssl.mask_spans(torch.tensor([60, 8, 3]), start_prob=0.0, span_length=5, min_spans=1, generator=g)
    assert mask[0].sum() == 5 and mask[1].sum() == 5  # exactly one span each
    assert mask[2].sum() == 3  # shorter than a span: the span is cut at the end
    run = torch.nonzero(mask[0]).flatten()
    assert (run[-1] - run[0]).item() == 4  # contiguous


def test_mask_spans_deterministic_with_generator_and_validates():
    a = ssl.mask_spans(torch.tensor([100, 50]), generator=torch.Generator().manual_seed(3))
    b = ssl.mask_spans(torch.tensor([100, 50]), generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="start_prob"):
        ssl.mask_spans(torch.tensor([10]), start_prob=1.5)
    with pytest.raises(ValueError, match="positive lengths"):
        ssl.mask_spans(torch.tensor([0, 4]))


def test_cosine_logits_are_scaled_cosines():
    x = torch.tensor([[3.0, 0.0]])
    e = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]])
    torch.testing.assert_close(ssl.cosine_logits(x, e, 0.1), torch.tensor([[10.0, 0.0, -10.0]]))


def _overfit(model, batch, steps=60, lr=3e-3):
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss, metrics = model(*batch)
        assert torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, metrics


def _tiny_batch():
    """Piecewise-constant "speech": 6 segments of 12 log-mel frames (6 encoder frames) per utterance,
    each segment with its own cluster, so masked frames are predictable from their segment."""
    g = torch.Generator().manual_seed(0)
    segments = torch.randn(4, 6, 16, generator=g)
    mels = segments.repeat_interleave(12, dim=1)[:, :60] + 0.1 * torch.randn(4, 60, 16, generator=g)
    lengths = torch.tensor([60, 60, 50, 40])
    targets = torch.randint(0, 8, (4, 6), generator=g).repeat_interleave(6, dim=1)[:, :30]
    targets[3, 20:] = -100
    return mels, lengths, targets


def test_hubert_loss_falls_on_a_tiny_batch_and_is_deterministic():
    torch.manual_seed(0)
    model = ssl.HuBERT(8, SMALL)
    losses, metrics = _overfit(model, _tiny_batch(), steps=80)
    assert losses[0] == pytest.approx(np.log(8), abs=0.5)
    assert np.mean(losses[-5:]) < 0.6 * losses[0]
    assert metrics["accuracy"] > 0.5 and 0.2 < metrics["mask_fraction"] < 0.9
    torch.manual_seed(0)
    again, _ = _overfit(ssl.HuBERT(8, SMALL), _tiny_batch(), steps=3)
    assert again == losses[:3]


def test_hubert_all_frames_variant_and_bad_targets():
    torch.manual_seed(0)
    model = ssl.HuBERT(8, SMALL, loss_on="all")
    mels, lengths, targets = _tiny_batch()
    loss, _ = model(mels, lengths, targets)
    assert torch.isfinite(loss)
    with pytest.raises(ValueError, match="one cluster per 20 ms"):
        model(mels, lengths, targets[:, :20])
    with pytest.raises(ValueError, match="loss_on"):
        ssl.HuBERT(8, SMALL, loss_on="unmasked")


def test_collate_targets_pads_with_ignore_index():
    mels, lengths, targets = ssl.collate_targets(
        [(torch.ones(5, 16), torch.arange(3)), (torch.ones(2, 16), [7])]
    )
    assert mels.shape == (2, 5, 16) and lengths.tolist() == [5, 2]
    assert targets.tolist() == [[0, 1, 2], [7, -100, -100]]


def test_layer_features_returns_unpadded_frames_per_utterance():
    enc = ssl.SpeechEncoder(SMALL)
    feats = ssl.layer_features(enc, [torch.randn(41, 16), torch.randn(10, 16)], layer=1)
    assert [f.shape for f in feats] == [(21, 32), (5, 32)]
    assert enc.training  # mode restored
    with pytest.raises(ValueError, match="layer must be in"):
        ssl.layer_features(enc, [torch.randn(41, 16)], layer=5)


def test_encode_utterances_keeps_each_utterances_frames_as_if_encoded_alone():
    torch.manual_seed(0)
    enc = ssl.SpeechEncoder(SMALL).eval()
    mels = [torch.randn(n, 16) for n in (41, 10, 30, 24)]
    every = ssl.encode_utterances(enc, mels, batch_size=3)  # one padded batch of three, then one alone
    assert [e.shape for e in every] == [(21, 3, 32), (5, 3, 32), (15, 3, 32), (12, 3, 32)]
    with torch.no_grad():
        alone = enc(mels[1][None], torch.tensor([10]))
    torch.testing.assert_close(every[1], torch.stack(alone.layers, dim=2)[0], atol=1e-5, rtol=1e-5)
    final = ssl.encode_utterances(enc, mels, layer="final", batch_size=2)
    torch.testing.assert_close(final[1], alone.hidden[0], atol=1e-5, rtol=1e-5)
    one = ssl.encode_utterances(enc, mels, layer=2, by_length=True, batch_size=2)  # order kept
    assert [o.shape for o in one] == [(21, 32), (5, 32), (15, 32), (12, 32)]
    torch.testing.assert_close(one[0], every[0][:, 2], atol=1e-5, rtol=1e-5)
    pooled = ssl.encode_utterances(enc, mels, mean_pool=True)
    torch.testing.assert_close(pooled[2], every[2].mean(0, keepdim=True), atol=1e-6, rtol=1e-6)
    with pytest.raises(ValueError, match="layer must be 'all', 'final' or in \\[0, 2\\], got 3"):
        ssl.encode_utterances(enc, mels, layer=3)
    with pytest.raises(ValueError, match="no utterances"):
        ssl.encode_utterances(enc, [])


def test_distractors_are_other_frames_of_the_same_utterance():
    idx = ssl.sample_distractors(6, 50, generator=torch.Generator().manual_seed(0))
    assert idx.shape == (6, 50)
    assert not (idx == torch.arange(6)[:, None]).any()
    assert idx.min() >= 0 and idx.max() <= 5
    assert set(idx.flatten().tolist()) == set(range(6))
    with pytest.raises(ValueError, match="at least 2"):
        ssl.sample_distractors(1, 3)


def test_quantizer_perplexity_is_in_range_and_codes_are_one_per_group():
    torch.manual_seed(0)
    q = ssl.GumbelQuantizer(16, 8, groups=2, entries=5)
    x = torch.randn(200, 16)
    quantized, perplexity, codes = q(x)
    assert quantized.shape == (200, 8) and codes.shape == (200, 2)
    assert 2.0 <= perplexity.item() <= 10.0
    # each output is the concatenation of one codebook vector per group
    q.eval()
    quantized, _, codes = q(x)
    torch.testing.assert_close(quantized[0, :4], q.codebook[0, codes[0, 0]])
    torch.testing.assert_close(quantized[0, 4:], q.codebook[1, codes[0, 1]])
    # identical inputs and one-hot scores: perplexity collapses to 1 per group
    with torch.no_grad():
        q.scores.weight.zero_()
        q.scores.bias.copy_(torch.tensor([50.0, 0, 0, 0, 0] * 2))
    assert q(x)[1].item() == pytest.approx(2.0, abs=1e-3)


def test_wav2vec2_trains_on_a_tiny_batch():
    torch.manual_seed(0)
    model = ssl.Wav2Vec2(SMALL, dim=16, entries=8, n_distractors=5)
    mels, lengths, _ = _tiny_batch()
    losses, metrics = _overfit(model, (mels, lengths), steps=120)
    chance = np.log(1 + 5)  # the positive among 5 distractors
    assert np.mean(losses[-10:]) < chance - 0.2
    assert metrics["accuracy"] > 1 / 6 + 0.1
    assert 1.0 <= metrics["perplexity"] <= 16.0
    assert metrics["tau"] < 2.0 and int(model.num_updates) == 120


def test_linear_probe_reads_linearly_separable_labels_and_not_noise():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((4, 10)) * 3
    labels = rng.integers(0, 4, size=600)
    feats = centres[labels] + rng.standard_normal((600, 10))
    names = np.array(["a", "b", "c", "d"])[labels]
    assert ssl.linear_probe(feats[:400], names[:400], feats[400:], names[400:]) > 0.95
    noise = rng.standard_normal((600, 10))
    assert ssl.linear_probe(noise[:400], names[:400], noise[400:], names[400:]) < 0.4
    unseen = ssl.linear_probe(feats[:400], names[:400], feats[400:402], np.array(["z", "z"]))
    assert unseen == 0.0
    with pytest.raises(ValueError, match="one label per"):
        ssl.linear_probe(feats[:10], names[:9], feats[:3], names[:3])
