"""Exercises of notebook 14 (a voice-command recogniser): exact match, intents from slots, noise at an SNR."""

from __future__ import annotations

import math

import numpy as np

from speechlm import voice_commands
from speechlm.corpus import sample_texts
from speechlm.exercises import Exercise, allclose, equal, register

_FIELDS = ("intent", "action", "device", "room")


def _exact_match(predictions: list[dict], references: list[dict]) -> float:
    return voice_commands.slu_scores(predictions, references, _FIELDS)["exact_match"]


def _exact_match_cases(rng: np.random.Generator):
    refs = [item["labels"] for item in sample_texts("test", size=12, seed=4, tasks="commands")]
    yield ([dict(r) for r in refs], refs)
    yield ([{**r, "room": "none"} for r in refs], refs)
    for _ in range(3):
        preds = []
        for r in refs:
            wrong = rng.choice(_FIELDS) if rng.random() < 0.5 else None
            preds.append({f: (r[f] if f != wrong else "garage") for f in _FIELDS})
        yield (preds, refs)


def _compose_cases(rng: np.random.Generator):
    yield ("lock", "back door")
    yield ("activate", "lights")
    yield ("set", "temperature")
    for item in sample_texts("dev", size=5, seed=int(rng.integers(100)), tasks="commands"):
        yield (item["labels"]["action"], item["labels"]["device"])


def _noise_gain(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> float:
    return math.sqrt(
        float(np.sum(clean.astype(np.float64) ** 2)) / (float(np.sum(noise**2)) * 10 ** (snr_db / 10))
    )


def _gain_cases(rng: np.random.Generator):
    t = np.arange(8000) / 16000
    yield (0.5 * np.sin(2 * np.pi * 220 * t), rng.standard_normal(8000), 0.0)
    yield (0.1 * np.sin(2 * np.pi * 440 * t), rng.standard_normal(8000), 20.0)
    yield (rng.standard_normal(4000) * 0.2, rng.standard_normal(4000) * 3.0, -5.0)
    yield (rng.standard_normal(4000) * 0.05, rng.uniform(-1, 1, 4000), 10.0)


register(
    Exercise(
        id="14.exact_match",
        prompt="""
Write `exact_match(predictions, references)`: both are lists of dicts with the
fields "intent", "action", "device" and "room" (strings). Return the share of
utterances whose four fields are all right, a float in [0, 1]. A command with
the right intent but the wrong room is a wrong command: the speaker locks the
wrong door.
""",
        reference=_exact_match,
        cases=_exact_match_cases,
        hint="Count the i where all(predictions[i][f] == references[i][f] for f in fields); divide by len.",
        compare=allclose(rtol=0, atol=1e-12),
    )
)

register(
    Exercise(
        id="14.compose_intent",
        prompt="""
Write `compose_intent(action, device)`: the corpus's intent label of an action
and a device, the action, an underscore, then the device with its spaces
turned into underscores: ("lock", "back door") -> "lock_back_door". With it,
a recogniser can answer the intent from its action and device slots instead of
a separate 57-way intent classifier.
""",
        reference=voice_commands.compose_intent,
        cases=_compose_cases,
        hint="f\"{action}_{device.replace(' ', '_')}\"",
        compare=equal,
    )
)

register(
    Exercise(
        id="14.noise_gain",
        prompt="""
Write `noise_gain(clean, noise, snr_db)`: the factor g by which to multiply
`noise` so that clean + g * noise has the SNR `snr_db` over the whole clip,
SNR = 10 log10(sum(clean**2) / sum((g * noise)**2)). Both arrays have the same
length. This is the heart of `speechlm.augment.add_noise`.
""",
        reference=_noise_gain,
        cases=_gain_cases,
        hint="Solve for g: g**2 = sum(clean**2) / (sum(noise**2) * 10 ** (snr_db / 10)), then take the root.",
        compare=allclose(rtol=1e-9, atol=0),
    )
)
