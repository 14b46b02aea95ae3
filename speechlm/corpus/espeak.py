"""eSpeak NG (from the ``espeakng-loader`` wheel) through ``ctypes``, deterministic.

eSpeak NG is a formant synthesiser written in C. It runs in synchronous mode:
we hand it a text, and it calls our callback with chunks of 16-bit samples at
22,050 Hz and a list of events: one per word (its character position in the
text) and one per phoneme (a mnemonic such as ``"aI"`` or ``"t"``), each with
its position in the audio in milliseconds. Those events are the corpus's
word and phone alignments.

The library carries state from one utterance to the next, so the binding
lives in :mod:`speechlm.corpus.espeak_server`, a small process that forks a
pristine copy of itself for every utterance; here we start two of them (one
per core) and stream requests to them. Same request, same samples, always.
The servers die with this process, even when it is killed (see
:mod:`~speechlm.corpus.espeak_server`).
Introduced in notebook 00.
"""

from __future__ import annotations

import atexit
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import unicodedata
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

__all__ = ["ESPEAK_RATE_HZ", "Event", "Request", "Speech", "close", "list_variants", "synth", "synth_many"]
__all__ += ["check_no_control_characters", "describe_characters"]

ESPEAK_RATE_HZ = 22050
_IN_FLIGHT = 8  # requests queued per server (small: the pipes never fill up)
_WHITESPACE_CONTROLS = "\t\n\r"  # control characters that are just spacing in a text


def describe_characters(chars: Iterable[str]) -> str:
    """``'你' (U+4F60 CJK UNIFIED IDEOGRAPH-4F60), '\\x00' (U+0000 a control character)``: each once."""
    return ", ".join(
        f"{c!r} (U+{ord(c):04X} {unicodedata.name(c, 'a control character')})" for c in dict.fromkeys(chars)
    )


def check_no_control_characters(text: str) -> str:
    """``text``, or a ValueError naming its control and format characters (tab, newline and CR pass).

    eSpeak stops speaking at a NUL and reads other control characters in ways no
    one meant, so they are refused instead of cutting the speech silently.
    """
    bad = [c for c in text if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn")]
    bad = [c for c in bad if c not in _WHITESPACE_CONTROLS]
    if bad:
        raise ValueError(
            f"text {text!r} contains control or invisible characters eSpeak NG cannot speak:"
            f" {describe_characters(bad)}; remove them (tabs and newlines are fine)"
        )
    return text


@dataclass(frozen=True)
class Event:
    """One eSpeak event: ``kind`` is "word", "phoneme" or "end"; ``time_s`` its audio position.

    For a word, ``text_position`` is the 0-based character index of the word in
    the text and ``length`` its number of characters; for a phoneme,
    ``phoneme`` is eSpeak's mnemonic (with stress marks, e.g. ``"'aI"``).
    """

    kind: str
    time_s: float
    text_position: int = -1
    length: int = 0
    phoneme: str = ""


@dataclass(frozen=True)
class Speech:
    """What eSpeak made of one request.

    ``samples``: int16, shape ``(num_samples,)``, at :data:`ESPEAK_RATE_HZ`.
    ``events``: word, phoneme and "end" events in time order (a phoneme's
    ``text_position`` is that of the word event it follows).
    ``tokens``: ``[(start, length, mnemonics)]`` per whitespace-separated token
    of the text, its phonemes when said alone (to divide a unit such as "on the").
    """

    samples: np.ndarray
    events: list[Event]
    tokens: list[tuple[int, int, list[str]]]


@dataclass(frozen=True)
class Request:
    """What to say and how: ``voice`` is a language plus variant (``"en-us+Alex"``),
    ``rate_wpm`` words per minute (80-450), ``pitch`` and ``pitch_range`` eSpeak's 0-100 scales."""

    text: str
    voice: str = "en-us+m1"
    rate_wpm: int = 175
    pitch: int = 50
    pitch_range: int = 50

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValueError(f"text must be a non-empty string, got {self.text!r}")
        check_no_control_characters(self.text)
        if not 80 <= self.rate_wpm <= 450:
            raise ValueError(f"rate_wpm must be in 80..450, got {self.rate_wpm}")
        if not (0 <= self.pitch <= 100 and 0 <= self.pitch_range <= 100):
            raise ValueError(f"pitch and pitch_range must be in 0..100, got {self.pitch}, {self.pitch_range}")
        variant = self.voice.partition("+")[2]
        if variant and variant not in list_variants():  # eSpeak would silently use its default voice
            raise ValueError(f"eSpeak NG has no variant {variant!r}; see list_variants()")


def _paths() -> tuple[str, str]:
    """The eSpeak NG library and its data folder.

    From the ``espeakng-loader`` wheel, unless ``SPEECHLM_ESPEAK_LIBRARY`` and
    ``SPEECHLM_ESPEAK_DATA`` point at a system installation (for platforms
    without a wheel), e.g. ``/usr/lib/x86_64-linux-gnu/libespeak-ng.so.1`` and
    ``/usr/lib/x86_64-linux-gnu/espeak-ng-data``.
    """
    library = os.environ.get("SPEECHLM_ESPEAK_LIBRARY")
    if library:
        data = os.environ.get("SPEECHLM_ESPEAK_DATA", "")
        if not os.path.isfile(library):
            raise FileNotFoundError(f"SPEECHLM_ESPEAK_LIBRARY={library!r} is not a file")
        if not os.path.isdir(os.path.join(data, "voices", "!v")):
            raise FileNotFoundError(
                f"SPEECHLM_ESPEAK_DATA={data!r} is not an espeak-ng-data folder (no voices/!v in it);"
                " set it along with SPEECHLM_ESPEAK_LIBRARY"
            )
        return library, data
    try:
        import espeakng_loader
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ImportError(
            "the embedded corpus needs eSpeak NG: pip install espeakng-loader, or install eSpeak NG from"
            " your system's packages and set SPEECHLM_ESPEAK_LIBRARY to the path of libespeak-ng"
        ) from exc
    return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()


_SPAWNER: tuple[int, ThreadPoolExecutor] | None = None  # (the pid that made it, the executor)
_SPAWNER_LOCK = threading.Lock()


def _popen(args: list[str], **kwargs) -> subprocess.Popen:
    """``subprocess.Popen``, called on one thread that lives as long as this process.

    A server asks Linux to kill it when its parent goes, but Linux takes the
    *thread* that started it for its parent: a server started from a
    short-lived thread (a thread pool's worker) would die with that thread.
    """
    global _SPAWNER
    with _SPAWNER_LOCK:
        if _SPAWNER is None or _SPAWNER[0] != os.getpid():  # none yet, or a forked copy without threads
            _SPAWNER = (os.getpid(), ThreadPoolExecutor(1, thread_name_prefix="espeak-spawner"))
        executor = _SPAWNER[1]
    return executor.submit(subprocess.Popen, args, **kwargs).result()


class _Server:
    """One server process and the requests it has not answered yet."""

    def __init__(self) -> None:
        library, data = _paths()
        script = Path(__file__).with_name("espeak_server.py")
        self.log = tempfile.TemporaryFile()
        self.proc = _popen(
            [sys.executable, "-I", str(script), library, data, str(os.getpid())],  # -I: isolated, stdlib only
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )

    def send(self, request: Request) -> None:
        message = json.dumps(
            {
                "text": request.text,
                "voice": request.voice,
                "rate": request.rate_wpm,
                "pitch": request.pitch,
                "range": request.pitch_range,
            }
        ).encode()
        self.proc.stdin.write(struct.pack("<I", len(message)) + message)
        self.proc.stdin.flush()

    def receive(self, request: Request) -> Speech:
        header = self.proc.stdout.read(8)
        if len(header) < 8:
            self.log.seek(0)
            detail = self.log.read().decode(errors="replace").strip()[-2000:]
            raise RuntimeError(f"the eSpeak NG server stopped unexpectedly: {detail or 'no message'}")
        json_len, num_samples = struct.unpack("<II", header)
        reply = json.loads(self.proc.stdout.read(json_len))
        samples = np.frombuffer(self.proc.stdout.read(2 * num_samples), dtype="<i2").astype(np.int16)
        if "error" in reply:
            raise ValueError(f"{reply['error']} (request {request})")
        events = [Event(k, ms / 1000.0, pos, length, ph) for k, ms, pos, length, ph in reply["events"]]
        return Speech(samples, events, [(start, n, list(m)) for start, n, m in reply["tokens"]])

    def close(self) -> None:
        """Close the pipes (the server exits on end of input, or on a broken pipe if it was
        still answering) and wait for it; kill it if it does not stop within 5 s."""
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:  # a broken pipe while flushing: the server is gone already
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class _Pool:
    """Idle servers, lent to one :func:`synth_many` run at a time.

    No lock is held while a run yields, so a run that is abandoned half-way
    (an interrupted notebook cell) cannot block the next one: the next run
    starts its own servers, and the abandoned run's servers stop with it.
    """

    def __init__(self) -> None:
        self.idle: list[_Server] = []
        self.lock = threading.Lock()

    def run(self, requests: Iterable[Request]) -> Iterator[Speech]:
        with self.lock:
            servers, self.idle = self.idle, []
        if not servers:
            servers = [_Server() for _ in range(max(1, min(2, os.cpu_count() or 1)))]
        pending: deque[tuple[_Server, Request]] = deque()
        try:
            for index, request in enumerate(requests):
                if len(pending) >= _IN_FLIGHT * len(servers):
                    server, oldest = pending.popleft()
                    yield server.receive(oldest)
                server = servers[index % len(servers)]
                server.send(request)
                pending.append((server, request))
            while pending:
                server, oldest = pending.popleft()
                yield server.receive(oldest)
        finally:
            # with answers still unread, a server would hand them to the next request: stop it
            with self.lock:
                keep = not pending and not self.idle
                if keep:
                    self.idle = servers
            if not keep:
                for server in servers:
                    server.close()

    def close(self) -> None:
        with self.lock:
            servers, self.idle = self.idle, []
        for server in servers:
            server.close()


_POOL = _Pool()
atexit.register(_POOL.close)


def synth_many(requests: Iterable[Request]) -> Iterator[Speech]:
    """Speak many requests (two processes in parallel); yield a :class:`Speech` for each, in order."""
    yield from _POOL.run(requests)


def synth(
    text: str, voice: str = "en-us+m1", *, rate_wpm: int = 175, pitch: int = 50, pitch_range: int = 50
) -> Speech:
    """Speak one text; return its :class:`Speech`."""
    (result,) = synth_many([Request(text, voice, rate_wpm, pitch, pitch_range)])
    return result


def close() -> None:
    """Stop the idle server processes (they also stop when Python exits)."""
    _POOL.close()


def list_variants() -> list[str]:
    """The names of eSpeak NG's variant voices (``"Alex"``, ``"f3"``...), sorted."""
    return list(_variants())


@cache
def _variants() -> tuple[str, ...]:
    return tuple(sorted(os.listdir(os.path.join(_paths()[1], "voices", "!v"))))
