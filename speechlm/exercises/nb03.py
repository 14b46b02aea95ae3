"""Exercises of notebook 03 (MFCC): the HTK mel scale, liftering, deltas and DTW."""

from __future__ import annotations

import numpy as np

from speechlm import dsp
from speechlm.exercises import Exercise, allclose, register


def _mel_cases(rng: np.random.Generator):
    yield (0.0,)
    yield (700.0,)
    yield (np.array([100.0, 1000.0, 4000.0, 8000.0]),)
    yield (rng.uniform(0, 11025, size=20),)


def _lifter_cases(rng: np.random.Generator):
    yield (np.ones((2, 13)), 22.0)
    yield (rng.standard_normal((50, 13)), 22.0)
    yield (rng.standard_normal((7, 20)), 12.0)


def _deltas_cases(rng: np.random.Generator):
    yield (np.arange(10.0)[:, None],)
    yield (rng.standard_normal((40, 13)),)
    yield (rng.standard_normal((3, 2)),)


def _dtw_cases(rng: np.random.Generator):
    yield (np.array([[0.0], [1.0], [2.0]]), np.array([[0.0], [0.0], [1.0], [2.0], [2.0]]))
    yield (rng.standard_normal((12, 3)), rng.standard_normal((17, 3)))
    yield (rng.standard_normal((1, 4)), rng.standard_normal((6, 4)))
    yield (rng.standard_normal((25, 13)), rng.standard_normal((20, 13)))


register(
    Exercise(
        id="03.mel_htk",
        prompt="""
Write `hz_to_mel_htk(f)`: the HTK mel scale, mel = 2595 log10(1 + f / 700),
for a number or a NumPy array of frequencies in Hz.
""",
        reference=lambda f: dsp.hz_to_mel(f, htk=True),
        cases=_mel_cases,
        hint="2595 * np.log10(1 + np.asarray(f) / 700).",
        compare=allclose(rtol=1e-9, atol=1e-9),
    )
)

register(
    Exercise(
        id="03.lifter",
        prompt="""
Write `lifter(cepstra, L)`: Kaldi/HTK sinusoidal liftering of cepstra with
shape (n_frames, n_ceps): coefficient n (counted from 0, so c0 stays as it is)
is multiplied by 1 + (L / 2) sin(pi n / L).
""",
        reference=lambda c, L: dsp.lifter(c, L),
        cases=_lifter_cases,
        hint="n = np.arange(cepstra.shape[-1]); return cepstra * (1 + L / 2 * np.sin(np.pi * n / L)).",
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)

register(
    Exercise(
        id="03.deltas",
        prompt="""
Write `deltas(features)` for features of shape (n_frames, n_features): the
regression deltas with N = 2,
    d_t = (1 (c_{t+1} - c_{t-1}) + 2 (c_{t+2} - c_{t-2})) / (2 (1^2 + 2^2)),
where frames before the first and after the last repeat the edge frame.
""",
        reference=lambda x: dsp.deltas(x, 2),
        cases=_deltas_cases,
        hint="Pad with np.concatenate([x[:1], x[:1], x, x[-1:], x[-1:]]) and take shifted slices: "
        "p[3:-1] - p[1:-3] for n = 1 and p[4:] - p[:-4] for n = 2; divide the sum by 10.",
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)

register(
    Exercise(
        id="03.dtw",
        prompt="""
Write `dtw_cost(x, y)`: the total cost of the best dynamic-time-warping
alignment of two feature sequences x (N, d) and y (M, d), with Euclidean local
costs C[i, j] = ||x_i - y_j|| and steps (1, 0), (0, 1), (1, 1):
    D[i, j] = C[i, j] + min(D[i-1, j], D[i, j-1], D[i-1, j-1]),  D[0, 0] = C[0, 0],
and return D[N-1, M-1] (a float, not normalised).
""",
        reference=lambda x, y: dsp.dtw(x, y)[0],
        cases=_dtw_cases,
        hint="Build C with np.linalg.norm(x[:, None] - y[None], axis=-1); fill D of shape (N + 1, M + 1) "
        "with np.inf except D[0, 0] = 0, then two loops: D[i+1, j+1] = C[i, j] + min(D[i, j+1], "
        "D[i+1, j], D[i, j]); return D[N, M].",
        compare=allclose(rtol=1e-9, atol=1e-9),
    )
)
