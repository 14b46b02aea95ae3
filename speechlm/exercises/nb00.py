"""Exercises of notebook 00 (welcome): how the checker works."""

from __future__ import annotations

import numpy as np

from speechlm.exercises import Exercise, allclose, register


def _power_to_db(power: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(power, 1e-10))


def _db_cases(rng: np.random.Generator):
    yield (np.array([1.0, 10.0, 100.0]),)
    yield (np.array([0.0, 1e-12, 0.5]),)
    yield (rng.uniform(0.0, 5.0, size=(3, 7)),)


register(
    Exercise(
        id="00.db",
        prompt="""
Write `power_to_db(power)` that converts a power spectrum (a NumPy array of
non-negative numbers, any shape) to decibels: 10 * log10(power), with the
power floored at 1e-10 first so that silence gives -100 dB instead of -inf.
""",
        reference=_power_to_db,
        cases=_db_cases,
        hint="np.log10 works element-wise; floor with np.maximum(power, 1e-10) before taking the log.",
        compare=allclose(rtol=1e-6, atol=1e-6),
    )
)
