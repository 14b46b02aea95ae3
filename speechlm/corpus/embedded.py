"""The embedded corpus: grammar sentences spoken by the split's speakers, cached on disk.

:func:`load_embedded` is what ``corpus.load("embedded", ...)`` runs. The
sentences come from :func:`speechlm.corpus.grammar.sample_texts`, each
utterance's speaker from a generator seeded by ``(seed, split)`` (all
sentences of one scene share a speaker, a narrator), and the optional noise
and reverberation from a generator seeded by ``(seed, split, index)``. So
the same arguments give the same corpus, bit for bit, and every utterance
is reproducible on its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from speechlm.corpus import augment, cache
from speechlm.corpus.grammar import GRAMMAR_VERSION, check_split, check_tasks, sample_texts
from speechlm.corpus.synthesis import SYNTHESIS_VERSION, quantize, synthesize_many
from speechlm.corpus.utterance import Utterance
from speechlm.corpus.voices import speakers

__all__ = ["generator_version", "load_embedded"]


def generator_version() -> str:
    """Names every ingredient of the audio: grammar, synthesis, augmentation and eSpeak NG versions."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        espeak = version("espeakng-loader")
    except PackageNotFoundError:  # pragma: no cover - installed without metadata
        espeak = "unknown"
    parts = (GRAMMAR_VERSION, SYNTHESIS_VERSION, augment.AUGMENT_VERSION, espeak)
    return "grammar{}-synthesis{}-augment{}-espeakng{}".format(*parts)


def _generate(split: str, size: int, seed: int, tasks: tuple[str, ...], noise_snr_db, reverb, progress):
    code = check_split(split)
    items = sample_texts(split, size, seed, tasks)
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
    """``size`` utterances of the embedded corpus (see :func:`speechlm.corpus.load`)."""
    check_split(split)
    tasks = check_tasks(tasks)
    if not isinstance(size, int | np.integer) or size <= 0:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if noise_snr_db is not None and not np.isfinite(noise_snr_db):
        raise ValueError(f"noise_snr_db must be None or a finite number of dB, got {noise_snr_db}")
    size, seed = int(size), int(seed)
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
