"""Exercises of notebook 10 (speech units): de-duplication, phone purity and PNMI."""

from __future__ import annotations

import numpy as np

from speechlm import units
from speechlm.exercises import Exercise, allclose, equal, register


def _dedup_reference(unit_ids: np.ndarray) -> list[int]:
    return units.deduplicate(unit_ids)[0].tolist()


def _dedup_cases(rng: np.random.Generator):
    yield (np.array([5, 5, 5, 2, 2, 5]),)
    yield (np.array([7]),)
    yield (np.array([1, 2, 3, 4]),)
    yield (rng.integers(0, 3, size=40),)


def _label_cases(rng: np.random.Generator):
    yield (np.array(["a", "a", "a", "b"]), np.array([0, 0, 1, 1]))
    yield (np.array(["a", "b", "c", "a", "b", "c"]), np.array([4, 5, 6, 4, 5, 6]))
    phones = rng.integers(0, 5, size=300)
    yield (np.array(list("aeiou"))[phones], (phones * 2 + rng.integers(0, 3, size=300)) % 9)
    yield (np.array(list("xyz"))[rng.integers(0, 3, size=200)], rng.integers(0, 4, size=200))


register(
    Exercise(
        id="10.dedup",
        prompt="""
Write `dedup(unit_ids)` that collapses runs of repeated units in a 1-D NumPy
array of ints and returns the result as a Python list:
[5, 5, 5, 2, 2, 5] -> [5, 2, 5]. (This is what GSLM feeds its unit language model.)
""",
        reference=_dedup_reference,
        cases=_dedup_cases,
        hint="Keep element i when i == 0 or unit_ids[i] != unit_ids[i - 1]; "
        "in NumPy: unit_ids[np.concatenate(([True], unit_ids[1:] != unit_ids[:-1]))].",
        compare=equal,
    )
)

register(
    Exercise(
        id="10.phone_purity",
        prompt="""
Write `phone_purity(phones, unit_ids)`: for every unit, find the phone it is
most often paired with; phone purity is the fraction of all frames whose
phone is that most frequent phone of their unit, i.e. sum_z max_y p(y, z).
`phones` is a 1-D array of strings, `unit_ids` a 1-D array of ints, one per frame.
""",
        reference=lambda phones, unit_ids: units.unit_quality(phones, unit_ids).phone_purity,
        cases=_label_cases,
        hint="Loop over np.unique(unit_ids); for each unit count its phones with np.unique(..., "
        "return_counts=True) and add the largest count; divide the total by the number of frames.",
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)

register(
    Exercise(
        id="10.pnmi",
        prompt="""
Write `pnmi(phones, unit_ids)`: the phone-normalised mutual information
I(y; z) / H(y), with p(y, z) the fraction of frames with phone y and unit z.
Use natural logarithms (the ratio does not depend on the base); skip the
pairs with p(y, z) = 0.
""",
        reference=lambda phones, unit_ids: units.unit_quality(phones, unit_ids).pnmi,
        cases=_label_cases,
        hint="Build the joint count table with np.unique(..., return_inverse=True) and np.add.at; "
        "normalise it; I = sum p(y,z) log(p(y,z) / (p(y) p(z))) over non-zero cells; "
        "H(y) = -sum p(y) log p(y).",
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)
