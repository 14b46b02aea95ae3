"""Exercises of notebook 02 (linear prediction): autocorrelation, Levinson-Durbin, prediction gain."""

from __future__ import annotations

import numpy as np
import scipy.signal

from speechlm import dsp
from speechlm.exercises import Exercise, allclose, register


def _frames(rng: np.random.Generator):
    vowel = dsp.synthetic_vowel(f0_hz=float(rng.uniform(90, 250)), duration_s=0.1)
    yield vowel[400:800] * np.hamming(400)
    ar = scipy.signal.lfilter([1.0], [1.0, -1.2, 0.6], rng.standard_normal(600))
    yield ar
    yield rng.standard_normal(64)


def _autocorrelation_cases(rng: np.random.Generator):
    yield (np.array([1.0, 2.0, 3.0]), 2)
    yield from zip(_frames(rng), (12, 4, 10), strict=True)


def _levinson_cases(rng: np.random.Generator):
    for x, order in zip(_frames(rng), (12, 2, 6), strict=True):
        yield (dsp.autocorrelation(x, order), order)
    yield (np.array([2.0, 1.0]), 1)


def _prediction_gain(x: np.ndarray, order: int) -> float:
    r = dsp.autocorrelation(x, order)
    return float(10.0 * np.log10(r[0] / dsp.levinson_durbin(r, order)[2]))


register(
    Exercise(
        id="02.autocorrelation",
        prompt="""
Write `autocorrelation(x, max_lag)` returning the array
r[k] = sum_n x[n] x[n + k] for k = 0 .. max_lag (length max_lag + 1), for a
1-D frame x. This is the (biased) autocorrelation of the autocorrelation method.
""",
        reference=dsp.autocorrelation,
        cases=_autocorrelation_cases,
        hint="np.array([np.dot(x[: len(x) - k], x[k:]) for k in range(max_lag + 1)]).",
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)

register(
    Exercise(
        id="02.levinson",
        prompt="""
Write `levinson(r, order)` that solves the normal equations with the
Levinson-Durbin recursion and returns a = [1, a_1, ..., a_order] (the
prediction-error filter A(z), librosa's sign convention). Start with
a = [1], E = r[0]; for m = 1 .. order:
    k = -(r[m] + sum_{i=1}^{m-1} a_i r[m - i]) / E
    a_i <- a_i + k a_{m-i} for i = 1 .. m-1, then a_m = k
    E <- (1 - k^2) E
""",
        reference=lambda r, order: dsp.levinson_durbin(r, order)[0],
        cases=_levinson_cases,
        hint="Keep a as a NumPy array of length order + 1. Inside the loop compute "
        "acc = r[m] + a[1:m] @ r[m-1:0:-1], k = -acc / E, then "
        "a[1:m] = a[1:m] + k * a[m-1:0:-1] (the right side is evaluated before assigning), a[m] = k.",
        compare=allclose(rtol=1e-8, atol=1e-10),
    )
)

register(
    Exercise(
        id="02.prediction_gain",
        prompt="""
Write `prediction_gain(x, order)`: how much an order-`order` linear predictor
reduces the energy of the frame x, in dB: 10 log10(r[0] / E), where r[0] is the
frame's energy and E the prediction error energy that Levinson-Durbin leaves.
You may use speechlm.dsp.autocorrelation and speechlm.dsp.levinson_durbin
(which returns a, k and E).
""",
        reference=_prediction_gain,
        cases=lambda rng: ((x, order) for x, order in zip(_frames(rng), (12, 2, 8), strict=True)),
        hint="r = dsp.autocorrelation(x, order); a, k, error = dsp.levinson_durbin(r, order); "
        "return 10 * np.log10(r[0] / error).",
        compare=allclose(rtol=1e-6, atol=1e-9),
    )
)
