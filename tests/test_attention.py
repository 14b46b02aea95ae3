"""Our attention against F.scaled_dot_product_attention (1e-6) and nn.MultiheadAttention (1e-5)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from speechlm.attention import (
    MultiHeadAttention,
    attention_weights,
    causal_mask,
    scaled_dot_product_attention,
    softmax,
)
from speechlm.batching import lengths_to_mask

SDPA_TOL = 1e-6
MHA_TOL = 1e-5


def _qkv(seed=0, batch=2, heads=3, target=7, source=9, d=16):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, heads, target, d, generator=g)
    k = torch.randn(batch, heads, source, d, generator=g)
    v = torch.randn(batch, heads, source, 8, generator=g)
    return q, k, v


def _close(a, b, tol):
    torch.testing.assert_close(a, b, rtol=0, atol=tol)


def test_sdpa_no_mask():
    q, k, v = _qkv()
    _close(scaled_dot_product_attention(q, k, v), F.scaled_dot_product_attention(q, k, v), SDPA_TOL)


def test_sdpa_boolean_mask():
    q, k, v = _qkv(1)
    mask = torch.rand(2, 1, 7, 9, generator=torch.Generator().manual_seed(5)) > 0.4
    mask[..., 0] = True  # every query keeps at least one key
    _close(
        scaled_dot_product_attention(q, k, v, mask),
        F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
        SDPA_TOL,
    )


def test_sdpa_additive_mask():
    q, k, v = _qkv(2)
    additive = torch.randn(7, 9, generator=torch.Generator().manual_seed(6))
    additive[:, -3:] = float("-inf")
    _close(
        scaled_dot_product_attention(q, k, v, additive),
        F.scaled_dot_product_attention(q, k, v, attn_mask=additive),
        SDPA_TOL,
    )


def test_sdpa_causal_and_custom_scale():
    q, k, v = _qkv(3, target=9, source=9)
    _close(
        scaled_dot_product_attention(q, k, v, causal=True),
        F.scaled_dot_product_attention(q, k, v, is_causal=True),
        SDPA_TOL,
    )
    _close(
        scaled_dot_product_attention(q, k, v, scale=0.3),
        F.scaled_dot_product_attention(q, k, v, scale=0.3),
        SDPA_TOL,
    )


def test_weights_are_distributions_and_respect_masks():
    q, k, _ = _qkv(4, target=6, source=6)
    w = attention_weights(q, k, causal=True)
    _close(w.sum(-1), torch.ones(w.shape[:-1]), 1e-6)
    assert torch.all(w.masked_select(~causal_mask(6)) == 0)


def test_fully_masked_rows_give_zeros_like_torch():
    q, k, v = _qkv(4, target=6, source=6)
    mask = torch.ones(6, 6, dtype=torch.bool)
    mask[4:] = False  # the last two queries may attend to nothing
    assert torch.all(attention_weights(q, k, mask)[..., 4:, :] == 0)
    _close(
        scaled_dot_product_attention(q, k, v, mask),
        F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
        SDPA_TOL,
    )


def test_softmax_matches_torch():
    x = torch.randn(5, 11, generator=torch.Generator().manual_seed(7)) * 30
    _close(softmax(x), torch.softmax(x, -1), SDPA_TOL)


def _copied_mha(d_model=24, heads=4, bias=True, fused=True):
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(d_model, heads, bias=bias, batch_first=True).eval()
    ours = MultiHeadAttention(d_model, heads, bias=bias, fused=fused).eval().copy_from_torch(ref)
    return ours, ref


@pytest.mark.parametrize("fused", [True, False])
def test_mha_matches_torch_self_attention_with_padding(fused):
    ours, ref = _copied_mha(fused=fused)
    x = torch.randn(3, 10, 24)
    pad = ~lengths_to_mask(torch.tensor([10, 6, 3]), 10)
    with torch.no_grad():
        expected, ref_w = ref(x, x, x, key_padding_mask=pad, average_attn_weights=False)
        got, _ = ours(x, key_padding_mask=pad)
        got_w_out, weights = ours(x, key_padding_mask=pad, need_weights=True)
    _close(got, expected, MHA_TOL)
    _close(got_w_out, expected, MHA_TOL)
    _close(weights, ref_w, MHA_TOL)


def test_mha_cross_attention_causal_and_no_bias():
    ours, ref = _copied_mha(bias=False)
    q, kv = torch.randn(2, 5, 24), torch.randn(2, 8, 24)
    with torch.no_grad():
        _close(ours(q, kv)[0], ref(q, kv, kv)[0], MHA_TOL)
    ours, ref = _copied_mha()
    x = torch.randn(2, 6, 24)
    blocked = ~causal_mask(6)  # nn.MultiheadAttention's bool attn_mask: True = blocked
    pad = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])
    with torch.no_grad():
        expected = ref(x, x, x, attn_mask=blocked, key_padding_mask=pad)[0]
        _close(ours(x, causal=True, key_padding_mask=pad)[0], expected, MHA_TOL)
        _close(ours(x, causal=True, key_padding_mask=pad, need_weights=True)[0], expected, MHA_TOL)


def test_mha_gradients_flow_in_training_mode():
    mha = MultiHeadAttention(8, 2, dropout=0.1).train()
    x = torch.randn(2, 5, 8, requires_grad=True)
    mha(x)[0].sum().backward()
    assert x.grad is not None and all(p.grad is not None for p in mha.parameters())


def test_bad_inputs():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"query must be \(batch, time, 8\)"):
        mha(torch.randn(2, 5, 6))
    with pytest.raises(ValueError, match="True at padding"):
        mha(torch.randn(2, 5, 8), key_padding_mask=torch.ones(2, 5))
    with pytest.raises(ValueError, match="last \\(feature\\) size"):
        attention_weights(torch.randn(3, 4), torch.randn(3, 5))
    with pytest.raises(ValueError, match="same number of positions"):
        scaled_dot_product_attention(torch.randn(3, 4), torch.randn(5, 4), torch.randn(6, 4))
    with pytest.raises(ValueError, match="equal q/k/v sizes"):
        mha.copy_from_torch(nn.MultiheadAttention(8, 4))
