"""Exercises of notebook 05 (CNNs and GRUs): output lengths, receptive fields, masked pooling, a GRU step."""

from __future__ import annotations

import numpy as np
import torch

from speechlm.exercises import Exercise, allclose, equal, register


def _conv_output_length(length, kernel_size, stride, padding, dilation):
    return (length + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def _conv_cases(rng):
    yield 100, 3, 1, 1, 1
    yield 100, 5, 2, 2, 1
    yield 37, 4, 3, 0, 1
    yield 50, 3, 1, 2, 2
    for _ in range(4):
        k, d = int(rng.integers(1, 6)), int(rng.integers(1, 3))
        yield int(rng.integers(d * (k - 1) + 1, 200)), k, int(rng.integers(1, 4)), int(rng.integers(0, 3)), d


register(
    Exercise(
        id="05.conv_output_length",
        prompt="""
Write `conv_output_length(length, kernel_size, stride, padding, dilation)`: the number of
output frames of torch.nn.Conv1d over `length` input frames (an int).
""",
        prompt_zh="""
编写 `conv_output_length(length, kernel_size, stride, padding, dilation)`：torch.nn.Conv1d
作用于 `length` 个输入帧时输出的帧数（一个 int）。
""",
        reference=_conv_output_length,
        cases=_conv_cases,
        hints=(
            "Pad first: the input is length + 2 padding frames long. Then ask how many frames one placement "
            "of the dilated kernel spans.",
            "A kernel of kernel_size taps with gaps of dilation spans dilation (kernel_size - 1) + 1 frames. "
            "Placements start at 0, stride, 2 stride, ... and the last must end inside the padded input: "
            "count them as in 01.frame_count.",
        ),
        hints_zh=(
            "先做填充：输入变为 length + 2 padding 帧。然后想一想，扩张后的卷积核放在一个位置时跨越多少帧。",
            "一个有 kernel_size 个抽头、间隔为 dilation 的卷积核跨越 dilation (kernel_size - 1) + 1 帧。"
            "各个放置位置从 0、stride、2 stride …… 开始，最后一个必须完全落在填充后的输入之内：像 "
            "01.frame_count 那样数一数共有多少个。",
        ),
        compare=equal,
    )
)


def _masked_mean(x, lengths):
    out = np.zeros((x.shape[0], x.shape[2]))
    for b, n in enumerate(lengths):
        if n > 0:
            out[b] = x[b, :n].mean(axis=0)
    return out


def _mm_cases(rng):
    yield np.arange(12.0).reshape(2, 3, 2), np.array([3, 1])
    yield rng.standard_normal((4, 6, 3)), np.array([6, 2, 0, 5])
    yield rng.standard_normal((3, 10, 5)), rng.integers(1, 11, size=3)


register(
    Exercise(
        id="05.masked_mean",
        prompt="""
Write `masked_mean_numpy(x, lengths)`: x is a padded batch (batch, time, channels) and lengths
(batch,) the number of real frames of each item. Return (batch, channels): the mean over the real
frames only. An item of length 0 gives zeros. Use NumPy (no loop over time steps needed).
""",
        prompt_zh="""
编写 `masked_mean_numpy(x, lengths)`：x 是填充后的批 (batch, time, channels)，lengths (batch,)
是每一项的真实帧数。返回 (batch, channels)：只在真实帧上求的均值。长度为 0 的项返回零。
使用 NumPy（不需要沿时间步循环）。
""",
        reference=_masked_mean,
        cases=_mm_cases,
        hints=(
            "Build a (batch, time) mask that is true at the real frames: frame t of item b is real when "
            "t < lengths[b]. Broadcasting a row of time indices against a column of lengths makes it.",
            "Zero the padded frames with the mask, sum over time and divide by the number of real frames. "
            "An item of length 0 must give zeros, not 0 / 0: divide by at least 1.",
        ),
        hints_zh=(
            "构造一个 (batch, time) 的掩码，在真实帧处为真：当 t < lengths[b] 时，第 b 项的第 t "
            "帧是真实帧。把一行时间下标与一列长度做广播比较，就能得到它。",
            "用掩码把填充帧置零，沿时间求和，再除以真实帧的个数。长度为 0 的项必须得到零，而不是 0 / 0："
            "除数至少取 1。",
        ),
        compare=allclose(rtol=1e-6, atol=1e-9),
    )
)


def _receptive_field(kernel_sizes, strides, dilations):
    field, jump = 1, 1
    for k, s, d in zip(kernel_sizes, strides, dilations, strict=True):
        field += (k - 1) * d * jump
        jump *= s
    return field


def _rf_cases(rng):
    yield [5], [1], [1]
    yield [5, 5], [1, 1], [1, 1]
    yield [3, 3, 3], [2, 2, 1], [1, 1, 1]
    yield [3, 3, 3, 3], [1, 1, 1, 1], [1, 2, 4, 8]
    for _ in range(3):
        n = int(rng.integers(1, 5))
        yield ([int(k) for k in rng.integers(1, 8, n)], [int(s) for s in rng.integers(1, 3, n)],
               [int(d) for d in rng.integers(1, 3, n)])  # fmt: skip


register(
    Exercise(
        id="05.receptive_field",
        prompt="""
How many input frames does one output frame of a stack of 1-D convolutions see? Write
`receptive_field(kernel_sizes, strides, dilations)` (three lists, one entry per layer, first layer
first) returning the receptive field in input frames (an int). With 10 ms frames, this is how much
context the CNN of this notebook has.
""",
        prompt_zh="""
一维卷积堆叠起来之后，一个输出帧能看到多少个输入帧？编写
`receptive_field(kernel_sizes, strides, dilations)`（三个列表，每层一项，第一层在前），
返回以输入帧计的感受野（一个 int）。帧移为 10 ms 时，这就是本笔记本中 CNN 所拥有的上下文长度。
""",
        reference=_receptive_field,
        cases=_rf_cases,
        hints=(
            "Go from the first layer to the last, and keep track of how far apart, in input frames, two "
            "neighbouring positions of the current layer are.",
            "Track two numbers, both starting at 1: the field and that distance, the jump. A layer with "
            "kernel k and dilation d widens the field by (k - 1) d jumps; then its stride multiplies the "
            "jump.",
        ),
        hints_zh=(
            "从第一层走到最后一层，并记录当前层上两个相邻位置在输入帧上相距多远。",
            "跟踪两个数，初值都为 1：感受野，以及上面说的那个距离，即跳距（jump）。卷积核为 k、扩张为 d "
            "的层把感受野加宽 (k - 1) d 个跳距；然后跳距再乘以该层的步幅。",
        ),
        compare=equal,
    )
)


def _gru_step(x, h, w_ih, w_hh, b_ih, b_hh):
    cell = torch.nn.GRUCell(x.shape[1], h.shape[1], dtype=torch.float64)
    with torch.no_grad():
        for name, value in (("weight_ih", w_ih), ("weight_hh", w_hh), ("bias_ih", b_ih), ("bias_hh", b_hh)):
            getattr(cell, name).copy_(torch.from_numpy(value))
        return cell(torch.from_numpy(x), torch.from_numpy(h)).numpy()


def _gru_cases(rng):
    for batch, n_in, hidden in ((1, 1, 1), (2, 3, 4), (5, 13, 8)):
        yield (
            rng.standard_normal((batch, n_in)),
            np.tanh(rng.standard_normal((batch, hidden))),
            rng.standard_normal((3 * hidden, n_in)),
            rng.standard_normal((3 * hidden, hidden)),
            rng.standard_normal(3 * hidden),
            rng.standard_normal(3 * hidden),
        )


register(
    Exercise(
        id="05.gru_step",
        prompt="""
One step of the GRU of section 5, as `torch.nn.GRUCell` computes it. Write
`gru_step(x, h, w_ih, w_hh, b_ih, b_hh)`: x (batch, n_in) is the input frame, h (batch, hidden)
the previous state; w_ih (3 hidden, n_in), w_hh (3 hidden, hidden), b_ih and b_hh (3 hidden,) hold
the reset, update and new-gate parts stacked in that order (PyTorch's layout). Return the new state
(batch, hidden):
    r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)
    z = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)
    n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))
    h' = (1 - z) * n + z * h
""",
        prompt_zh="""
第 5 节中 GRU 的一步，按 `torch.nn.GRUCell` 的方式计算。编写
`gru_step(x, h, w_ih, w_hh, b_ih, b_hh)`：x (batch, n_in) 是输入帧，h (batch, hidden) 是上一步的
状态；w_ih (3 hidden, n_in)、w_hh (3 hidden, hidden)、b_ih 和 b_hh (3 hidden,) 按重置门、更新门、
新门（new gate）的顺序把三部分堆叠在一起（PyTorch 的布局）。返回新的状态 (batch, hidden)：
    r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)
    z = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)
    n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))
    h' = (1 - z) * n + z * h
""",
        reference=_gru_step,
        cases=_gru_cases,
        hints=(
            "Cut each weight matrix and bias into three blocks of `hidden` rows (reset, update, new, in "
            "that order) and compute the two gates before the candidate n.",
            "The reset gate multiplies the whole hidden part of n, its bias b_hn included: that is "
            "PyTorch's convention and the easiest place to differ from it. The update gate z keeps that "
            "share of the old state, and 1 - z of the candidate comes in.",
        ),
        hints_zh=(
            "把每个权重矩阵和偏置切成三块，每块 `hidden` 行（依次为重置门、更新门、新门），先算出两个门，"
            "再算候选状态 n。",
            "重置门乘的是 n 的整个隐藏部分，连偏置 b_hn 也包括在内：这是 PyTorch 的约定，"
            "也是最容易与它不一致的地方。更新门 z 决定保留旧状态的份额，其余 1 - z 来自候选状态。",
        ),
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)
