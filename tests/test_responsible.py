"""Tests of speechlm.responsible (notebook 17): speaker probe and mitigation, MAC counting, cost,
attention maps, robustness under perturbation."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.decomposition import PCA
from torch.utils.flop_counter import FlopCounterMode

from speechlm import augment, features, ssl
from speechlm.responsible import (
    Perturbation,
    attention_maps,
    course_models,
    cpu_time_s,
    encode_layers,
    encoder_macs,
    energy_joules,
    frame_phone_targets,
    gru_macs,
    mean_pool,
    measure_cost,
    measured_macs,
    own_segment_attention,
    phone_accuracy_under_perturbations,
    phone_probe_accuracy,
    project_out,
    speaker_id_accuracy,
    speaker_subspace,
    split_per_speaker,
    train_phone_encoder,
)

pytestmark = pytest.mark.usefixtures("one_thread")


SMALL = ssl.EncoderConfig(
    d_model=32, num_layers=2, num_heads=4, d_ff=64, pos_conv_kernel=7, pos_conv_groups=4
)


def _speaker_data(n_speakers=6, per_speaker=20, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    offsets = 3.0 * rng.normal(size=(n_speakers, dim))
    speakers = np.repeat([f"spk{i}" for i in range(n_speakers)], per_speaker)
    x = np.repeat(offsets, per_speaker, axis=0) + rng.normal(size=(n_speakers * per_speaker, dim))
    return x.astype(np.float32), speakers


def test_split_per_speaker_puts_every_speaker_on_both_sides():
    speakers = np.array(["a"] * 5 + ["b"] * 2 + ["c"] * 9)
    train, test = split_per_speaker(speakers, train_fraction=0.5, seed=3)
    assert np.intersect1d(train, test).size == 0
    assert sorted(np.concatenate([train, test])) == list(range(len(speakers)))
    assert set(speakers[train]) == set(speakers[test]) == {"a", "b", "c"}
    assert np.sum(speakers[train] == "c") == 4  # round(0.5 * 9), numpy rounds half to even


def test_split_per_speaker_rejects_bad_input():
    with pytest.raises(ValueError, match="single utterance"):
        split_per_speaker(["a", "a", "b"])
    with pytest.raises(ValueError, match="train_fraction"):
        split_per_speaker(["a", "a"], train_fraction=1.0)


def test_mean_pool_averages_over_time():
    frames = [np.ones((3, 4, 2)), np.arange(3 * 6 * 2, dtype=float).reshape(3, 6, 2)]
    pooled = mean_pool(frames)
    assert pooled.shape == (2, 3, 2)
    np.testing.assert_allclose(pooled[1], frames[1].mean(axis=1), rtol=1e-6)
    with pytest.raises(ValueError, match="at least one"):
        mean_pool([])


def test_speaker_subspace_matches_sklearn_pca_of_speaker_means():
    x, speakers = _speaker_data()
    basis = speaker_subspace(x, speakers, k=3)
    x64 = x.astype(np.float64)
    means = np.stack([x64[speakers == s].mean(0) for s in np.unique(speakers)])
    reference = PCA(n_components=3, svd_solver="full").fit(means).components_.T
    np.testing.assert_allclose(basis.T @ basis, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(basis @ basis.T, reference @ reference.T, atol=1e-10)  # same subspace


def test_project_out_removes_speaker_identity_and_keeps_the_rest():
    x, speakers = _speaker_data()
    train, test = split_per_speaker(speakers, seed=0)
    before = speaker_id_accuracy(x, speakers, train, test)
    basis = speaker_subspace(x[train], speakers[train], k=len(set(speakers)) - 1)
    projected = project_out(x, basis)
    means = np.stack([projected[train][speakers[train] == s].mean(0) for s in np.unique(speakers)])
    np.testing.assert_allclose(means, np.broadcast_to(means[0], means.shape), atol=1e-5)
    after = speaker_id_accuracy(projected, speakers, train, test)
    assert before > 0.95, before
    assert after < 0.4, after  # chance is 1/6
    # directions orthogonal to the speaker subspace are untouched
    other = np.linalg.qr(np.concatenate([basis, np.eye(16)], axis=1))[0][:, basis.shape[1] :]
    np.testing.assert_allclose(projected @ other, x @ other, atol=1e-4)


def test_privacy_functions_reject_bad_input():
    x, speakers = _speaker_data()
    with pytest.raises(ValueError, match="overlap"):
        speaker_id_accuracy(x, speakers, np.arange(10), np.arange(5, 20))
    with pytest.raises(ValueError, match="one speaker per row"):
        speaker_id_accuracy(x[:5], speakers, [0], [1])
    with pytest.raises(ValueError, match="k must lie"):
        speaker_subspace(x, speakers, k=6)
    with pytest.raises(ValueError, match="orthonormal"):
        project_out(x, 2 * np.eye(16)[:, :2])
    with pytest.raises(ValueError, match="basis must be"):
        project_out(x, np.eye(8)[:, :2])


@pytest.mark.parametrize("config", [SMALL, ssl.EncoderConfig()])
@pytest.mark.parametrize("num_samples", [400, 16_000, 23_457])
def test_encoder_macs_equal_flop_counter(config, num_samples):
    encoder = ssl.SpeechEncoder(config).eval()
    mels = torch.randn(1, 1 + num_samples // 160, config.n_mels)
    counted = measured_macs(encoder, mels, torch.tensor([mels.shape[1]]))
    assert encoder_macs(config, num_samples)["total"] == counted


def test_encoder_macs_components_and_errors():
    macs = encoder_macs(ssl.EncoderConfig(), 32_000)  # 201 mel frames, 101 encoder frames
    assert macs["attention scores and sums"] == 4 * 2 * 101 * 101 * 144
    assert macs["total"] == sum(v for k, v in macs.items() if k != "total")
    with pytest.raises(ValueError, match="400 samples"):
        encoder_macs(ssl.EncoderConfig(), 399)


def test_measured_macs_counts_the_fused_cpu_attention_kernel():
    q, k, v = torch.randn(2, 3, 10, 8), torch.randn(2, 3, 12, 8), torch.randn(2, 3, 12, 8)
    assert measured_macs(F.scaled_dot_product_attention, q, k, v) == 2 * 2 * 3 * 10 * 12 * 8
    linear = torch.nn.Linear(5, 7)
    assert measured_macs(linear, torch.randn(4, 5)) == 4 * 5 * 7


@pytest.mark.parametrize("bidirectional,num_layers", [(False, 1), (True, 2)])
def test_gru_macs_equal_a_counted_loop_of_gru_cells(bidirectional, num_layers):
    gru = torch.nn.GRU(6, 5, num_layers, bidirectional=bidirectional)
    directions, steps, total = 2 if bidirectional else 1, 9, 0
    for layer in range(num_layers):
        cell = torch.nn.GRUCell(6 if layer == 0 else 5 * directions, 5)
        x, h = torch.randn(1, cell.input_size), torch.zeros(1, 5)
        with FlopCounterMode(display=False) as counter:
            for _ in range(steps * directions):
                h = cell(x, h)
        total += counter.get_total_flops() // 2
    assert gru_macs(gru, steps) == total
    with pytest.raises(ValueError, match="non-negative"):
        gru_macs(gru, -1)


def test_cpu_time_and_energy():
    seconds = cpu_time_s(lambda: sum(range(10_000)), repeats=3)
    assert 0 < seconds < 1
    assert energy_joules(2.0, watts=10.0) == 20.0
    with pytest.raises(ValueError):
        cpu_time_s(lambda: None, repeats=0)
    with pytest.raises(ValueError):
        energy_joules(1.0, watts=0.0)


def test_measure_cost_and_course_models():
    models = course_models(seconds=1.0, tokens=8)
    assert {m.notebook for m in models} == {"04", "05", "07", "08", "09", "11", "12"}
    by_name = {m.name: m for m in models}
    hubert = by_name["HuBERT speech encoder"]
    cost = measure_cost(
        hubert.name, hubert.model, hubert.args, units=hubert.units, unit=hubert.unit, repeats=1
    )
    assert cost.macs == encoder_macs(hubert.model.config, 16_000)["total"]
    assert cost.parameters == sum(p.numel() for p in hubert.model.parameters())
    assert cost.joules == pytest.approx(cost.cpu_s * 15.0)
    assert cost.row()["MMACs per s of audio"] == round(cost.macs / 1e6, 3)
    assert by_name["GRU digit classifier"].extra_macs == gru_macs(
        by_name["GRU digit classifier"].model.gru, 51
    )
    for m in models:  # every model runs on its example input
        with torch.no_grad():
            m.model.eval()(*m.args)
    with pytest.raises(ValueError, match="units"):
        measure_cost("x", torch.nn.Linear(2, 2), (torch.randn(1, 2),), units=0, unit="s")


def _clips(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return [(0.1 * rng.normal(size=int(rng.integers(4_000, 12_000)))).astype(np.float32) for _ in range(n)]


def test_encode_layers_matches_each_clip_encoded_alone():
    torch.manual_seed(0)
    encoder = ssl.SpeechEncoder(SMALL).eval()
    clips = _clips(4)
    layers = encode_layers(encoder, clips, batch_size=3)
    for clip, frames in zip(clips, layers, strict=True):
        mels = features.log_mel_features(clip)[None]
        out = encoder(mels, torch.tensor([mels.shape[1]]))
        assert frames.shape == (SMALL.num_layers + 1, out.lengths.item(), SMALL.d_model)
        np.testing.assert_allclose(frames, torch.stack(out.layers, 1)[0].detach().numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="at least one clip"):
        encode_layers(encoder, [])


def test_attention_maps_equal_softmax_of_the_layers_queries_and_keys():
    torch.manual_seed(0)
    encoder = ssl.SpeechEncoder(SMALL).eval()
    clip = _clips(1)[0]
    maps = attention_maps(encoder, clip)
    mels = features.log_mel_features(clip)[None]
    out = encoder(mels, torch.tensor([mels.shape[1]]))
    frames, heads, head_dim = out.lengths.item(), SMALL.num_heads, SMALL.d_model // SMALL.num_heads
    assert maps.shape == (SMALL.num_layers, heads, frames, frames)
    torch.testing.assert_close(maps.sum(-1), torch.ones(SMALL.num_layers, heads, frames))
    for i, block in enumerate(encoder.layers):
        x = block.norm1(out.layers[i][0])
        q = block.attn.q_proj(x).view(frames, heads, head_dim).transpose(0, 1)
        k = block.attn.k_proj(x).view(frames, heads, head_dim).transpose(0, 1)
        expected = torch.softmax(q @ k.transpose(1, 2) / head_dim**0.5, dim=-1)
        torch.testing.assert_close(maps[i], expected, rtol=1e-5, atol=1e-6)


def test_own_segment_attention_of_block_diagonal_and_uniform_maps():
    phones = [("a", 0.0, 0.1), ("b", 0.1, 0.16), ("c", 0.16, 0.3)]  # 5, 3 and 7 frames at 50/s
    segment = np.repeat([0, 1, 2], [5, 3, 7])
    same = (segment[:, None] == segment[None, :]).astype(float)
    block = same / same.sum(1, keepdims=True)
    uniform_map = np.full((15, 15), 1 / 15)
    share, uniform = own_segment_attention(np.stack([block, uniform_map])[None], phones)
    assert share.shape == (1, 2)
    np.testing.assert_allclose(share[0, 0], 1.0)
    assert uniform == pytest.approx((5 * 5 + 3 * 3 + 7 * 7) / 15**2)
    np.testing.assert_allclose(share[0, 1], uniform)
    with pytest.raises(ValueError, match="frames, frames"):
        own_segment_attention(np.ones((3, 4)), phones)
    with pytest.raises(ValueError, match="empty"):
        own_segment_attention(uniform_map, [])


def test_phone_probe_accuracy_reads_phones_written_into_the_frames():
    rng = np.random.default_rng(0)
    phones = [[("a", 0.0, 0.2), ("b", 0.2, 0.4), ("c", 0.4, 0.6)]] * 4
    codes = {"a": 0, "b": 1, "c": 2}
    labels = frame_phone_targets(phones[:1], [30])
    clean = np.eye(3)[[codes[p] for p in labels]]
    frames = [np.concatenate([clean, np.zeros((30, 2))], 1) + 0.1 * rng.normal(size=(30, 5)) for _ in phones]
    assert phone_probe_accuracy(frames[:2], phones[:2], frames[2:], phones[2:]) > 0.95
    shuffled = [f[rng.permutation(30)] for f in frames]  # frames no longer match their labels
    assert phone_probe_accuracy(shuffled[:2], phones[:2], shuffled[2:], phones[2:]) < 0.6
    with pytest.raises(ValueError, match="at least one"):
        phone_probe_accuracy([], [], frames, phones)


def test_perturbation_names_time_scale_and_errors():
    assert Perturbation("clean").name == "clean"
    assert Perturbation("noise", 10, noise="babble").name == "babble noise 10 dB"
    assert Perturbation("speed", 1.25).name == "speed x1.25"
    assert Perturbation("pitch", -3).name == "pitch -3 st"
    assert Perturbation("speed", 0.8).time_scale == 0.8 and Perturbation("pitch", 2).time_scale == 1.0
    with pytest.raises(ValueError, match="kind"):
        Perturbation("reverb")
    with pytest.raises(ValueError, match="positive"):
        Perturbation("speed", 0.0)


def test_perturbations_apply_what_they_say():
    clip = _clips(1)[0]
    np.testing.assert_array_equal(Perturbation("clean").apply(clip), clip)
    noisy = Perturbation("noise", 5.0).apply(clip, np.random.default_rng(0))
    assert augment.snr_db(clip, noisy) == pytest.approx(5.0, abs=0.01)
    assert len(Perturbation("speed", 1.25).apply(clip)) == pytest.approx(len(clip) / 1.25, abs=2)
    assert len(Perturbation("pitch", 3).apply(clip)) == len(clip)


def test_frame_phone_targets_follow_a_speed_change():
    phones = [[("a", 0.0, 0.1), ("b", 0.1, 0.2)]]
    np.testing.assert_array_equal(frame_phone_targets(phones, [10]), ["a"] * 5 + ["b"] * 5)
    np.testing.assert_array_equal(frame_phone_targets(phones, [5], time_scale=2.0), ["a"] * 3 + ["b"] * 2)
    with pytest.raises(ValueError, match="alignments"):
        frame_phone_targets(phones, [10, 10])


def _tone_utterance(rng):
    """A clip of 0.1 s tone segments, "lo" (300 Hz) or "hi" (2500 Hz), with their alignment."""
    t = np.arange(1600) / 16_000
    names = rng.choice(["lo", "hi"], size=10)
    audio = np.concatenate([0.3 * np.sin(2 * np.pi * (300 if n == "lo" else 2500) * t) for n in names])
    phones = [(str(n), 0.1 * i, 0.1 * (i + 1)) for i, n in enumerate(names)]
    return SimpleNamespace(audio=audio.astype(np.float32), phones=phones)


def test_phone_accuracy_drops_under_heavy_noise():
    rng = np.random.default_rng(0)
    train, test = [_tone_utterance(rng) for _ in range(6)], [_tone_utterance(rng) for _ in range(4)]
    torch.manual_seed(0)
    encoders = {"random": ssl.SpeechEncoder(SMALL).eval()}
    perturbations = [Perturbation("clean"), Perturbation("noise", -15.0), Perturbation("speed", 0.9)]
    result = phone_accuracy_under_perturbations(encoders, train, test, perturbations, layer=1)
    accuracy = result["random"]
    assert accuracy["clean"] > 0.9, accuracy
    assert accuracy["speed x0.9"] > 0.8, accuracy  # the labels follow the slower clip
    assert accuracy["white noise -15 dB"] < accuracy["clean"] - 0.1, accuracy
    with pytest.raises(ValueError, match="layer"):
        phone_accuracy_under_perturbations(encoders, train, test, perturbations[:1], layer=5)


def test_train_phone_encoder_learns_the_labelled_phones_deterministically():
    rng = np.random.default_rng(1)
    train, test = [_tone_utterance(rng) for _ in range(6)], [_tone_utterance(rng) for _ in range(4)]
    torch.manual_seed(0)
    initial = ssl.SpeechEncoder(SMALL).state_dict()
    trained = train_phone_encoder(SMALL, train, layer=1, steps=30, batch_size=3, seed=0)
    assert not trained.training
    assert not torch.equal(trained.layers[0].linear1.weight, initial["layers.0.linear1.weight"])
    again = train_phone_encoder(SMALL, train, layer=1, steps=30, batch_size=3, seed=0)
    for (name, a), (_, b) in zip(trained.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    result = phone_accuracy_under_perturbations({"scratch": trained}, train, test, [Perturbation("clean")], 1)
    assert result["scratch"]["clean"] > 0.9, result
    with pytest.raises(ValueError, match="layer"):
        train_phone_encoder(SMALL, train, layer=3)
    with pytest.raises(ValueError, match="at least one"):
        train_phone_encoder(SMALL, [], layer=1)
