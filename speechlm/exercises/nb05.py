"""Exercises of notebook 05 (CNNs and GRUs): output lengths, receptive fields and masked pooling."""

from __future__ import annotations

import numpy as np

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
        reference=_conv_output_length,
        cases=_conv_cases,
        hint="The kernel spans dilation * (kernel_size - 1) + 1 frames; count how many stride-spaced "
        "positions fit in length + 2 * padding frames (floor division).",
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
        reference=_masked_mean,
        cases=_mm_cases,
        hint="Build mask = np.arange(time)[None, :] < lengths[:, None]; sum x * mask[..., None] over "
        "time and divide by max(lengths, 1).",
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
        reference=_receptive_field,
        cases=_rf_cases,
        hint="Track two numbers layer by layer: the field (starts at 1) and the jump, the distance in input "
        "frames between neighbouring positions of the current layer (starts at 1). A layer adds "
        "(kernel - 1) * dilation * jump to the field, then multiplies the jump by its stride.",
        compare=equal,
    )
)
