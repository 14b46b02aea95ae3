"""Exercises of notebook 01 (speech signals): frame counts, aliasing, the Hann window."""

from __future__ import annotations

import numpy as np

from speechlm import dsp
from speechlm.exercises import Exercise, allclose, equal, register


def _frame_count_cases(rng: np.random.Generator):
    yield (16000, 400, 160, False)
    yield (16000, 400, 160, True)
    yield (400, 400, 100, False)
    yield (1000, 512, 128, True)
    for _ in range(6):
        length = int(rng.integers(64, 1024))
        yield (
            int(rng.integers(length, 50000)),
            length,
            int(rng.integers(1, length + 1)),
            bool(rng.random() < 0.5),
        )


def _alias_frequency(f_hz: float, sr: float) -> float:
    return float(abs(f_hz - sr * np.round(f_hz / sr)))


def _alias_cases(rng: np.random.Generator):
    yield (5000.0, 8000.0)
    yield (1000.0, 16000.0)
    yield (15000.0, 16000.0)
    yield (44100.0 + 300.0, 44100.0)
    for _ in range(6):
        sr = float(rng.choice([8000.0, 16000.0, 22050.0]))
        yield (float(rng.uniform(0, 3 * sr)), sr)


def _hann_cases(rng: np.random.Generator):
    yield (8,)
    yield (1,)
    yield (400,)
    yield (int(rng.integers(2, 2048)),)


register(
    Exercise(
        id="01.frame_count",
        prompt="""
Write `frame_count(n_samples, frame_length, hop_length, center)` that returns
how many frames `speechlm.dsp.frame` makes (an int). Without centring, frame t
covers samples t*hop_length ... t*hop_length + frame_length - 1 and must fit in
the signal. With center=True the signal is first padded with frame_length // 2
samples on each side. Assume n_samples >= frame_length.
""",
        reference=lambda n, length, hop, center: dsp.n_frames(n, length, hop, center=center),
        cases=_frame_count_cases,
        hint="Without centring: 1 + (n_samples - frame_length) // hop_length. "
        "With centring, add 2 * (frame_length // 2) to n_samples first.",
        compare=equal,
    )
)

register(
    Exercise(
        id="01.alias",
        prompt="""
Write `alias_frequency(f_hz, sr)`: the frequency in [0, sr / 2] at which a
sinusoid of frequency f_hz appears after sampling at sr Hz (without an
anti-aliasing filter). Sampling cannot tell f from f - k * sr for any integer k,
nor f from -f, so the answer is the distance from f to the nearest multiple of sr.
""",
        reference=_alias_frequency,
        cases=_alias_cases,
        hint="abs(f_hz - sr * round(f_hz / sr)).",
        compare=allclose(rtol=1e-9, atol=1e-6),
    )
)

register(
    Exercise(
        id="01.hann",
        prompt="""
Write `hann(length)`: the periodic Hann window w[n] = 0.5 - 0.5 cos(2 pi n / length)
for n = 0 .. length - 1, as a NumPy array. (Periodic, or "DFT-even": its
period is `length`, so it tiles perfectly with 50% overlap; it is what
`scipy.signal.get_window("hann", length)` and librosa use.)
""",
        reference=lambda length: np.array(dsp.get_window("hann", length)),
        cases=_hann_cases,
        hint="n = np.arange(length); return 0.5 - 0.5 * np.cos(2 * np.pi * n / length).",
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)
