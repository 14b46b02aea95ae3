"""The embedded corpus: grammar sentences spoken by the split's speakers, cached on disk.

:func:`load_embedded` is what ``corpus.load("embedded", ...)`` runs. The
sentences come from :func:`speechlm.corpus.grammar.sample_texts`, each
utterance's speaker from a generator seeded by ``(seed, split)`` (all
sentences of one scene share a speaker, a narrator), and the optional noise
and reverberation from a generator seeded by ``(seed, split, index)``. So
the same arguments give the same corpus, bit for bit, and every utterance
is reproducible on its own. One call gives at most :data:`MAX_SIZE`
utterances (50,000: about 6.5 GB of memory at about 130 kB per 2 s
utterance, and 4-5 minutes to generate on 2 cores).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from speechlm.augment import check_snr_db
from speechlm.corpus import augment, cache, grammar
from speechlm.corpus.synthesis import SYNTHESIS_VERSION, quantize, synthesize_many
from speechlm.corpus.utterance import Utterance
from speechlm.corpus.voices import speakers

__all__ = ["MAX_SIZE", "generator_version", "load_embedded"]

MAX_SIZE = 50_000
_SIZE_WHY = (
    "that many utterances take about 6.5 GB of memory (about 130 kB each) and 4-5 minutes to generate"
    " on 2 cores, and repeat the grammar's sentences (about 11,000 distinct ones among 50,000); for"
    " more speech load another seed, or a real corpus such as corpus.load('librispeech')"
)


def generator_version() -> str:
    """Names every ingredient of the audio: grammar, synthesis, augmentation and eSpeak NG versions."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        espeak = version("espeakng-loader")
    except PackageNotFoundError:  # pragma: no cover - installed without metadata
        espeak = "unknown"
    parts = (grammar.GRAMMAR_VERSION, SYNTHESIS_VERSION, augment.AUGMENT_VERSION, espeak)
    return "grammar{}-synthesis{}-augment{}-espeakng{}".format(*parts)


def _generate(split: str, size: int, seed: int, tasks: tuple[str, ...], noise_snr_db, reverb, progress):
    code = grammar.check_split(split)
    items = grammar.sample_texts(split, size, seed, tasks)
    voices = speakers(split)
    rng = np.random.default_rng([seed, code, 4])
    plan = []
    speaker = voices[0]
    for index, item in enumerate(items):
        if item["labels"].get("sentence_index", 0) == 0 or index == 0:
            speaker = voices[int(rng.integers(len(voices)))]
        plan.append((item["text"], speaker, item["labels"], f"{split}-{seed}-{index:05d}"))
    utterances = []
    bar = tqdm(
        synthesize_many(plan), total=len(plan), desc=f"speaking {split}", disable=not progress, leave=False
    )
    for index, utt in enumerate(bar):
        if noise_snr_db is not None or reverb:
            rng_utt = np.random.default_rng([seed, code, index, 3])
            utt.audio = quantize(
                augment.augment(utt.audio, rng_utt, noise_snr_db=noise_snr_db, reverb=reverb)
            )
        utterances.append(utt)
    return utterances


def load_embedded(
    split: str = "train",
    size: int = 500,
    seed: int = 0,
    tasks: Sequence[str] | str | None = None,
    *,
    noise_snr_db: float | None = None,
    reverb: bool = False,
    cache_files: bool = True,
    progress: bool = True,
) -> list[Utterance]:
    """``size`` utterances (1 to :data:`MAX_SIZE`) of the embedded corpus (see :func:`speechlm.corpus.load`).

    ``noise_snr_db``: None (clean) or a number of dB in
    :data:`~speechlm.augment.SNR_RANGE_DB` (-20..80); ``reverb``: True or False.
    """
    grammar.check_split(split)
    tasks = grammar.check_tasks(tasks)
    size = grammar.check_count(size, maximum=MAX_SIZE, why=_SIZE_WHY)
    seed = grammar.check_seed(seed)
    if noise_snr_db is not None:
        check_snr_db(noise_snr_db, "noise_snr_db")
    if not isinstance(reverb, bool | np.bool_):
        raise ValueError(f"reverb must be True or False, got {type(reverb).__name__} {reverb!r}")
    params = {"split": split, "size": size, "seed": seed, "tasks": list(tasks)}
    params.update(noise=noise_snr_db, reverb=bool(reverb))
    version = generator_version()
    path = cache.cache_path("embedded", params, version)
    if cache_files:
        cached = cache.read(path, version)
        if cached is not None:
            return cached
    utterances = _generate(split, size, seed, tasks, noise_snr_db, reverb, progress)
    if cache_files:
        cache.write(path, utterances, version)
    return utterances
