"""Exercises of notebook 07 (Transformer): positional encodings, RMSNorm, the pre-LN block, parameters."""

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
        hints=(
            "Fill the table one pair of columns at a time: pair i has one frequency, the even column of the "
            "pair holds sines and the odd column cosines of that frequency times the position.",
            "The angle of position pos in pair i is pos / 10000^(2i / d_model). An outer product of the "
            "max_len positions with the d_model / 2 inverse frequencies gives every angle at once; the sines "
            "go to columns 0, 2, 4, ... and the cosines to 1, 3, 5, ..., interleaved, not in two halves.",
        ),
        compare=allclose(rtol=1e-5, atol=1e-6),
    )
)


def _rms_norm(x, gamma, eps):
    mean_square = np.mean(x * x, axis=-1, keepdims=True)
    return x / np.sqrt(mean_square + eps) * gamma


def _rms_cases(rng):
    yield np.array([3.0, 4.0, 0.0, -5.0]), np.ones(4), 1e-6
    yield rng.standard_normal((4, 6)) * 3 + 1, rng.standard_normal(6), 1e-5
    yield rng.standard_normal((2, 3, 8)), rng.standard_normal(8), 1e-6
    yield 1e3 * (rng.standard_normal((3, 5)) + 2), rng.uniform(0.5, 1.5, 5), 1e-5
    yield 1e-3 * rng.standard_normal((3, 7)), rng.uniform(0.5, 1.5, 7), 1e-5
    with_zeros = rng.standard_normal((3, 4))
    with_zeros[1] = 0.0
    yield with_zeros, rng.standard_normal(4), 1e-6


register(
    Exercise(
        id="07.rms_norm",
        prompt="""
RMSNorm (Zhang & Sennrich 2019), the norm of LLaMA and many recent models, is LayerNorm without the
centring and without the shift. Write `rms_norm(x, gamma, eps)` for x of shape (..., features) (any
number of leading axes, also none) and gamma of shape (features,):
    rms_norm(x) = x / sqrt(mean(x^2) + eps) * gamma,
where the mean of the squares is taken over the last axis, separately for each vector. No mean is
subtracted and there is no shift (no beta). A vector of zeros must come out as zeros.
""",
        reference=_rms_norm,
        cases=_rms_cases,
        hints=(
            "Each vector along the last axis is divided by one number of its own, its root mean square, "
            "and then scaled by gamma. Nothing is subtracted from it and nothing is added to it.",
            "Square the entries, average the squares over the features only (a mean, not a sum, and kept "
            "as an axis of length 1 so that it broadcasts back over the vector), add eps, and only then "
            "take the square root. eps inside the root is what keeps a vector of zeros, or of values near "
            "1e-3, from being divided by zero or by almost nothing; gamma multiplies last.",
        ),
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
        hints=(
            "Count part by part: a Linear layer from n_in to n_out has n_in n_out weights plus n_out biases; "
            "a LayerNorm has a scale and a shift per feature.",
            "Add up four d_model by d_model projections, two LayerNorms and the two Linear layers of the "
            "feed-forward network (d_model to d_ff, then d_ff to d_model), biases included. Heads only cut "
            "the projections into slices, so they add no parameters.",
        ),
        compare=equal,
    )
)


def _layer_norm(x, eps=1e-5):
    return (x - x.mean(axis=-1, keepdims=True)) / np.sqrt(x.var(axis=-1, keepdims=True) + eps)


def _pre_ln_block(x, weights, w_value, w1, w2):
    h = x + weights @ (_layer_norm(x) @ w_value)
    return h + np.maximum(_layer_norm(h) @ w1, 0.0) @ w2


def _block_cases(rng):
    for time, d, d_ff in ((2, 2, 3), (5, 8, 16), (9, 16, 64)):
        scores = rng.standard_normal((time, time))
        weights = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
        yield (
            3 * rng.standard_normal((time, d)) + 1,
            weights,
            rng.standard_normal((d, d)) / np.sqrt(d),
            rng.standard_normal((d, d_ff)) / np.sqrt(d),
            rng.standard_normal((d_ff, d)) / np.sqrt(d_ff),
        )


register(
    Exercise(
        id="07.pre_ln_block",
        prompt="""
The pre-LN encoder block of section 2, with its sub-layers simplified so that it fits in a few
lines of NumPy. Write `pre_ln_block(x, weights, w_value, w1, w2)` for one sequence x (time, d):
- the attention sub-layer maps y (time, d) to weights @ y @ w_value, where weights (time, time) are
  attention weights already computed (each row sums to 1) and w_value (d, d) stands for the value
  and output projections;
- the feed-forward sub-layer maps y to ReLU(y @ w1) @ w2, with w1 (d, d_ff) and w2 (d_ff, d);
- LayerNorm normalises each frame over its d features: subtract the frame's mean, then divide by
  sqrt(variance + eps), with the biased variance (divide by d) and eps = 1e-5; no gain or shift.
Arrange them as this notebook's block does (pre-LN): each sub-layer reads the LayerNorm of its
input, and its output is added to that input. Return the block's output, shape (time, d).
""",
        reference=_pre_ln_block,
        cases=_block_cases,
        hints=(
            "Draw the residual stream: x flows straight through the block, and each sub-layer adds "
            "something to it. Where does the LayerNorm sit: on the stream, or on the sub-layer's input only?",
            "Pre-LN normalises only what a sub-layer reads: first h = x plus attention of the normalised x, "
            "then the output is h plus the feed-forward network of the normalised h. The stream itself is "
            "never normalised inside the block; normalising after each addition is the post-LN block of "
            "the original Transformer, a different function.",
        ),
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)
