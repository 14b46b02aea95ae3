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
        prompt_zh="""
编写 `padding_causal_mask(lengths, size)`，返回形状为 (batch, size, size) 的布尔数组：当样本 b 的
查询 i 可以关注键 j 时为 True，即 j <= i（因果）并且 j < lengths[b]（不是填充）。
这就是 F.scaled_dot_product_attention 中 `mask` 的约定（True = 可以关注）。
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
        hints_zh=(
            "两个条件，各自都很简单：一个 (size, size) 的因果部分，"
            "以及一个说明哪些键是真实帧的 (batch, size) 部分。用逻辑与把它们合起来。",
            "给每个部分补上它缺少的轴，使两者都能广播到 (batch, size, size)：因果部分对每个样本都相同，"
            "填充部分对每个查询都相同。只有键会被遮住：填充位置上的查询仍然可以关注它之前的真实键。",
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
        prompt_zh="""
用 NumPy 编写缩放点积注意力 `attention_numpy(q, k, v, mask)`：q (..., T, d)，k (..., S, d)，
v (..., S, d_v)，mask 是布尔数组 (..., T, S)，True = 可以关注（每一行至少保留一个 True）。
返回 softmax(q k^T / sqrt(d)) @ v，其中被遮住的分数在 softmax 之前置为 -inf，形状为
(..., T, d_v)。softmax 要数值稳定（很大的分数不能溢出）。
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
        hints_zh=(
            "四步：计算分数，施加掩码，在键（最后一个轴）上做 softmax，对值加权求和。",
            "分数是 q k^T / sqrt(d)，其中 k^T 只交换 k 的最后两个轴，使前面的批轴保持不动。"
            "被遮住的分数在 softmax 之前变为 -inf，因而权重为 0。",
            "从每一行减去该行最大的分数，softmax 的结果不变：在取指数之前先这样做，"
            "否则 1000 左右的分数会溢出为 inf，权重就变成 NaN。",
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
        prompt_zh="""
多头注意力把 d_model 切成 num_heads 片，每片是 d_model // num_heads 个连续的特征。编写
`split_heads(x, num_heads)`：x (batch, time, d_model) -> (batch, heads, time, head_dim)，
其中第 h 个头持有第 h*head_dim ... (h+1)*head_dim - 1 个特征（nn.MultiheadAttention 的布局）。
""",
        reference=_split_heads,
        cases=_heads_cases,
        hints=(
            "Split the feature axis into (heads, head_dim) first, and only then move the heads axis.",
            "A reshape to (batch, time, heads, head_dim) keeps each head's consecutive features together; "
            "swapping the time and heads axes then gives the layout asked for. Reshaping straight to "
            "(batch, heads, time, head_dim) mixes features of different time steps into one head.",
        ),
        hints_zh=(
            "先把特征轴拆成 (heads, head_dim)，然后才移动头所在的轴。",
            "变形为 (batch, time, heads, head_dim) 能让每个头的连续特征保持在一起；"
            "再交换时间轴和头轴，就得到所要求的布局。"
            "直接变形为 (batch, heads, time, head_dim) 会把不同时间步的特征混进同一个头。",
        ),
        compare=allclose(rtol=0, atol=0),
    )
)
