"""Voice commands: intent and slots, straight from speech (spoken language understanding; notebook 14).

A smart speaker maps "turn on the kitchen lights" to ``intent="activate_lights"``,
``action="activate"``, ``device="lights"``, ``room="kitchen"`` (``"none"`` when
no room is said). :class:`SLUModel` reads the log-mel frames with a
:class:`~speechlm.ssl.SpeechEncoder`, mixes its layers with learned softmax
weights (as SUPERB does), and gives each field its own attentive pooling (a
learned query that looks for the frames of its words, e.g. "kitchen" for the
room) and its own classifier. :func:`train_slu` trains the head on a frozen
encoder, or everything end to end; :func:`predict` turns audio into a dict of
labels with probabilities; :func:`slu_scores` measures per-field accuracy
and exact match (every field right).
"""

from speechlm.voice_commands.data import FIELDS, SlotVocab, SLUItem, compose_intent, prepare_slu
from speechlm.voice_commands.inference import decode, evaluate, predict, predict_items, recognise
from speechlm.voice_commands.metrics import majority_baseline, slu_scores, top_confusions
from speechlm.voice_commands.model import SLUHead, SLUModel
from speechlm.voice_commands.training import SLUConfig, train_slu

__all__ = [
    "FIELDS",
    "SLUConfig",
    "SLUHead",
    "SLUItem",
    "SLUModel",
    "SlotVocab",
    "compose_intent",
    "decode",
    "evaluate",
    "majority_baseline",
    "predict",
    "predict_items",
    "prepare_slu",
    "recognise",
    "slu_scores",
    "top_confusions",
    "train_slu",
]
