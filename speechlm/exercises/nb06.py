"""Exercises of notebook 06 (attention): masks, attention in NumPy, heads."""

from __future__ import annotations

import numpy as np

from speechlm.exercises import Exercise, allclose, equal, register


def _padding_causal_mask(lengths, size):
    causal = np.tril(np.ones((size, size), dtype=bool))
    keys = np.arange(size)[None, :] < np.asarray(lengths)[:, None]
    return causal[None] & keys[:, None, :]


def _mask_cases(rng):
    yield np.array([3]), 3
    yield np.array([4, 2]), 4
    yield rng.integers(1, 8, size=3), 7


register(
    Exercise(
        id="06.padding_causal_mask",
        prompt="""
Write `padding_causal_mask(lengths, size)` returning a boolean array (batch, size, size) that is
True where query i of item b may attend to key j: j <= i (causal) AND j < lengths[b] (not padding).
This is the `mask` convention of F.scaled_dot_product_attention (True = may attend).
""",
        reference=_padding_causal_mask,
        cases=_mask_cases,
        hints=(
            "Two conditions, each easy on its own: a (size, size) causal part and a (batch, size) part that "
            "says which keys are real. Combine them with a logical and.",
            "Give each part the axes it lacks so that both broadcast to (batch, size, size): the causal part "
            "is the same for every item, the padding part the same for every query. Only keys are masked: a "
            "padded query still attends to the real keys before it.",
        ),
        compare=equal,
    )
)


def _attention(q, k, v, mask):
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    scores = np.where(mask, scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    w = np.exp(scores)
    return (w / w.sum(axis=-1, keepdims=True)) @ v


def _att_cases(rng):
    yield np.ones((1, 2)), np.ones((3, 2)), np.arange(6.0).reshape(3, 2), np.ones((1, 3), dtype=bool)
    q, k, v = rng.standard_normal((4, 8)), rng.standard_normal((5, 8)), rng.standard_normal((5, 3))
    yield q, k, v, np.ones((4, 5), dtype=bool)
    mask = rng.random((2, 6, 6)) < 0.6
    mask[..., 0] = True
    yield (
        rng.standard_normal((2, 6, 4)) * 5,
        rng.standard_normal((2, 6, 4)) * 5,
        rng.standard_normal((2, 6, 2)),
        mask,
    )
    # scores around 1000: exp overflows unless the row maximum is subtracted first
    yield (
        np.array([[40.0, 40.0]]),
        np.array([[25.0, 25.0], [24.0, 25.0], [-25.0, 0.0]]),
        np.eye(3),
        np.ones((1, 3), dtype=bool),
    )
    yield (
        rng.standard_normal((3, 4)) * 30,
        rng.standard_normal((5, 4)) * 30,
        rng.standard_normal((5, 2)),
        np.ones((3, 5), dtype=bool),
    )


register(
    Exercise(
        id="06.attention",
        prompt="""
Write scaled dot-product attention in NumPy, `attention_numpy(q, k, v, mask)`: q (..., T, d),
k (..., S, d), v (..., S, d_v), mask boolean (..., T, S), True = may attend (every row keeps at
least one True). Return softmax(q k^T / sqrt(d) with masked scores set to -inf) @ v, shape
(..., T, d_v). Make the softmax numerically stable (large scores must not overflow).
""",
        reference=_attention,
        cases=_att_cases,
        hints=(
            "Four steps: scores, mask, a softmax over the keys (the last axis), the weighted sum of values.",
            "The scores are q k^T / sqrt(d), where k^T swaps only the last two axes of k, so that any batch "
            "axes stay in front. A masked score becomes -inf before the softmax and so gets weight 0.",
            "Softmax does not change when each row's largest score is subtracted from the row: do that "
            "before exponentiating, or scores around 1000 overflow to inf and the weights become NaN.",
        ),
        compare=allclose(rtol=1e-6, atol=1e-9),
    )
)


def _split_heads(x, num_heads):
    batch, time, d = x.shape
    return x.reshape(batch, time, num_heads, d // num_heads).transpose(0, 2, 1, 3)


def _heads_cases(rng):
    yield np.arange(24.0).reshape(1, 3, 8), 2
    yield rng.standard_normal((2, 5, 12)), 3
    yield rng.standard_normal((3, 4, 16)), 4


register(
    Exercise(
        id="06.split_heads",
        prompt="""
Multi-head attention cuts d_model into num_heads slices of d_model // num_heads consecutive
features. Write `split_heads(x, num_heads)`: x (batch, time, d_model) -> (batch, heads, time, head_dim)
where head h holds features h*head_dim ... (h+1)*head_dim - 1 (the layout of nn.MultiheadAttention).
""",
        reference=_split_heads,
        cases=_heads_cases,
        hints=(
            "Split the feature axis into (heads, head_dim) first, and only then move the heads axis.",
            "A reshape to (batch, time, heads, head_dim) keeps each head's consecutive features together; "
            "swapping the time and heads axes then gives the layout asked for. Reshaping straight to "
            "(batch, heads, time, head_dim) mixes features of different time steps into one head.",
        ),
        compare=allclose(rtol=0, atol=0),
    )
)
