"""Tests of the HuBERT target variants of issue 21: random-projection units (BEST-RQ) and cluster
ensembles (several codebooks predicted at once)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from speechlm import ssl
from speechlm.ssl.pretrain import HubertRecipe, pretrain_hubert, random_projection_targets, recipe_targets

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = ssl.EncoderConfig(n_mels=16, d_model=32, num_layers=2, num_heads=4, d_ff=64, dropout=0.0,
                          pos_conv_kernel=7, pos_conv_groups=4)  # fmt: skip


def test_random_projection_units_are_deterministic_and_follow_the_features():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((3, 12)) * 4
    labels = [rng.integers(0, 3, size=n) for n in (40, 25)]
    features = [centres[lab] + 1e-3 * rng.standard_normal((len(lab), 12)) for lab in labels]
    units = random_projection_targets(features, 64, seed=3)
    again = random_projection_targets(features, 64, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(units, again, strict=True))
    assert [u.shape for u in units] == [(40,), (25,)] and all(u.dtype == np.int64 for u in units)
    assert all(0 <= u.min() and u.max() < 64 for u in units)
    stacked, truth = np.concatenate(units), np.concatenate(labels)
    for c in range(3):  # one cluster of frames: one unit; different clusters: (here) different units
        assert len(set(stacked[truth == c])) == 1
    assert len({int(stacked[truth == c][0]) for c in range(3)}) == 3
    other = random_projection_targets(features, 64, seed=4)  # another random codebook
    assert not all(np.array_equal(a, b) for a, b in zip(units, other, strict=True))
    with pytest.raises(ValueError, match="at least 2"):
        random_projection_targets(features, 1)


def test_recipe_targets_stack_one_codebook_per_ensemble_size():
    rng = np.random.default_rng(1)
    features = [rng.standard_normal((n, 6)) for n in (30, 20)]
    one = recipe_targets(features, HubertRecipe(n_clusters=5), seed=0)
    assert [u.shape for u in one] == [(30,), (20,)]
    ensemble = recipe_targets(features, HubertRecipe(n_clusters=5, ensemble=(3, 8)), seed=0)
    assert [u.shape for u in ensemble] == [(30, 3), (20, 3)]
    for plain, stacked in zip(one, ensemble, strict=True):
        np.testing.assert_array_equal(stacked[:, 0], plain)  # the first codebook is the plain recipe's
    assert max(u[:, 1].max() for u in ensemble) < 3 and max(u[:, 2].max() for u in ensemble) < 8
    rp = recipe_targets(features, HubertRecipe(n_clusters=5, targets="random_projection"), seed=0)
    assert all(0 <= u.min() and u.max() < 5 for u in rp)
    with pytest.raises(ValueError, match="targets must be one of"):
        HubertRecipe(targets="vq")
    with pytest.raises(ValueError, match="at least 2 units"):
        HubertRecipe(ensemble=(1,))


def _batch(codebooks: int):
    g = torch.Generator().manual_seed(0)
    segments = torch.randn(4, 6, 16, generator=g)
    mels = segments.repeat_interleave(12, dim=1)[:, :60] + 0.1 * torch.randn(4, 60, 16, generator=g)
    lengths = torch.tensor([60, 60, 50, 40])
    targets = torch.stack(
        [
            torch.randint(0, 8, (4, 6), generator=g).repeat_interleave(6, dim=1)[:, :30]
            for _ in range(codebooks)
        ],
        -1,
    )
    targets[3, 20:] = -100
    return mels, lengths, targets


def test_plain_hubert_has_no_extra_parameters_and_an_ensemble_averages_its_codebooks_losses():
    torch.manual_seed(0)
    plain = ssl.HuBERT(8, SMALL)
    torch.manual_seed(0)
    ensemble = ssl.HuBERT(8, SMALL, ensemble=(8, 8))
    shared = plain.state_dict()
    for name, value in shared.items():  # the same parameters, drawn in the same order
        assert torch.equal(ensemble.state_dict()[name], value), name
    assert set(ensemble.state_dict()) - set(shared) == {
        f"ensemble.{i}.{p}" for i in (0, 1) for p in ("proj.weight", "proj.bias", "embeddings")
    }
    mels, lengths, targets = _batch(3)
    torch.manual_seed(5)
    loss, _ = ensemble(mels, lengths, targets)
    # the same mask drawn again: the loss written out codebook by codebook
    torch.manual_seed(5)
    hidden, mask, valid = ensemble.encode_masked(mels, lengths, targets[..., 0])
    scored = mask & valid
    losses = [F.cross_entropy(ensemble.logits(hidden[scored]), targets[..., 0][scored])]
    for i, head in enumerate(ensemble.ensemble):
        logits = ssl.cosine_logits(head.proj(hidden[scored]), head.embeddings, ensemble.temperature)
        losses.append(F.cross_entropy(logits, targets[..., i + 1][scored]))
    torch.testing.assert_close(loss, torch.stack(losses).mean())
    with pytest.raises(ValueError, match=r"needs targets \(batch, frames, 3\)"):
        ensemble(mels, lengths, targets[..., 0])
    with pytest.raises(ValueError, match="at least 2 clusters"):
        ssl.HuBERT(8, SMALL, ensemble=(1,))


def test_an_ensemble_recipe_pretrains_both_iterations():
    rng = np.random.default_rng(0)
    t = np.arange(12_000) / 16_000
    audio = [(0.3 * np.sin(2 * np.pi * rng.uniform(150, 600) * t) + 0.01 * rng.standard_normal(t.size))
             .astype(np.float32) for _ in range(6)]  # fmt: skip
    config = ssl.EncoderConfig(
        d_model=32, num_layers=2, num_heads=2, d_ff=64, pos_conv_kernel=7, pos_conv_groups=4
    )
    recipe = HubertRecipe(
        encoder=config, n_utterances=6, n_clusters=4, ensemble=(3,), steps=6, iteration2_steps=4,
        iteration2_layer=1, batch_size=3, warmup_steps=2,
    )  # fmt: skip
    encoder, info = pretrain_hubert(audio, recipe, progress=False)
    assert encoder.config == config and 0 <= info["accuracy_it1"] <= 1 and 0 <= info["accuracy_it2"] <= 1
    rp = HubertRecipe(**{**recipe.__dict__, "ensemble": (), "targets": "random_projection"})
    _, info = pretrain_hubert(audio, rp, progress=False)
    assert 0 <= info["accuracy_it1"] <= 1
