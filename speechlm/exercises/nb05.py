"""Exercises of notebook 05 (CNNs and GRUs): output lengths, masked pooling and a GRU cell."""

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
Write `masked_mean(x, lengths)`: x is a padded batch (batch, time, channels) and lengths (batch,)
the number of real frames of each item. Return (batch, channels): the mean over the real frames
only. An item of length 0 gives zeros. Use NumPy (no loop over time steps needed).
""",
        reference=_masked_mean,
        cases=_mm_cases,
        hint="Build mask = np.arange(time)[None, :] < lengths[:, None]; sum x * mask[..., None] over "
        "time and divide by max(lengths, 1).",
        compare=allclose(rtol=1e-6, atol=1e-9),
    )
)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    i_r, i_z, i_n = np.split(gi, 3, axis=1)
    h_r, h_z, h_n = np.split(gh, 3, axis=1)
    r, z = _sigmoid(i_r + h_r), _sigmoid(i_z + h_z)
    n = np.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h


def _gru_cases(rng):
    for batch, n_in, hidden in ((1, 1, 1), (2, 3, 4), (5, 6, 3)):
        yield (
            rng.standard_normal((batch, n_in)),
            rng.standard_normal((batch, hidden)),
            rng.standard_normal((3 * hidden, n_in)),
            rng.standard_normal((3 * hidden, hidden)),
            rng.standard_normal(3 * hidden),
            rng.standard_normal(3 * hidden),
        )


register(
    Exercise(
        id="05.gru_cell",
        prompt="""
Write one step of a GRU, `gru_cell(x, h, w_ih, w_hh, b_ih, b_hh)`, exactly as torch.nn.GRUCell:
x (batch, n_in), h (batch, hidden), w_ih (3*hidden, n_in), w_hh (3*hidden, hidden), biases (3*hidden,),
the three row blocks being (reset r, update z, new n):
  r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)
  z = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)
  n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))
  h' = (1 - z) * n + z * h
Return h' (batch, hidden).
""",
        reference=_gru_cell,
        cases=_gru_cases,
        hint="Compute gi = x @ w_ih.T + b_ih and gh = h @ w_hh.T + b_hh, split each into three blocks "
        "with np.split(..., 3, axis=1); note r multiplies the hidden part of n only.",
        compare=allclose(rtol=1e-6, atol=1e-9),
    )
)
