"""Positional encoding formula and the pre-LN block against nn.TransformerEncoderLayer (1e-5)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from speechlm.batching import lengths_to_mask
from speechlm.transformer import (
    EncoderBlock,
    PositionalEncoding,
    TransformerEncoder,
    sinusoidal_positional_encoding,
)

TOL = 1e-5


def test_positional_encoding_interleaved_formula():
    pe = sinusoidal_positional_encoding(50, 16)
    assert pe.shape == (50, 16)
    for pos in (0, 1, 7, 49):
        for i in range(8):
            angle = pos / 10000 ** (2 * i / 16)
            assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    assert torch.all(pe[0, 0::2] == 0) and torch.all(pe[0, 1::2] == 1)


def test_positional_encoding_module_adds_table():
    module = PositionalEncoding(8, max_len=20)
    x = torch.zeros(2, 5, 8)
    torch.testing.assert_close(module(x), sinusoidal_positional_encoding(20, 8)[:5].expand(2, 5, 8))
    with pytest.raises(ValueError, match="longer than max_len"):
        module(torch.zeros(1, 21, 8))
    with pytest.raises(ValueError, match="positive even"):
        sinusoidal_positional_encoding(10, 7)


def _pair(activation="relu"):
    torch.manual_seed(0)
    ref = nn.TransformerEncoderLayer(
        32, 4, 64, dropout=0.0, activation=activation, norm_first=True, batch_first=True
    ).eval()
    with torch.no_grad():  # non-trivial LayerNorm parameters, so that a swapped norm would be caught
        for norm in (ref.norm1, ref.norm2):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_()
    ours = EncoderBlock(32, 4, 64, dropout=0.0, activation=activation).eval().copy_from_torch(ref)
    return ours, ref


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_block_matches_torch_layer(activation):
    ours, ref = _pair(activation)
    x = torch.randn(3, 11, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[0], ref(x), rtol=0, atol=TOL)


def test_block_matches_torch_layer_with_padding_mask():
    ours, ref = _pair()
    x = torch.randn(3, 11, 32)
    pad = ~lengths_to_mask(torch.tensor([11, 7, 2]), 11)
    real = ~pad
    expected = ref(x, src_key_padding_mask=pad).detach()  # with grad enabled: torch's reference (slow) path
    with torch.no_grad():
        got, _ = ours(x, key_padding_mask=pad)
        got_weights, weights = ours(x, key_padding_mask=pad, need_weights=True)
    torch.testing.assert_close(got[real], expected[real], rtol=0, atol=TOL)
    torch.testing.assert_close(got, expected, rtol=0, atol=TOL)
    torch.testing.assert_close(got_weights, expected, rtol=0, atol=TOL)
    assert torch.all(weights.masked_select(pad[:, None, None, :].expand_as(weights)) == 0)


def test_block_training_mode_matches_torch_with_same_dropout_seed_off():
    ours, ref = _pair()
    ours.train()
    ref.train()  # dropout=0: training mode must compute the same thing
    x = torch.randn(2, 6, 32)
    torch.testing.assert_close(ours(x)[0], ref(x), rtol=0, atol=TOL)


def test_encoder_stack_shapes_and_weights():
    enc = TransformerEncoder(2, 16, 2, 32, dropout=0.0).eval()
    x = torch.randn(2, 9, 16)
    pad = ~lengths_to_mask(torch.tensor([9, 4]), 9)
    y, maps = enc(x, pad, need_weights=True)
    assert y.shape == x.shape and len(maps) == 2 and maps[0].shape == (2, 2, 9, 9)
    y2, none = enc(x, pad)
    torch.testing.assert_close(y, y2, rtol=0, atol=1e-6)
    assert none == []
    # padding must not change the real positions' outputs
    y_short, _ = enc(x[1:, :4])
    torch.testing.assert_close(y[1, :4], y_short[0], rtol=0, atol=1e-5)


def test_copy_from_post_ln_layer_is_refused():
    with pytest.raises(ValueError, match="norm_first=True"):
        EncoderBlock(8, 2, 16).copy_from_torch(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True))
    with pytest.raises(ValueError, match="activation"):
        EncoderBlock(8, 2, 16, activation="swish")
