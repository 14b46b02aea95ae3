"""The two arms of every label-efficiency comparison (notebook 12): the pretrained encoder, frozen for
the first ``freeze_fraction`` of the steps, and the same architecture freshly initialised, which trains
from step 1. Both curves run their jobs through these: :mod:`~speechlm.label_efficiency.ctc_budgets`
and :mod:`~speechlm.label_efficiency.word_shots`."""

from __future__ import annotations

import torch

from speechlm.ssl.encoder import SpeechEncoder


def _encoder_for(job: dict) -> SpeechEncoder:
    """The job's encoder: the pretrained weights, or the same architecture freshly initialised (the
    same draw for every job of a recipe). Also sets the worker's torch threads."""
    if job["threads"]:
        torch.set_num_threads(job["threads"])
    if job["arm"] != "pretrained":
        torch.manual_seed(job["recipe"].seed + 12345)
    encoder = SpeechEncoder(job["config"])
    if job["arm"] == "pretrained":
        encoder.load_state_dict(job["state"])
    return encoder


def _freeze_steps(arm: str, recipe) -> int:
    return round(recipe.freeze_fraction * recipe.steps) if arm == "pretrained" else 0


def _encoder_lrs(arm: str, recipe) -> tuple[float, ...]:
    """The encoder learning rates an arm tries: one run suffices for an encoder frozen throughout."""
    return recipe.encoder_lrs[:1] if _freeze_steps(arm, recipe) >= recipe.steps else recipe.encoder_lrs
