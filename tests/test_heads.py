"""Tests of speechlm.heads: attention pooling and the pooled classifier's layer-normalised mix (the
digit-word head of notebook 12); the standardised variant is tested with notebook 15's code in
test_spoken_understanding.py."""

from __future__ import annotations

import pytest
import torch

from speechlm.heads import LayerMix, PooledClassifier, attention_pool


def test_attention_pool_weights_sum_to_one_over_real_frames_and_pool_each_query():
    gen = torch.Generator().manual_seed(0)
    x, scores = torch.randn(2, 6, 4, generator=gen), torch.randn(2, 3, 6, generator=gen)
    padding = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])
    pooled, weights = attention_pool(x, scores, padding)
    assert pooled.shape == (2, 3, 4) and weights.shape == (2, 3, 6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3))
    assert torch.all(weights[1, :, 4:] == 0)
    # query by query, the softmax over the real frames and the weighted sum written out
    for b, n in ((0, 6), (1, 4)):
        for q in range(3):
            alpha = scores[b, q, :n].softmax(0)
            torch.testing.assert_close(weights[b, q, :n], alpha)
            torch.testing.assert_close(pooled[b, q], (alpha[:, None] * x[b, :n]).sum(0))


def test_attention_pool_rejects_scores_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"scores must be \(batch, queries, frames\)"):
        attention_pool(torch.zeros(2, 6, 4), torch.zeros(2, 6), torch.zeros(2, 6, dtype=torch.bool))


def test_layer_norm_head_normalises_each_layer_then_mixes_and_averages_the_real_frames():
    gen = torch.Generator().manual_seed(1)
    torch.manual_seed(0)
    model = PooledClassifier(8, 3, 4, norm="layer").eval()
    with torch.no_grad():
        model.mix.layer_logits.copy_(torch.tensor([0.5, -1.0, 2.0, 0.0]))
    x, lengths = torch.randn(2, 5, 4, 8, generator=gen), torch.tensor([5, 3])
    normed = torch.nn.functional.layer_norm(x, (8,), model.mix.norm.weight, model.mix.norm.bias)
    mixed = (normed * model.mix.weights()[:, None]).sum(2)
    expected = torch.stack([mixed[0].mean(0), mixed[1, :3].mean(0)])
    torch.testing.assert_close(model.pool(x, lengths), expected)
    torch.testing.assert_close(model(x, lengths), model.classifier(expected))
    # LayerNorm makes each layer's scale irrelevant (up to its eps, 1e-5 against a variance of 1 or
    # more here), as a fine-tuned encoder's scale drifts
    scaled = x * torch.tensor([1.0, 10.0, 2.0, 3.0])[:, None]
    torch.testing.assert_close(model(scaled, lengths), model(x, lengths), atol=1e-5, rtol=1e-4)


def test_layer_norm_head_has_no_fitted_statistics_and_needs_the_mix():
    model = PooledClassifier(8, 3, 4, norm="layer")
    assert "feature_mean" not in dict(model.named_buffers()) and isinstance(model.mix, LayerMix)
    with pytest.raises(ValueError, match="fit_normalisation is for norm='fitted'"):
        model.fit_normalisation([torch.zeros(3, 4, 8)])
    with pytest.raises(ValueError, match="needs layer=None"):
        PooledClassifier(8, 3, 4, norm="layer", layer=1)
    with pytest.raises(ValueError, match="norm must be"):
        PooledClassifier(8, 3, 4, norm="batch")
