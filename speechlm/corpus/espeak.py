"""A minimal ``ctypes`` binding of eSpeak NG (from the ``espeakng-loader`` wheel).

eSpeak NG is a formant synthesiser written in C. We use it in synchronous
mode: :func:`synth` hands it a text, and eSpeak calls our callback with
chunks of 16-bit samples at 22,050 Hz and a list of events: one per word
(character position in the text) and one per phoneme (its mnemonic such as
``"aI"`` or ``"t"``), each with its position in the audio in milliseconds.
Those events are the corpus's exact word and phone alignments.

eSpeak keeps global state (the current voice, rate, pitch...), so every call
holds one lock and sets every parameter it depends on. Introduced in notebook 00.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from functools import cache

import numpy as np

__all__ = ["ESPEAK_RATE_HZ", "Event", "list_variants", "synth"]

ESPEAK_RATE_HZ = 22050

# espeak_AUDIO_OUTPUT, options, events, parameters and flags from speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_END = 5
_EVENT_PHONEME = 7
_RATE, _VOLUME, _PITCH, _RANGE, _WORDGAP = 1, 2, 3, 4, 7
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_OK = 0


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Event:
    """One eSpeak event: ``kind`` is "word" or "phoneme"; ``time_s`` its audio position.

    For a word, ``text_position`` is the 0-based character index of the word in
    the text and ``length`` its number of characters; for a phoneme,
    ``phoneme`` is eSpeak's mnemonic.
    """

    kind: str
    time_s: float
    text_position: int = -1
    length: int = 0
    phoneme: str = ""


class _Engine:
    """The loaded library, initialised once, and the buffers the callback fills."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise ImportError(
                "the embedded corpus needs eSpeak NG from the 'espeakng-loader' wheel: pip install espeakng-loader"
            ) from exc
        self.data_path = espeakng_loader.get_data_path()
        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint),
            ctypes.c_void_p,
        ]
        options = _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT
        rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 500, self.data_path.encode(), options)
        if rate != ESPEAK_RATE_HZ:
            raise RuntimeError(f"eSpeak NG failed to initialise (returned {rate}, data at {self.data_path})")
        self.chunks: list[np.ndarray] = []
        self.events: list[Event] = []
        self.callback = _CALLBACK(self._on_audio)  # keep a reference: eSpeak holds the pointer
        self.lib.espeak_SetSynthCallback(self.callback)
        self.lock = threading.Lock()

    def _on_audio(self, wav, num_samples, events) -> int:
        if num_samples > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            e = events[i]
            time_s = e.audio_position / 1000.0
            if e.type == _EVENT_WORD:
                self.events.append(Event("word", time_s, text_position=e.text_position - 1, length=e.length))
            elif e.type == _EVENT_PHONEME:
                self.events.append(Event("phoneme", time_s, phoneme=e.id.string.decode("ascii", "replace")))
            elif e.type == _EVENT_END:
                self.events.append(Event("end", time_s))
            i += 1
        return 0


@cache
def _engine() -> _Engine:
    return _Engine()


def synth(
    text: str, voice: str = "en-us", *, rate_wpm: int = 175, pitch: int = 50, pitch_range: int = 50
) -> tuple[np.ndarray, list[Event]]:
    """Speak ``text`` with eSpeak NG; return ``(samples, events)``.

    ``samples`` is int16 of shape ``(num_samples,)`` at :data:`ESPEAK_RATE_HZ`;
    ``events`` lists word, phoneme and "end" events in time order. ``voice`` is
    a language plus optional variant (``"en-us+Alex"``); ``rate_wpm`` is the
    speaking rate in words per minute (80-450), ``pitch`` and ``pitch_range``
    are eSpeak's 0-100 scales.
    """
    if not 80 <= rate_wpm <= 450:
        raise ValueError(f"rate_wpm must be in 80..450, got {rate_wpm}")
    if not (0 <= pitch <= 100 and 0 <= pitch_range <= 100):
        raise ValueError(f"pitch and pitch_range must be in 0..100, got {pitch}, {pitch_range}")
    eng = _engine()
    data = text.encode("utf-8") + b"\0"
    with eng.lock:
        if eng.lib.espeak_SetVoiceByName(voice.encode()) != _OK:
            raise ValueError(f"eSpeak NG has no voice {voice!r}; see speechlm.corpus.espeak.list_variants()")
        for parameter, value in ((_RATE, rate_wpm), (_PITCH, pitch), (_RANGE, pitch_range), (_VOLUME, 100)):
            eng.lib.espeak_SetParameter(parameter, int(value), 0)
        eng.lib.espeak_SetParameter(_WORDGAP, 0, 0)
        eng.chunks, eng.events = [], []
        status = eng.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if status != _OK:
            raise RuntimeError(f"eSpeak NG failed to speak {text!r} (error {status})")
        samples = np.concatenate(eng.chunks) if eng.chunks else np.zeros(0, np.int16)
        events = eng.events
        eng.chunks, eng.events = [], []
    return samples.astype(np.int16, copy=False), events


def list_variants() -> list[str]:
    """The names of eSpeak NG's variant voices (``"Alex"``, ``"f3"``...), sorted."""
    import os

    return sorted(os.listdir(os.path.join(_engine().data_path, "voices", "!v")))
