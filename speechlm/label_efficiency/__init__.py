"""Label efficiency: how many labelled utterances does pretraining save? (notebook 12)

Two curves, each comparing the pretrained encoder with the same architecture trained from scratch:

- :func:`ctc_curve`: character-level CTC recognition after training on ``budget`` labelled
  utterances, for several budgets (:class:`CTCCurveRecipe`);
- :func:`shots_curve`: spoken digit words with 1, 3 or 10 labelled utterances per class, a pooled
  utterance classifier on the encoder (:class:`ShotsRecipe`).

Notebook 12 computes the sharpest point, one labelled recording per digit (:data:`NOTEBOOK_SHOTS`,
about a minute); the CTC curve (25, 50 and 100 labelled utterances, about 8 minutes on 2 cores) and
the whole digit-word curve are ``benchmarks/label_efficiency.py``'s.

The rules that make the comparison fair are the same for both arms: the same head, the same number
of training steps, the same grid of learning rates, the same SpecAugment masks, the checkpoint and
the learning rate chosen on dev speakers, the error measured on unseen test speakers. The one
difference is the standard way of starting from a pretrained encoder: it stays frozen for the first
``freeze_fraction`` of the steps, so that the randomly initialised head does not wreck its features
with large early gradients, and then trains like the scratch encoder, which trains from step 1
(freezing a random encoder would only handicap the baseline). ``benchmarks/README.md`` records the
recipes tried.

:func:`load_ctc_curve` and :func:`load_shots_curve` compute the curves of the course's pretrained
encoder on the embedded corpus on first use (minutes; in two processes where two cores and 4 GB
exist, else one at a time: :func:`~speechlm.workers.default_workers`) and
cache the numbers as JSON, keyed by every setting and by the encoder's own cache key (a class's
shared cache, ``$SPEECHLM_SHARED_CACHE``, is read too).

Modules: :mod:`~speechlm.label_efficiency.ctc_budgets` (the CTC curve),
:mod:`~speechlm.label_efficiency.word_shots` (the digit-word curve),
:mod:`~speechlm.label_efficiency.arms` (what the two arms share and how they differ) and
:mod:`~speechlm.label_efficiency.cache` (the cache's file names and its damaged-file handling); the
course's cached curves are loaded here. The helpers that only the benchmarks use (the label ratio,
the Markdown tables, another encoder against the course's) are in ``benchmarks/ctc_curves.py``.
"""

from __future__ import annotations

import torch

from speechlm.ctc import ALPHABET, CharVocab
from speechlm.features import log_mel_features
from speechlm.finetune import prepare
from speechlm.label_efficiency.cache import CTC_DATA, SHOTS_DATA, _cached, cache_name, curve_settings
from speechlm.label_efficiency.ctc_budgets import CTCCurveRecipe, check_budgets, ctc_curve
from speechlm.label_efficiency.word_shots import NOTEBOOK_SHOTS, ShotsRecipe, shots_curve

__all__ = [
    "CTC_DATA",
    "NOTEBOOK_SHOTS",
    "SHOTS_DATA",
    "CTCCurveRecipe",
    "ShotsRecipe",
    "cache_name",
    "check_budgets",
    "course_ctc_items",
    "ctc_curve",
    "curve_settings",
    "digit_words",
    "load_ctc_curve",
    "load_shots_curve",
    "shots_curve",
]


def load_ctc_curve(
    recipe: CTCCurveRecipe | None = None, encoder: str = "hubert", *, progress: bool = True
) -> dict:
    """The CTC curve (:func:`ctc_curve`) of the course's pretrained ``encoder`` on the embedded
    corpus: the first ``budget`` utterances of its training split, 60 dev and 120 test utterances
    (unseen speakers); ``recipe`` defaults to the benchmark's (:class:`CTCCurveRecipe`: 25, 50 and 100
    labels, about 8 minutes on 2 cores). Computed on first use and cached; returns
    ``{"rows", "settings", "seconds"}``."""
    from speechlm import pretrained

    recipe = recipe or CTCCurveRecipe()
    settings = curve_settings("ctc", recipe, encoder)

    def compute():
        enc = pretrained.load(encoder, progress=progress)
        return ctc_curve(enc, *course_ctc_items(max(recipe.budgets), progress), recipe, progress=progress)

    return _cached("ctc", settings, compute, progress)


def course_ctc_items(n_labelled: int, progress: bool = False) -> tuple[list, list, list]:
    """The data of the course's CTC curve: the first ``n_labelled`` utterances of the embedded
    corpus's training split, 60 dev and 120 test utterances (unseen speakers), as
    :class:`~speechlm.finetune.ASRItem` lists ``(labelled, dev, test)``."""
    from speechlm import corpus

    vocab = CharVocab(ALPHABET)
    seed = CTC_DATA["corpus_seed"]

    def items(split, size):
        return prepare(corpus.load("embedded", split=split, size=size, seed=seed, progress=progress), vocab)

    return items("train", n_labelled), items("dev", CTC_DATA["n_dev"]), items("test", CTC_DATA["n_test"])


def digit_words(
    split: str, size: int, seed: int = 0, progress: bool = False
) -> tuple[list[torch.Tensor], list[int]]:
    """The isolated digit words among ``size`` digits-task utterances of the embedded corpus's
    ``split``: ``(log-mel tensors, digits 0-9)``."""
    from speechlm import corpus

    utts = corpus.load("embedded", split=split, size=size, seed=seed, tasks="digits", progress=progress)
    utts = [u for u in utts if "digit" in u.labels]
    return [log_mel_features(u.audio, u.sample_rate) for u in utts], [int(u.labels["digit"]) for u in utts]


def load_shots_curve(
    recipe: ShotsRecipe | None = None, encoder: str = "hubert", *, progress: bool = True
) -> dict:
    """The digit-word curve (:func:`shots_curve`) of the course's pretrained ``encoder`` on the
    embedded corpus (labelled utterances drawn from the training split; dev and test speakers
    unseen); ``recipe`` defaults to notebook 12's one shot per digit, :data:`NOTEBOOK_SHOTS`
    (``ShotsRecipe()`` is the benchmark's whole curve). Computed on first use and cached; returns
    ``{"rows", "settings", "seconds"}``."""
    from speechlm import pretrained

    recipe = recipe or NOTEBOOK_SHOTS
    settings = curve_settings("shots", recipe, encoder)

    def compute():
        seed = SHOTS_DATA["corpus_seed"]
        data = [digit_words(s, SHOTS_DATA[f"n_{s}"], seed, progress) for s in ("train", "dev", "test")]
        return shots_curve(pretrained.load(encoder, progress=progress), *data, recipe, progress=progress)

    return _cached("shots", settings, compute, progress)
