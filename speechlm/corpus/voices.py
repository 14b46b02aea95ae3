"""Speakers of the embedded corpus: eSpeak NG voice variant, English accent, pitch, rate and gain.

eSpeak NG ships about a hundred variant voices (``"Alex"``, ``"f3"``,
``"klatt2"``...) that change the voice quality, and several English accents
(American, British RP, Scottish, Caribbean...). A speaker is one variant with
one accent, a pitch, a pitch range, a speaking rate and a gain. The variants
are divided once, with a fixed seed, between the splits: a test voice is
never heard in training. Each training variant gives 3 speakers, each dev
and test variant 2, so there are 198 training, 36 dev and 36 test speakers.
Speaker ids spell the settings out and never change:
``"en-us+Alex:p55:v60:r160:g-3"`` (accent+variant, pitch, pitch range,
rate in words per minute, gain in dB). Introduced in notebook 00.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np

from speechlm.corpus import espeak
from speechlm.corpus.grammar import check_split

__all__ = ["ACCENTS", "Speaker", "speakers", "split_of_variant"]

ACCENTS = (
    "en-us",
    "en-us-nyc",
    "en",
    "en-gb-x-rp",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
)
EXCLUDED_VARIANTS = ("whisper", "whisperf")  # no voicing at all: no pitch to see in notebooks 01-03
SPEAKERS_PER_VARIANT = {"train": 3, "dev": 2, "test": 2}
NUM_HELD_OUT_VARIANTS = 18  # per held-out split (dev, test)
_SPEAKER_SEED = 20240  # fixed forever: speaker ids and splits never change
_ID = re.compile(r"^(?P<accent>[a-z0-9-]+)\+(?P<variant>[^:]+):p(?P<pitch>\d+):v(?P<range>\d+)"
                 r":r(?P<rate>\d+):g(?P<gain>-?\d+)$")  # fmt: skip


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker. ``pitch`` and ``pitch_range`` are eSpeak's 0-100 scales,
    ``rate_wpm`` words per minute, ``gain_db`` the level of the audio in dB (0 = as eSpeak made it)."""

    accent: str
    variant: str
    pitch: int
    pitch_range: int
    rate_wpm: int
    gain_db: int

    @property
    def id(self) -> str:
        return (
            f"{self.accent}+{self.variant}:p{self.pitch}:v{self.pitch_range}:r{self.rate_wpm}:g{self.gain_db}"
        )

    @property
    def voice(self) -> str:
        """The eSpeak voice name, language plus variant."""
        return f"{self.accent}+{self.variant}"

    @classmethod
    def from_id(cls, speaker_id: str) -> Speaker:
        """Parse an id such as ``"en-us+Alex:p55:v60:r160:g-3"`` (any settings, not only the corpus's)."""
        match = _ID.match(speaker_id)
        if match is None:
            raise ValueError(
                f"not a speaker id: {speaker_id!r}; expected 'ACCENT+VARIANT:pPITCH:vRANGE:rRATE:gGAIN' "
                "such as 'en-us+Alex:p55:v60:r160:g-3' (see corpus.speakers())"
            )
        g = match.groupdict()
        if g["accent"] not in ACCENTS:
            raise ValueError(f"unknown accent {g['accent']!r} in {speaker_id!r}; choose one of {ACCENTS}")
        numbers = (int(g[key]) for key in ("pitch", "range", "rate", "gain"))
        speaker = cls(g["accent"], g["variant"], *numbers)
        espeak.Request("check", speaker.voice, speaker.rate_wpm, speaker.pitch, speaker.pitch_range)
        return speaker


@cache
def _variant_splits() -> dict[str, str]:
    variants = [v for v in espeak.list_variants() if v not in EXCLUDED_VARIANTS]
    order = np.random.default_rng(_SPEAKER_SEED).permutation(len(variants))
    n = NUM_HELD_OUT_VARIANTS
    split_of = {}
    for rank, index in enumerate(order):
        split_of[variants[index]] = "test" if rank < n else "dev" if rank < 2 * n else "train"
    return split_of


def split_of_variant(variant: str) -> str | None:
    """The split whose speakers use this variant (None for an excluded variant)."""
    return _variant_splits().get(variant)


@cache
def _speakers(split: str) -> tuple[Speaker, ...]:
    code = check_split(split)
    rng = np.random.default_rng([_SPEAKER_SEED, code])
    result = []
    for variant in sorted(v for v, s in _variant_splits().items() if s == split):
        for _ in range(SPEAKERS_PER_VARIANT[split]):
            accent = ACCENTS[int(rng.integers(len(ACCENTS)))]
            pitch, pitch_range = int(rng.integers(25, 76)), int(rng.integers(30, 81))
            rate, gain = int(rng.integers(135, 196)), int(rng.integers(-9, 1))
            result.append(Speaker(accent, variant, pitch, pitch_range, rate, gain))
    return tuple(result)


def speakers(split: str = "train") -> list[Speaker]:
    """The speakers of a split, in a fixed order (their ids are stable across versions)."""
    return list(_speakers(split))
