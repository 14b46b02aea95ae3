"""The course's speech data: the embedded spoken corpus, and real corpora behind the same interface.

::

    from speechlm import corpus
    utts = corpus.load("embedded", split="train", size=500, seed=0, tasks=None)  # list[Utterance], cached
    u = utts[0]
    u.audio, u.sample_rate        # float32 (num_samples,), 16000
    u.text, u.speaker             # "turn on the kitchen lights", "en-us+Alex:p55:v60:r160:g-3"
    u.words, u.phones             # [(word, start_s, end_s)], [(phone, start_s, end_s)]
    u.labels                      # {"task": "commands", "intent": ..., "zh": ...}
    corpus.synthesize("hello world", speaker=corpus.speakers("test")[0])   # one Utterance, not cached

The embedded corpus is synthesised by eSpeak NG from a small English grammar
(:mod:`~speechlm.corpus.grammar`: digits, smart-home commands, sentiment,
spam, questions, multi-sentence scenes, each sentence with a Chinese
translation), spoken by 198 training, 36 dev and 36 test speakers whose
voices never cross splits (:mod:`~speechlm.corpus.voices`), with exact word
and phone alignments (:data:`PHONES`, 39 ARPAbet phones and "sil").
Introduced in notebook 00.
"""

from __future__ import annotations

from collections.abc import Sequence

from speechlm.corpus.download import CorpusUnavailableError
from speechlm.corpus.embedded import generator_version, load_embedded
from speechlm.corpus.grammar import SPLITS, TASKS, sample_scenes, sample_texts
from speechlm.corpus.phones import PHONES
from speechlm.corpus.synthesis import SAMPLE_RATE, synthesize
from speechlm.corpus.utterance import Utterance
from speechlm.corpus.voices import Speaker, speakers

__all__ = [
    "CORPORA",
    "PHONES",
    "SAMPLE_RATE",
    "SPLITS",
    "TASKS",
    "CorpusUnavailableError",
    "Speaker",
    "Utterance",
    "generator_version",
    "load",
    "sample_scenes",
    "sample_texts",
    "speakers",
    "summarize",
    "synthesize",
]

CORPORA = ("embedded", "fsdd", "speech_commands", "librispeech", "folder")


def load(
    name: str = "embedded",
    split: str = "train",
    size: int | None = None,
    seed: int = 0,
    tasks: Sequence[str] | str | None = None,
    *,
    root=None,
    subset: str | None = None,
    noise_snr_db: float | None = None,
    reverb: bool = False,
    cache: bool = True,
    progress: bool = True,
) -> list[Utterance]:
    """Load a corpus as a list of :class:`Utterance` (16 kHz mono float32).

    - ``"embedded"`` (default, offline): ``size`` utterances (default 500) of
      the ``tasks`` (default all of :data:`TASKS`) drawn with ``seed``, spoken by
      the split's speakers; optional noise at ``noise_snr_db`` dB SNR and room
      reverberation (``reverb=True``), seeded per utterance. Cached on disk
      (``cache=False`` regenerates without touching the cache); a progress bar
      shows while generating (``progress=False`` hides it).
    - ``"fsdd"``, ``"speech_commands"``, ``"librispeech"`` (``subset=``): read from
      ``root`` or downloaded once (needs internet), ``size`` = at most that many
      (a positive int; None: all).
    - ``"folder"``: ``root`` is a folder of audio files with ``.txt`` transcripts;
      ``split`` names its sub-folder ``root/{split}``, or is ``"all"`` for a folder
      without ``train/``, ``dev/`` and ``test/`` sub-folders (read as one set).

    See :mod:`speechlm.corpus.real` and :mod:`speechlm.corpus.folder` for the layouts; a root that
    does not match its layout raises an error naming the root and the layout expected.
    """
    from speechlm.corpus import folder, real

    if name == "embedded":
        return load_embedded(
            split,
            500 if size is None else size,
            seed,
            tasks,
            noise_snr_db=noise_snr_db,
            reverb=reverb,
            cache_files=cache,
            progress=progress,
        )
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; choose one of {CORPORA}")
    if tasks is not None or noise_snr_db is not None or reverb:
        raise ValueError("tasks, noise_snr_db and reverb apply to the embedded corpus only")
    if name == "fsdd":
        return real.load_fsdd(root, split, size, progress)
    if name == "speech_commands":
        return real.load_speech_commands(root, split, size, progress)
    if name == "librispeech":
        return real.load_librispeech(root, split, subset, size, progress)
    return folder.load_folder(root, split, size, progress)


def summarize(utterances: Sequence[Utterance]) -> list[dict]:
    """One row per task: ``{"task", "utterances", "speakers", "mean_s", "total_min", "example"}``."""
    rows: dict[str, dict] = {}
    for u in utterances:
        task = u.labels.get("task", "none")
        row = rows.setdefault(task, {"task": task, "utterances": 0, "speakers": set(), "seconds": 0.0})
        row["utterances"] += 1
        row["speakers"].add(u.speaker)
        row["seconds"] += u.duration_s
        row.setdefault("example", u.text)
    return [
        {
            "task": r["task"],
            "utterances": r["utterances"],
            "speakers": len(r["speakers"]),
            "mean_s": round(r["seconds"] / r["utterances"], 2),
            "total_min": round(r["seconds"] / 60, 2),
            "example": r["example"],
        }
        for r in rows.values()
    ]
