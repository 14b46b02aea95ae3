"""Exercises of notebook 14 (a voice-command recogniser): the layer mix, exact match, intents from slots."""

from __future__ import annotations

import numpy as np
import torch

from speechlm import voice_commands
from speechlm.corpus import sample_texts
from speechlm.exercises import Exercise, allclose, equal, register
from speechlm.heads import LayerMix

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
        hints=(
            "An utterance counts only if all four of its fields are right.",
            "For each utterance compare the four fields of the prediction with those of the reference; "
            "the score is the number of fully right utterances divided by the number of utterances, a "
            "float. The mean of the four per-field accuracies is a different, kinder number.",
        ),
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
        hints=(
            "Look at the example: which characters of the device change, and what joins the two parts?",
            "Join the action and the device with an underscore, after turning every space inside the "
            "device into an underscore (a Python string has a method that replaces a substring by another).",
        ),
        compare=equal,
    )
)


def _layer_mix(layers: np.ndarray, logits: np.ndarray) -> np.ndarray:
    mix = LayerMix(len(logits), norm=False).double()
    with torch.no_grad():
        mix.layer_logits.copy_(torch.from_numpy(logits))
        return mix(torch.from_numpy(layers)).numpy()


def _mix_cases(rng: np.random.Generator):
    yield (np.arange(12.0).reshape(3, 2, 2), np.zeros(3))  # equal logits: the mean of the layers
    yield (rng.normal(size=(5, 7, 4)), rng.normal(size=5))
    yield (rng.normal(size=(13, 20, 8)), 3 * rng.normal(size=13))
    yield (rng.normal(size=(4, 3, 2)), np.array([1000.0, 999.0, 0.0, -1000.0]))  # no overflow


register(
    Exercise(
        id="14.layer_mix",
        prompt="""
The head of section 2 reads every layer of the encoder, mixed with learned weights. Write
`layer_mix(layers, logits)`: layers (num_layers, time, d) are the encoder's layers (already
normalised), logits (num_layers,) the head's mixing parameters. The weights are
softmax(logits), positive and summing to 1; return the mix sum_l weight_l layers[l], shape
(time, d). Keep it finite for logits around 1000. Compare with `speechlm.heads.LayerMix(norm=False)`.
""",
        reference=_layer_mix,
        cases=_mix_cases,
        hints=(
            "Two steps: turn the logits into weights that are positive and sum to 1, then take the weighted "
            "sum over the layer axis.",
            "The weights are the softmax of the logits, computed with the largest logit subtracted first "
            "(the result is the same, and 1000 does not overflow). Give the weights two trailing axes of "
            "length 1 so that they broadcast against (num_layers, time, d), multiply and sum over axis 0.",
        ),
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)
