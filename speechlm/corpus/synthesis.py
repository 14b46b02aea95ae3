"""From eSpeak's 22.05 kHz samples and events to a 16 kHz :class:`Utterance` with alignments.

eSpeak reports when each phoneme starts (in ms of its output); a phone ends
where the next one starts, and the last at the "end" event. A word spans its
phones (a word event is followed by that word's phoneme events). The audio is
resampled 22,050 -> 16,000 Hz with a polyphase filter
(``scipy.signal.resample_poly``, up 320, down 441), which keeps sample ``k``
at time ``k / rate`` on both sides, so the alignment times carry over
unchanged; then the level is normalised (eSpeak's voices differ by 30 dB),
the speaker's gain applied, silence added before and after, and the result
rounded to 16-bit levels, so that a cached corpus
(stored as int16) is bit-identical to a freshly generated one.
Introduced in notebook 00.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections import deque
from collections.abc import Iterable, Iterator
from functools import cache

import numpy as np
from scipy.signal import firwin, resample_poly

from speechlm.audio import SAMPLE_RATE
from speechlm.corpus import espeak
from speechlm.corpus.phones import SILENCE, to_phone
from speechlm.corpus.utterance import Utterance
from speechlm.corpus.voices import Speaker, speakers

__all__ = ["LEAD_S", "SAMPLE_RATE", "SYNTHESIS_VERSION", "TAIL_S", "quantize", "synthesize"]
__all__ += ["check_text", "from_int16", "synthesize_many", "to_int16"]

SYNTHESIS_VERSION = 2
LEAD_S = 0.15  # silence before the speech (eSpeak's own start is almost immediate)
TAIL_S = 0.1
LEVEL_DB = -20.0  # RMS level of the speech before the speaker's gain, dB re full scale
PEAK = 0.99
_UP, _DOWN = 320, 441  # 16000 / 22050 in lowest terms
_PUNCTUATION = (
    '.,;:!?"()[]\u201c\u201d\u2018\u2019\u00ab\u00bb\u2026'  # stripped from a word's ends (“”‘’«»…)
)


@cache
def _lowpass() -> np.ndarray:
    """The anti-aliasing filter ``resample_poly`` designs by default (Kaiser window, beta 5), made once."""
    half_len = 10 * max(_UP, _DOWN)
    return firwin(2 * half_len + 1, 1.0 / max(_UP, _DOWN), window=("kaiser", 5.0))


def quantize(audio: np.ndarray) -> np.ndarray:
    """Clip to [-1, 1] and round to the 16-bit grid: the audio a cached int16 copy gives back."""
    return from_int16(to_int16(audio))


def from_int16(samples: np.ndarray) -> np.ndarray:
    """int16 -> float32 in [-1, 1] (divided by 32767 in place: loading a cached corpus is memory-bound)."""
    out = samples.astype(np.float32)
    out /= np.float32(32767.0)
    return out


def to_int16(audio: np.ndarray) -> np.ndarray:
    """float in [-1, 1] -> int16 (x 32767, rounded, clipped)."""
    return np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)


def as_speaker(speaker: Speaker | str | None) -> Speaker:
    """A :class:`Speaker` from a speaker, an id string, or None (the first training speaker)."""
    if speaker is None:
        return speakers("train")[0]
    if isinstance(speaker, Speaker):
        return speaker
    if isinstance(speaker, str):
        return Speaker.from_id(speaker)
    raise TypeError(f"speaker must be a Speaker, a speaker id string or None, got {type(speaker).__name__}")


def _unspeakable(c: str) -> bool:
    """Whether English eSpeak cannot read ``c``: a letter or number outside the Latin script and
    ASCII digits (eSpeak spells a Chinese character as "Chinese letter 4f60")."""
    category = unicodedata.category(c)
    if category[0] == "L":
        return ord(c) > 0xFF and not unicodedata.name(c, "").startswith("LATIN ")  # Latin-1 passes (µ, ª)
    if category[0] == "N":
        return ord(c) > 0xFF  # 0-9, and the Latin-1 superscripts and fractions (², ½)
    return False


def check_text(text) -> str:
    """``text`` if English eSpeak NG can speak it, else a ValueError that names the problem.

    The corpus speaks English: letters of the Latin alphabet (accents are fine),
    digits, punctuation and symbols. Refused: an empty text, control
    characters (a NUL would cut the speech), letters or digits of other
    scripts (Chinese, Cyrillic...), and a text with no letter or digit at all.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty string, got {text!r}")
    espeak.check_no_control_characters(text)
    foreign = [c for c in text if _unspeakable(c)]
    if foreign:
        names = espeak.describe_characters(foreign)
        raise ValueError(
            f"text {text!r} has characters the English voices cannot speak: {names};"
            " synthesize speaks English in the Latin alphabet (the corpus's Chinese translations,"
            " labels['zh'], are text for translation models, not for speech)"
        )
    if not any(c.isalnum() for c in text):
        raise ValueError(
            f"text {text!r} has nothing to speak (no letter or digit): give at least one word,"
            " for silence use np.zeros"
        )
    return text


def _split(counts: list[int], total: int) -> list[int]:
    """Divide ``total`` phones among words whose phones said alone number ``counts``."""
    if sum(counts) == total or not counts:
        return counts
    cumulative = np.round(np.cumsum(counts) / max(sum(counts), 1) * total).astype(int)
    return np.diff(cumulative, prepend=0).tolist()


def _align(text: str, speech: espeak.Speech, end_s: float) -> tuple[list, list]:
    """Phones ``[(phone, start_s, end_s)]`` (contiguous, silences merged), words ``[(word, start_s, end_s)]``.

    A phone ends where the next begins. eSpeak groups some words into one unit
    ("on the": one word event); the unit's phones are divided among its words
    by how many phones each word has when said alone.
    """
    seq: list[list] = []  # [phone, start, end, unit position or -1]
    for event in speech.events:
        if event.kind == "phoneme":
            phone = to_phone(event.phoneme)
            if phone is not None:  # a modifier's time stays with the phone before it
                seq.append([phone, event.time_s, end_s, -1 if phone == SILENCE else event.text_position])
    for this, following in itertools.pairwise(seq):
        this[2] = following[1]
    units = [*sorted({e.text_position for e in speech.events if e.kind == "word"}), len(text) + 1]
    spans: dict[int, list[float]] = {}  # token index -> [start_s, end_s]
    for unit, next_unit in itertools.pairwise(units):
        unit_phones = [p for p in seq if p[3] == unit]
        if not unit_phones:
            continue
        inside = [i for i, (start, _, _) in enumerate(speech.tokens) if unit <= start < next_unit]
        if not inside:  # a second unit inside one token ("42" is said "forty two")
            inside = [i for i, (start, n, _) in enumerate(speech.tokens) if start <= unit < start + n]
            counts = [len(unit_phones)] * len(inside[:1])
        else:
            counts = [sum(to_phone(x) not in (None, SILENCE) for x in speech.tokens[i][2]) for i in inside]
        first = 0
        for i, count in zip(inside, _split(counts, len(unit_phones)), strict=False):
            if count > 0:
                span = spans.setdefault(i, [unit_phones[first][1], unit_phones[first + count - 1][2]])
                span[0] = min(span[0], unit_phones[first][1])
                span[1] = max(span[1], unit_phones[first + count - 1][2])
            first += count
    words = []
    for i, (start_s, end) in sorted(spans.items()):
        start, n, _ = speech.tokens[i]
        words.append((text[start : start + n].strip(_PUNCTUATION).lower(), start_s, end))
    phones: list[list] = []
    for phone, start, end, _ in seq:
        if end <= start:  # eSpeak sometimes gives a phone no time of its own: leave it out
            continue
        if phones and phones[-1][0] == phone == SILENCE:
            phones[-1][2] = end
        else:
            phones.append([phone, start, end])
    return [tuple(p) for p in phones], words


def _utterance(spoken: espeak.Speech, text: str, speaker: Speaker, labels: dict, uid: str) -> Utterance:
    speech = resample_poly(spoken.samples.astype(np.float64) / 32768.0, _UP, _DOWN, window=_lowpass())
    lead, tail = round(LEAD_S * SAMPLE_RATE), round(TAIL_S * SAMPLE_RATE)
    # eSpeak's voices differ by 30 dB in level: bring the speech to LEVEL_DB (RMS), then apply the
    # speaker's gain, never letting the peak pass PEAK
    rms = float(np.sqrt(np.mean(speech**2))) if len(speech) else 0.0
    if rms > 0:
        target = 10.0 ** ((LEVEL_DB + speaker.gain_db) / 20.0)
        speech = speech * min(target / rms, PEAK / np.max(np.abs(speech)))
    audio = np.concatenate([np.zeros(lead), speech, np.zeros(tail)])
    duration = len(audio) / SAMPLE_RATE
    offset = lead / SAMPLE_RATE
    end_s = len(speech) / SAMPLE_RATE
    end_event = next((e.time_s for e in reversed(spoken.events) if e.kind == "end"), end_s)
    phones, words = _align(text, spoken, min(end_event, end_s))

    def shift(t: float) -> float:
        return round(min(t + offset, duration), 6)

    phones = [(p, shift(s), shift(e)) for p, s, e in phones]
    if phones and phones[0][0] == SILENCE:
        phones[0] = (SILENCE, 0.0, phones[0][2])
    else:
        phones.insert(0, (SILENCE, 0.0, phones[0][1] if phones else duration))
    if phones[-1][0] == SILENCE:
        phones[-1] = (SILENCE, phones[-1][1], round(duration, 6))
    elif phones[-1][2] < duration:
        phones.append((SILENCE, phones[-1][2], round(duration, 6)))
    words = [(w, shift(s), shift(e)) for w, s, e in words]
    return Utterance(quantize(audio), SAMPLE_RATE, text, speaker.id, words, phones, dict(labels), uid)


def synthesize_many(
    items: Iterable[tuple[str, Speaker, dict, str]],
) -> Iterator[Utterance]:
    """Speak ``(text, speaker, labels, id)`` items, yielding :class:`Utterance` objects in order.

    Each text must pass :func:`check_text` (English, Latin alphabet)."""
    pending: deque[tuple[str, Speaker, dict, str]] = deque()

    def requests():
        for text, speaker, labels, uid in items:
            check_text(text)
            pending.append((text, speaker, labels, uid))
            yield espeak.Request(text, speaker.voice, speaker.rate_wpm, speaker.pitch, speaker.pitch_range)

    for spoken in espeak.synth_many(requests()):
        text, speaker, labels, uid = pending.popleft()
        yield _utterance(spoken, text, speaker, labels, uid)


def synthesize(text: str, speaker: Speaker | str | None = None, *, labels: dict | None = None) -> Utterance:
    """Speak ``text`` with one speaker (a :class:`Speaker`, an id such as
    ``"en-us+Alex:p55:v60:r160:g-3"``, or None for the first training speaker).

    ``text`` is English in the Latin alphabet (see :func:`check_text`: other
    scripts, control characters and text with no letter or digit raise a
    ValueError that names the characters). Returns an :class:`Utterance` at
    16 kHz with word and phone alignments; not cached. The same text and
    speaker always give the same samples.
    """
    check_text(text)
    spk = as_speaker(speaker)
    labels = {"task": "free"} if labels is None else labels
    (utterance,) = synthesize_many([(text, spk, labels, "synthesized")])
    return utterance
