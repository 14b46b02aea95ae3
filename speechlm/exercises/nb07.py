"""Exercises of notebook 07 (Transformer): positional encodings, LayerNorm, parameter counts."""

from __future__ import annotations

import numpy as np

from speechlm.exercises import Exercise, allclose, equal, register
from speechlm.transformer import EncoderBlock, sinusoidal_positional_encoding


def _pe(max_len, d_model):
    return sinusoidal_positional_encoding(max_len, d_model).double().numpy()


def _pe_cases(rng):
    yield 1, 2
    yield 10, 8
    yield int(rng.integers(20, 60)), 32


register(
    Exercise(
        id="07.positional_encoding",
        prompt="""
Write `positional_encoding(max_len, d_model)` returning the (max_len, d_model) sinusoidal table:
PE[pos, 2i] = sin(pos / 10000^(2i / d_model)) and PE[pos, 2i+1] = cos(pos / 10000^(2i / d_model)),
for i = 0 ... d_model/2 - 1 (d_model is even).
""",
        reference=_pe,
        cases=_pe_cases,
        hint="angle = np.arange(max_len)[:, None] / 10000 ** (np.arange(0, d_model, 2) / d_model); "
        "fill pe[:, 0::2] with sin(angle) and pe[:, 1::2] with cos(angle).",
        compare=allclose(rtol=1e-5, atol=1e-6),
    )
)


def _layer_norm(x, gamma, beta, eps):
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _ln_cases(rng):
    yield np.array([[1.0, 2.0, 3.0]]), np.ones(3), np.zeros(3), 1e-5
    yield rng.standard_normal((4, 6)) * 3 + 1, rng.standard_normal(6), rng.standard_normal(6), 1e-5
    yield rng.standard_normal((2, 3, 8)), rng.standard_normal(8), rng.standard_normal(8), 1e-3


register(
    Exercise(
        id="07.layer_norm",
        prompt="""
Write `layer_norm(x, gamma, beta, eps)` as torch.nn.LayerNorm over the last axis: subtract each
vector's mean, divide by sqrt(variance + eps) where the variance is the biased one (divide by n),
then scale by gamma and shift by beta (both (features,)). x has shape (..., features).
""",
        reference=_layer_norm,
        cases=_ln_cases,
        hint="x.mean(axis=-1, keepdims=True) and x.var(axis=-1, keepdims=True); np.var is biased by default.",
        compare=allclose(rtol=1e-6, atol=1e-8),
    )
)


def _block_parameters(d_model, d_ff):
    block = EncoderBlock(d_model, 2, d_ff)
    return sum(p.numel() for p in block.parameters())


def _param_cases(rng):
    yield 4, 8
    yield 64, 256
    yield 2 * int(rng.integers(8, 64)), int(rng.integers(16, 512))


register(
    Exercise(
        id="07.block_parameters",
        prompt="""
Count the parameters of one pre-LN encoder block (speechlm.transformer.EncoderBlock) from its
sizes alone: write `block_parameters(d_model, d_ff)` returning an int. The block has four
d_model x d_model projections with biases (query, key, value, output), two LayerNorms
(a scale and a shift each) and a feed-forward network Linear(d_model, d_ff) -> Linear(d_ff, d_model)
with biases. (The number of heads does not change the count: why?)
""",
        reference=_block_parameters,
        cases=_param_cases,
        hint="4 (d^2 + d) for attention, 2 * 2d for the norms, (d d_ff + d_ff) + (d_ff d + d) for the "
        "feed-forward network.",
        compare=equal,
    )
)
