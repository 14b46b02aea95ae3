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
        prompt_zh="""
编写 `positional_encoding(max_len, d_model)`，返回 (max_len, d_model) 的正弦位置编码表：
PE[pos, 2i] = sin(pos / 10000^(2i / d_model))，PE[pos, 2i+1] = cos(pos / 10000^(2i / d_model))，
其中 i = 0 ... d_model/2 - 1（d_model 为偶数）。
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
        hints_zh=(
            "每次填两列：第 i 对列有一个频率，其中偶数列存放该频率乘以位置之后的正弦，奇数列存放余弦。",
            "位置 pos 在第 i 对中的角度是 pos / 10000^(2i / d_model)。"
            "用 max_len 个位置与 d_model / 2 个频率的倒数做外积，就能一次得到所有角度；"
            "正弦放到第 0、2、4、... 列，余弦放到第 1、3、5、... 列，两者交错排列，而不是分成前后两半。",
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
        prompt_zh="""
RMSNorm（均方根归一化，Zhang & Sennrich 2019）是 LLaMA 和许多近期模型所用的归一化，相当于去掉了
中心化和平移的层归一化（LayerNorm）。对形状为 (..., features) 的 x（前面可以有任意多个轴，也可以
没有）和形状为 (features,) 的 gamma，编写 `rms_norm(x, gamma, eps)`：
    rms_norm(x) = x / sqrt(mean(x^2) + eps) * gamma，
其中平方的均值沿最后一个轴、对每个向量分别计算。不减去均值，也没有平移（没有 beta）。
全零向量的输出必须仍是全零。
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
        hints_zh=(
            "沿最后一个轴的每个向量都除以属于它自己的一个数，即它的均方根，然后乘以 gamma。"
            "既不从中减去任何量，也不给它加上任何量。",
            "把各元素平方，只在特征上对平方求平均（是均值而不是和，并保留为长度为 1 的轴，"
            "以便广播回整个向量），加上 eps，然后才开平方。正是根号内的 eps，"
            "让全零向量或数值在 1e-3 附近的向量不至于除以零或除以一个几乎为零的数；最后才乘以 gamma。",
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
        prompt_zh="""
只根据尺寸计算一个前置层归一化（pre-LN）编码器块（speechlm.transformer.EncoderBlock）的参数量：
编写 `block_parameters(d_model, d_ff)`，返回一个 int。这个块有四个带偏置的 d_model x d_model 投影
（查询、键、值、输出），两个层归一化（各有一个缩放和一个平移），以及一个带偏置的前馈网络
Linear(d_model, d_ff) -> Linear(d_ff, d_model)。（头的数量不影响参数量：为什么？）
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
        hints_zh=(
            "逐部分计数：一个从 n_in 到 n_out 的 Linear 层有 n_in n_out 个权重和 n_out 个偏置；"
            "一个层归一化对每个特征各有一个缩放和一个平移。",
            "把四个 d_model x d_model 的投影、两个层归一化和前馈网络的两个 Linear 层"
            "（先从 d_model 到 d_ff，再从 d_ff 到 d_model）加起来，偏置也要算上。"
            "多个头只是把投影切成若干片，所以不增加参数。",
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
        prompt_zh="""
第 2 节的前置层归一化（pre-LN）编码器块，把子层简化到几行 NumPy 就能写完。对一条序列 x (time, d)
编写 `pre_ln_block(x, weights, w_value, w1, w2)`：
- 注意力子层把 y (time, d) 映射为 weights @ y @ w_value，其中 weights (time, time) 是已经算好的
  注意力权重（每行之和为 1），w_value (d, d) 代表值投影与输出投影；
- 前馈子层把 y 映射为 ReLU(y @ w1) @ w2，其中 w1 为 (d, d_ff)，w2 为 (d_ff, d)；
- 层归一化对每一帧在其 d 个特征上做归一化：减去该帧的均值，再除以 sqrt(方差 + eps)，方差用有偏
  估计（除以 d），eps = 1e-5；没有增益，也没有平移。
按本笔记本中编码器块的方式（前置层归一化）把它们组合起来：每个子层读入其输入的层归一化结果，
子层的输出加回到这个输入上。返回块的输出，形状为 (time, d)。
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
        hints_zh=(
            "画出残差流：x 直接穿过整个块，每个子层往上面加一些东西。层归一化放在哪里：放在残差流上，"
            "还是只放在子层的输入上？",
            "前置层归一化只对子层读入的内容做归一化：先令 h = x 加上对归一化后的 x 做的注意力，"
            "输出则是 h 加上对归一化后的 h 做的前馈网络。块内的残差流本身从不被归一化；"
            "每次相加之后再做归一化的，是原始 Transformer 的后置层归一化块，那是另一个函数。",
        ),
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)
