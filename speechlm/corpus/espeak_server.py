"""A tiny eSpeak NG synthesis server, run as a separate process by :mod:`speechlm.corpus.espeak`.

Why a process: eSpeak keeps state from one utterance to the next (the phase
of its pitch "flutter", resonator memories...), so the same text spoken
after different texts comes out slightly different. This server loads the
library through ``ctypes`` and initialises it once, then *forks* a child for
every request: each child starts from the same pristine state, speaks one
text, writes its answer and exits. The result depends only on the request,
which makes the corpus bit-identical across runs (where ``os.fork`` is
missing, as on Windows, the server speaks in-process instead and the audio
may differ slightly from run to run).

The server dies with the process that started it, even one killed with
SIGKILL (a crashed or restarted Jupyter kernel): on Linux it asks the kernel
for SIGKILL when its parent goes (``PR_SET_PDEATHSIG``); everywhere it stops
at the end of its input, and on POSIX it also checks twice a second that its
parent (whose pid is its third argument) is still there.

Protocol on stdin/stdout, little-endian: a request is ``uint32 n`` + ``n``
bytes of JSON ``{"text", "voice", "rate", "pitch", "range"}``; the answer is
``uint32 j, uint32 s`` + ``j`` bytes of JSON (``{"events": [[kind, ms,
text_position, length, phoneme], ...], "tokens": [[start, length, [mnemonic,
...]], ...]}`` or ``{"error": message}``) + ``s`` int16 samples at 22,050 Hz.
Standard library only, so that it starts fast.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import struct
import sys

# from speak_lib.h
AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_PHONEME_EVENTS = 0x0001
INITIALIZE_DONT_EXIT = 0x8000
EVENT_LIST_TERMINATED, EVENT_WORD, EVENT_END, EVENT_PHONEME = 0, 1, 5, 7
RATE, VOLUME, PITCH, RANGE = 1, 2, 3, 4
POS_CHARACTER, CHARS_UTF8 = 1, 1
SEPARATOR = ord("|")  # between phoneme mnemonics in espeak_TextToPhonemes's output
PR_SET_PDEATHSIG = 1  # from linux/prctl.h
PARENT_CHECK_S = 0.5


class EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", EventId),
    ]


CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(Event))
KINDS = {EVENT_WORD: "word", EVENT_PHONEME: "phoneme", EVENT_END: "end"}


def load(library_path: str, data_path: str):
    """Load and initialise the library; return it and the lists the callback fills."""
    lib = ctypes.CDLL(library_path)
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint]
    lib.espeak_Synth.argtypes += [ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
    options = INITIALIZE_PHONEME_EVENTS | INITIALIZE_DONT_EXIT
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 500, data_path.encode(), options)
    if rate != 22050:
        raise RuntimeError(f"eSpeak NG failed to initialise (returned {rate}; data folder {data_path})")
    chunks: list[bytes] = []
    events: list[list] = []

    def on_audio(wav, num_samples, event_list) -> int:
        if num_samples > 0:
            chunks.append(ctypes.string_at(wav, 2 * num_samples))
        i = 0
        while event_list[i].type != EVENT_LIST_TERMINATED:
            e = event_list[i]
            if e.type in KINDS:
                phoneme = e.id.string.decode("ascii", "replace") if e.type == EVENT_PHONEME else ""
                events.append([KINDS[e.type], e.audio_position, e.text_position - 1, e.length, phoneme])
            i += 1
        return 0

    callback = CALLBACK(on_audio)
    lib.espeak_SetSynthCallback(callback)
    return lib, callback, chunks, events


def speak(lib, chunks: list, events: list, request: dict) -> tuple[dict, bytes]:
    """Speak one request; return the JSON answer and the int16 samples."""
    if hasattr(lib, "espeak_ng_SetRandSeed"):  # the Klatt voices' noise source
        lib.espeak_ng_SetRandSeed(1)
    if lib.espeak_SetVoiceByName(request["voice"].encode()) != 0:
        return {"error": f"eSpeak NG has no voice {request['voice']!r}"}, b""
    for parameter, key in ((RATE, "rate"), (PITCH, "pitch"), (RANGE, "range")):
        lib.espeak_SetParameter(parameter, int(request[key]), 0)
    lib.espeak_SetParameter(VOLUME, 100, 0)
    data = request["text"].encode("utf-8") + b"\0"
    status = lib.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
    if status != 0:
        return {"error": f"eSpeak NG failed to speak {request['text']!r} (status {status})"}, b""
    samples = b"".join(chunks)
    return {"events": events, "tokens": phonemize_tokens(lib, request["text"])}, samples


def phonemize_tokens(lib, text: str) -> list[list]:
    """``[[start, length, [mnemonic, ...]], ...]`` for each whitespace-separated token of ``text``.

    eSpeak speaks some word pairs ("on the") as one unit with one word event;
    the phonemes of each word said alone tell how to divide the unit's phonemes.
    """
    tokens = []
    position = 0
    for token in text.split():
        start = text.index(token, position)
        position = start + len(token)
        buffer = ctypes.c_char_p(token.encode("utf-8") + b"\0")
        mnemonics: list[str] = []
        while buffer.value:  # one call per clause
            out = lib.espeak_TextToPhonemes(ctypes.byref(buffer), CHARS_UTF8, SEPARATOR << 8)
            mnemonics += [m for m in out.decode("ascii", "replace").replace(" ", "|").split("|") if m]
        tokens.append([start, len(token), mnemonics])
    return tokens


def answer(out, reply: dict, samples: bytes) -> None:
    payload = json.dumps(reply).encode()
    out.write(struct.pack("<II", len(payload), len(samples) // 2) + payload + samples)
    out.flush()


def die_with_parent(parent_pid: int) -> None:
    """On Linux, have the kernel send SIGKILL when the parent goes; exit now if it is gone already."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        sys.exit(0)


def read_exactly(fd: int, n: int, parent_pid: int) -> bytes:
    """``n`` bytes from ``fd``, or fewer when the client closed the pipe or its process is gone."""
    data = b""
    while len(data) < n:
        if os.name == "posix":  # wake up now and then to check that the parent is alive
            ready, _, _ = select.select([fd], [], [], PARENT_CHECK_S)
            if not ready:
                if os.getppid() != parent_pid:
                    return data
                continue
        chunk = os.read(fd, n - len(data))
        if not chunk:
            return data
        data += chunk
    return data


def main(library_path: str, data_path: str, parent_pid: int) -> None:
    die_with_parent(parent_pid)
    lib, _callback, chunks, events = load(library_path, data_path)
    stdin, stdout = sys.stdin.fileno(), sys.stdout.buffer
    while True:
        header = read_exactly(stdin, 4, parent_pid)
        if len(header) < 4:  # the client closed the pipe or died: done
            return
        (n,) = struct.unpack("<I", header)
        body = read_exactly(stdin, n, parent_pid)
        if len(body) < n:
            return
        request = json.loads(body)
        if not hasattr(os, "fork"):
            chunks.clear()
            events.clear()
            answer(stdout, *speak(lib, chunks, events, request))
            continue
        pid = os.fork()
        if pid == 0:  # the child: pristine state, one utterance, then exit
            try:
                answer(stdout, *speak(lib, chunks, events, request))
            except BaseException:
                os._exit(1)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            answer(stdout, {"error": f"the eSpeak NG child process failed (status {status})"}, b"")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
