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
        hints=(
            "For each lag k, pair every sample with the one k places later and add up the products.",
            "For a frame of N samples only n = 0 ... N - 1 - k have a partner x[n + k] (no wrapping around: "
            "the frame is zero outside). The answer has max_lag + 1 entries, and r[0] is the frame's energy.",
        ),
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
        hints=(
            "Follow the recursion of the statement line by line, one loop pass per m. Check yourself on "
            "order 1 first: the answer is [1, -r[1] / r[0]].",
            "Keep a as a float array of length order + 1 that starts as [1, 0, ..., 0]. In pass m the new "
            "a_i use the old a_i and a_{m-i} on the right-hand side: compute all of them from the previous "
            "coefficients (a copy) before overwriting any. E shrinks by the factor (1 - k^2) every pass.",
            "Signs: a is the prediction-error filter A(z), so a_1 is negative for a signal that resembles "
            "its previous sample (the predictor's coefficient is -a_1).",
        ),
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
        hints=(
            "You need two numbers: the frame's energy r[0] and the error energy E that the order-`order` "
            "predictor leaves. The package computes both.",
            "speechlm.dsp.levinson_durbin returns the error energy as the third of its three values. The "
            "gain is the energy ratio r[0] / E in dB, ten times its base-10 logarithm: positive when "
            "prediction removes energy.",
        ),
        compare=allclose(rtol=1e-6, atol=1e-9),
    )
)
