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
        hint="np.tril(np.ones((size, size), bool)) is the causal part; np.arange(size)[None, :] < "
        "lengths[:, None] marks real keys; combine them with & after adding axes so they broadcast.",
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
        hint="np.swapaxes(k, -1, -2) transposes the last two axes; np.where(mask, scores, -np.inf) masks; "
        "subtract the row max before np.exp.",
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
        hint="Reshape to (batch, time, heads, head_dim) first, then move the heads axis in front of "
        "time with transpose(0, 2, 1, 3). Reshaping straight to (batch, heads, time, ...) mixes time steps.",
        compare=allclose(rtol=0, atol=0),
    )
)
