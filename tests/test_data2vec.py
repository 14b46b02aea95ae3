"""Tests of speechlm.ssl.data2vec: the EMA teacher (never trained by gradients, following the EMA rule
exactly), the instance-normalised top-K targets, and a loss that falls on a tiny run."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from speechlm import ssl
from speechlm.ssl.pretrain import HubertRecipe, pretrain_data2vec

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = ssl.EncoderConfig(n_mels=16, d_model=32, num_layers=2, num_heads=4, d_ff=64, dropout=0.0,
                          pos_conv_kernel=7, pos_conv_groups=4)  # fmt: skip


def _batch():
    """Piecewise-constant "speech": segments of 12 log-mel frames, so a masked stretch is predictable."""
    g = torch.Generator().manual_seed(0)
    segments = torch.randn(4, 6, 16, generator=g)
    mels = segments.repeat_interleave(12, dim=1)[:, :60] + 0.1 * torch.randn(4, 60, 16, generator=g)
    return mels, torch.tensor([60, 60, 50, 40])


def test_ema_decay_ramps_linearly_then_holds():
    assert ssl.ema_decay(0, 0.99, 0.999, 100) == 0.99
    assert ssl.ema_decay(50, 0.99, 0.999, 100) == pytest.approx(0.9945)
    assert ssl.ema_decay(100, 0.99, 0.999, 100) == ssl.ema_decay(10_000, 0.99, 0.999, 100) == 0.999
    assert ssl.ema_decay(0, 0.99, 0.999, 0) == 0.999  # no ramp: the end value from the start


def test_instance_norm_standardises_each_utterance_over_its_real_frames_only():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 7, 3, generator=g) * 5 + 2
    lengths = torch.tensor([7, 4])
    out = ssl.instance_norm(x, lengths)
    for b, n in enumerate(lengths.tolist()):
        real = x[b, :n]
        expected = (real - real.mean(0)) / torch.sqrt(real.var(0, unbiased=False) + 1e-5)
        torch.testing.assert_close(out[b, :n], expected)
    assert torch.all(out[1, 4:] == 0)


def test_the_teacher_is_never_trained_by_gradients_and_follows_the_ema_rule_exactly():
    torch.manual_seed(0)
    model = ssl.Data2Vec(SMALL, top_k=2, ema_start=0.9, ema_end=0.99, ema_ramp_steps=4)
    assert all(not p.requires_grad for p in model.teacher.parameters())
    for s, t in zip(model.encoder.parameters(), model.teacher.parameters(), strict=True):
        assert torch.equal(s, t)  # the teacher starts as a copy of the student
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    mels, lengths = _batch()
    for step in range(3):
        student_before = [p.detach().clone() for p in model.encoder.parameters()]
        teacher_before = [p.detach().clone() for p in model.teacher.parameters()]
        loss, metrics = model(mels, lengths)
        tau = 0.9 + (0.99 - 0.9) * step / 4
        assert metrics["tau"] == pytest.approx(tau)
        # the update at the start of this forward: teacher <- tau teacher + (1 - tau) student
        for t0, s0, t in zip(teacher_before, student_before, model.teacher.parameters(), strict=True):
            torch.testing.assert_close(t, tau * t0 + (1 - tau) * s0, rtol=0, atol=1e-7)
        optimizer.zero_grad()
        loss.backward()
        assert all(p.grad is None for p in model.teacher.parameters())
        teacher_after_backward = [p.detach().clone() for p in model.teacher.parameters()]
        optimizer.step()
        for a, b in zip(teacher_after_backward, model.teacher.parameters(), strict=True):
            assert torch.equal(a, b)  # the optimiser does not touch the teacher
        assert any(
            not torch.equal(a, b) for a, b in zip(student_before, model.encoder.parameters(), strict=True)
        )
    model.eval()
    before = [p.detach().clone() for p in model.teacher.parameters()]
    model(mels, lengths)
    assert all(torch.equal(a, b) for a, b in zip(before, model.teacher.parameters(), strict=True))
    assert int(model.num_updates) == 3  # evaluation moves nothing


def test_targets_average_the_instance_normalised_top_k_blocks_of_the_unmasked_input():
    torch.manual_seed(0)
    model = ssl.Data2Vec(SMALL, top_k=2)
    mels, lengths = _batch()
    target, frame_lengths = model.targets(mels, lengths)
    out = model.teacher.eval()(mels, lengths)
    expected = (
        ssl.instance_norm(out.layers[1], out.lengths) + ssl.instance_norm(out.layers[2], out.lengths)
    ) / 2
    torch.testing.assert_close(target, expected)
    assert torch.equal(frame_lengths, out.lengths) and target.shape == out.hidden.shape
    one = ssl.Data2Vec(SMALL, top_k=1)
    one.teacher.load_state_dict(model.teacher.state_dict())
    torch.testing.assert_close(one.targets(mels, lengths)[0], ssl.instance_norm(out.layers[2], out.lengths))
    with pytest.raises(ValueError, match=r"top_k must be in \[1, 2\]"):
        ssl.Data2Vec(SMALL, top_k=3)


def test_the_loss_falls_on_a_tiny_batch_without_collapsing():
    torch.manual_seed(0)
    model = ssl.Data2Vec(SMALL, top_k=2, ema_start=0.99, ema_end=0.999, ema_ramp_steps=50)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    mels, lengths = _batch()
    losses, cosines = [], []
    for _ in range(120):
        loss, metrics = model(mels, lengths)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        cosines.append(metrics["cosine"])
    # measured: 4.2 -> 2.8, cosine 0.1 -> 0.6, target_std about 1 throughout
    assert np.mean(losses[-10:]) < 0.75 * np.mean(losses[:5]), (losses[:5], losses[-10:])
    assert np.mean(cosines[-10:]) > np.mean(cosines[:5]) + 0.3, (cosines[:5], cosines[-10:])
    assert metrics["target_std"] > 0.5  # the normalised targets still vary across frames: no collapse


def test_pretrain_data2vec_trains_the_encoder_on_a_recipe_budget():
    rng = np.random.default_rng(0)
    audio = []
    for _ in range(8):  # rising chirps: a masked stretch is predictable from its neighbours
        f0 = rng.uniform(200, 400)
        chirp = np.sin(2 * np.pi * np.cumsum(np.linspace(f0, 8 * f0, 16_000)) / 16_000)
        audio.append((0.3 * chirp + 0.01 * rng.standard_normal(16_000)).astype(np.float32))
    config = replace(SMALL, n_mels=80)
    recipe = HubertRecipe(encoder=config, steps=60, iteration2_steps=0, batch_size=4, warmup_steps=5, lr=3e-3)
    encoder, info = pretrain_data2vec(audio, recipe, progress=False)
    assert isinstance(encoder, ssl.SpeechEncoder) and encoder.config == config
    assert info["loss"] < info["loss_start"], info
    assert info["target_std"] > 0.5 and info["time_s"] > 0
    with pytest.raises(ValueError, match="at least one utterance"):
        pretrain_data2vec([], recipe)
