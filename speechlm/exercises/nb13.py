"""Exercises of notebook 13 (spoken language model): unit frames, the Griffin-Lim update, joint sequences."""

from __future__ import annotations

import numpy as np

from speechlm import slm
from speechlm.exercises import Exercise, allclose, equal, register


def _unit_frames(units: list[int], durations: list[int]) -> list[int]:
    return slm.unit_frames(np.asarray(units), np.asarray(durations)).tolist()


def _unit_frame_cases(rng: np.random.Generator):
    yield ([3, 1], [2, 1])
    yield ([7], [1])
    n = int(rng.integers(2, 12))
    yield ([int(x) for x in rng.integers(0, 100, n)], [int(x) for x in rng.integers(1, 6, n)])


def _phase_update(rebuilt: np.ndarray, previous: np.ndarray, magnitude: np.ndarray, momentum: float):
    update = rebuilt - momentum / (1 + momentum) * previous
    return magnitude * update / (np.abs(update) + 1e-16)


def _phase_cases(rng: np.random.Generator):
    def complex_array(shape):
        return rng.normal(size=shape) + 1j * rng.normal(size=shape)

    yield (np.array([1 + 1j, -2.0]), np.zeros(2, complex), np.array([2.0, 3.0]), 0.99)
    for momentum in (0.0, 0.5, 0.99):
        shape = (int(rng.integers(1, 5)), int(rng.integers(1, 9)))
        yield (complex_array(shape), complex_array(shape), rng.uniform(0, 2, shape), momentum)


def _joint_sequence(text_ids: list[int], units: list[int], n_text: int) -> list[int]:
    return slm.JointVocabulary([f"w{i}" for i in range(n_text)], 100).sequence(
        [f"w{i}" for i in text_ids], units
    )


def _joint_cases(rng: np.random.Generator):
    yield ([0, 1], [5, 9], 2)
    yield ([4], [0], 10)
    n_text = int(rng.integers(5, 50))
    yield (
        [int(x) for x in rng.integers(0, n_text, 4)],
        [int(x) for x in rng.integers(0, 100, int(rng.integers(1, 20)))],
        n_text,
    )


register(
    Exercise(
        id="13.unit_frames",
        prompt="""
Write `unit_frames(units, durations)`: the vocoder's frame-level units. `units` and
`durations` are lists of equal length (durations in 20 ms unit frames); the STFT has a
10 ms hop, so each unit fills 2 * duration STFT frames. Return a list of ints:
unit_frames([3, 1], [2, 1]) -> [3, 3, 3, 3, 1, 1].
""",
        reference=_unit_frames,
        cases=_unit_frame_cases,
        hint="np.repeat(units, 2 * np.asarray(durations)).tolist(), or two nested loops.",
        compare=equal,
    )
)

register(
    Exercise(
        id="13.phase_update",
        prompt="""
Write `phase_update(rebuilt, previous, magnitude, momentum)`, one step of fast
Griffin-Lim. `rebuilt` is the complex STFT of the current signal, `previous` the one
of the step before, `magnitude` the target magnitudes (all of one shape). Subtract
momentum / (1 + momentum) times `previous` from `rebuilt`, keep only the phase of the
result (divide by its absolute value plus 1e-16) and give it the target magnitude.
""",
        reference=_phase_update,
        cases=_phase_cases,
        hint="update = rebuilt - momentum / (1 + momentum) * previous; "
        "return magnitude * update / (np.abs(update) + 1e-16).",
        compare=allclose(rtol=1e-7, atol=1e-9),
    )
)

register(
    Exercise(
        id="13.joint_sequence",
        prompt="""
Write `joint_sequence(text_ids, units, n_text)` for the joint vocabulary with ids
0 = <eos>, 1 = <text>, 2 = <speech>, then `n_text` text tokens (text token i has id
3 + i), then 100 unit tokens (unit u has id 3 + n_text + u). Return the list
[<eos>, <text>, text tokens..., <speech>, unit tokens..., <eos>] as ids.
""",
        reference=_joint_sequence,
        cases=_joint_cases,
        hint="[0, 1] + [3 + i for i in text_ids] + [2] + [3 + n_text + u for u in units] + [0].",
        compare=equal,
    )
)
