"""Public corpora through the embedded corpus's interface: FSDD, Speech Commands, LibriSpeech.

Each loader reads a local copy when given ``root=``, else downloads a pinned,
checksummed release into the cache (see :mod:`speechlm.corpus.download`).
Audio is resampled to 16 kHz mono float32; words and phones are ``[]``
(these corpora have no alignments); ``labels`` has ``task`` and its labels.

Layouts (what ``root`` may point at):

- ``fsdd``: ``recordings/{digit}_{speaker}_{take}.wav`` (8 kHz), or the
  ``recordings`` folder itself. Official split: takes 0-4 are test, the rest train.
- ``speech_commands``: ``{word}/{speaker}_nohash_{n}.wav`` plus
  ``validation_list.txt`` and ``testing_list.txt`` (the split files, required);
  ``_background_noise_`` is skipped.
- ``librispeech``: ``LibriSpeech/{subset}/{speaker}/{chapter}/{speaker}-{chapter}-{n}.flac``
  with ``{speaker}-{chapter}.trans.txt``; ``root`` may also be the
  ``LibriSpeech`` folder or the subset folder itself (named as the subset).
- ``folder``: your own recordings with transcripts: see :mod:`speechlm.corpus.folder`.

A layout that does not match (an empty folder, another corpus's folder, a
missing split, a misnamed or unreadable file) raises an error that names the
folder or file and the layout expected; nothing is skipped without a word.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from speechlm import audio as audio_io
from speechlm.audio import SAMPLE_RATE
from speechlm.corpus.download import fetch
from speechlm.corpus.lexicon import DIGITS
from speechlm.corpus.utterance import Utterance

__all__ = ["RELEASES", "load_fsdd", "load_librispeech", "load_speech_commands"]

# corpus -> (url, sha256); hashes from the TensorFlow Datasets and torchaudio checksum lists
RELEASES = {
    "fsdd": (
        "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/v1.0.9.tar.gz",
        "8bc44cde129d505cbbb6b365c09f80c663f2aa77578afc634e6141a2f87100c0",
    ),
    "speech_commands": (
        "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
        "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
    ),
    "librispeech/dev-clean": (
        "http://www.openslr.org/resources/12/dev-clean.tar.gz",
        "76f87d090650617fca0cac8f88b9416e0ebf80350acb97b343a85fa903728ab3",
    ),
    "librispeech/test-clean": (
        "http://www.openslr.org/resources/12/test-clean.tar.gz",
        "39fde525e59672dc6d1551919b1478f724438a95aa55f874b576be21967e6c23",
    ),
    "librispeech/train-clean-100": (
        "http://www.openslr.org/resources/12/train-clean-100.tar.gz",
        "d4ddd1d5a6ab303066f14971d768ee43278a5f2a0aa43dc716b0e64ecbbbf6e2",
    ),
}
LIBRISPEECH_DEFAULT_SUBSET = {"train": "train-clean-100", "dev": "dev-clean", "test": "test-clean"}
_FSDD_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)$")
_FSDD_LAYOUT = "recordings/{digit}_{speaker}_{take}.wav (e.g. recordings/0_jackson_0.wav)"
_SPEECH_COMMANDS_NAME = re.compile(r"^([^_]+)_nohash_(\d+)$")
_SPEECH_COMMANDS_LAYOUT = (
    "{word}/{speaker}_nohash_{n}.wav (e.g. yes/0a7c2a8d_nohash_0.wav) with validation_list.txt "
    "and testing_list.txt beside the word folders"
)


def _root(corpus: str, root, key: str | None = None) -> Path:
    if root is not None:
        if not isinstance(root, str | os.PathLike):
            raise TypeError(f"root must be the path of a folder (a str or pathlib.Path), got {root!r:.80}")
        path = Path(root).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"root={str(root)!r} for the {corpus} corpus is not a folder")
        return path
    url, sha256 = RELEASES[key or corpus]
    return fetch(corpus, url, sha256)


def _read(path: Path, text: str, speaker: str, labels: dict, uid: str) -> Utterance:
    audio, rate = audio_io.load(path, sample_rate=SAMPLE_RATE, mono=True)
    return Utterance(audio, rate, text, speaker, [], [], labels, uid)


def _check_size(size) -> int | None:
    """``size`` as an int (None: every utterance), or a TypeError/ValueError that says what is allowed."""
    if size is None:
        return None
    if isinstance(size, bool) or not isinstance(size, int | np.integer):
        raise TypeError(
            f"size must be a whole number of utterances or None (all of them), got {type(size).__name__} "
            f"{size!r}"
        )
    if size <= 0:
        raise ValueError(f"size must be a positive number of utterances or None (all of them), got {size}")
    return int(size)


def _limit(paths: list, size: int | None) -> list:
    return paths if size is None else paths[:size]


def _names(paths: Sequence[Path], base: Path, most: int = 5) -> str:
    shown = ", ".join(p.relative_to(base).as_posix() for p in paths[:most])
    return shown + (f" and {len(paths) - most} more" if len(paths) > most else "")


def _check_split(corpus: str, split: str, allowed: tuple[str, ...]) -> None:
    if split not in allowed:
        raise ValueError(f"the {corpus} corpus has splits {allowed}, got split={split!r}")


def load_fsdd(
    root=None, split: str = "train", size: int | None = None, progress: bool = True
) -> list[Utterance]:
    """The Free Spoken Digit Dataset: text is the digit's word, labels ``digit`` and ``digits``."""
    _check_split("fsdd", split, ("train", "test"))
    size = _check_size(size)
    base = _root("fsdd", root)
    candidates = [base / "recordings", *base.glob("*/recordings"), base]
    folder = next((c for c in candidates if c.is_dir() and any(c.glob("*_*_*.wav"))), None)
    if folder is None:
        raise FileNotFoundError(
            f"no FSDD recordings under {base}: expected {_FSDD_LAYOUT}, or root= the recordings folder itself"
        )
    items = []
    paths = sorted(folder.glob("*.wav"))
    misnamed = [p for p in paths if _FSDD_NAME.match(p.stem) is None]
    if misnamed:
        raise ValueError(
            f"{_names(misnamed, folder)} in {folder} are not named like FSDD recordings "
            "({digit}_{speaker}_{take}.wav, e.g. 0_jackson_0.wav): rename them or move them out"
        )
    for path in paths:
        match = _FSDD_NAME.match(path.stem)
        digit, speaker, take = int(match[1]), match[2], int(match[3])
        if (take < 5) == (split == "test"):
            items.append((path, digit, speaker))
    if not items:
        takes = "0-4" if split == "test" else "5 and above"
        raise FileNotFoundError(f"no {split} recordings in {folder}: FSDD's {split} split is takes {takes}")
    items = _limit(items, size)
    return [
        _read(path, DIGITS[d], spk, {"task": "digits", "digit": d, "digits": str(d)}, f"fsdd-{path.stem}")
        for path, d, spk in tqdm(items, desc="reading fsdd", disable=not progress, leave=False)
    ]


def load_speech_commands(
    root=None, split: str = "train", size: int | None = None, progress: bool = True
) -> list[Utterance]:
    """Google Speech Commands v0.02: one keyword per clip, labels ``keyword``."""
    _check_split("speech_commands", split, ("train", "dev", "test"))
    size = _check_size(size)
    base = _root("speech_commands", root)
    clips = [p for p in sorted(base.glob("*/*.wav")) if not p.parent.name.startswith("_")]
    if not clips:
        raise FileNotFoundError(f"no Speech Commands clips under {base}: expected {_SPEECH_COMMANDS_LAYOUT}")
    misnamed = [p for p in clips if _SPEECH_COMMANDS_NAME.match(p.stem) is None]
    if misnamed:
        raise ValueError(
            f"{_names(misnamed, base)} under {base} are not named like Speech Commands clips: expected "
            f"{_SPEECH_COMMANDS_LAYOUT}; is root the Speech Commands folder?"
        )

    def listed(name: str) -> set[str]:
        path = base / name
        if not path.is_file():
            raise FileNotFoundError(
                f"{base} has no {name}: Speech Commands' dev and test splits are the clips listed in "
                "validation_list.txt and testing_list.txt (the rest is train); copy both files from the "
                "release (speech_commands_v0.02.tar.gz) beside the word folders"
            )
        return set(path.read_text(encoding="utf-8").split())

    dev, test = listed("validation_list.txt"), listed("testing_list.txt")
    items = []
    for path in clips:
        word = path.parent.name
        rel = f"{word}/{path.name}"
        which = "test" if rel in test else "dev" if rel in dev else "train"
        if which == split:
            items.append((path, word, _SPEECH_COMMANDS_NAME.match(path.stem)[1]))
    if not items:
        lists = {"dev": "validation_list.txt", "test": "testing_list.txt"}
        where = f"none of the clips listed in {lists[split]} is" if split in lists else "every clip is listed"
        raise FileNotFoundError(f"no {split} clips under {base}: {where} there")
    items = _limit(items, size)
    return [
        _read(path, word, spk, {"task": "keywords", "keyword": word}, f"speech_commands-{word}-{path.stem}")
        for path, word, spk in tqdm(items, desc="reading speech_commands", disable=not progress, leave=False)
    ]


def load_librispeech(
    root=None, split: str = "train", subset: str | None = None, size: int | None = None, progress: bool = True
) -> list[Utterance]:
    """LibriSpeech audiobook sentences, lower-cased (``subset`` such as "dev-clean"; default by split)."""
    _check_split("librispeech", split, ("train", "dev", "test"))
    size = _check_size(size)
    subset = subset or LIBRISPEECH_DEFAULT_SUBSET[split]
    key = f"librispeech/{subset}"
    if root is None and key not in RELEASES:
        known = sorted(k.split("/")[1] for k in RELEASES if k.startswith("librispeech/"))
        raise ValueError(
            f"no pinned download for LibriSpeech subset {subset!r}; choose one of {known} or pass root="
        )
    base = _root("librispeech", root, key)
    layout = (
        f"LibriSpeech/{subset}/{{speaker}}/{{chapter}}/{{speaker}}-{{chapter}}.trans.txt "
        "beside the .flac files"
    )
    candidates = [base / "LibriSpeech" / subset, base / subset, *([base] if base.name == subset else [])]
    folder = next((c for c in candidates if c.is_dir()), None)
    if folder is None:
        found = sorted(
            {p.name for p in (*base.glob("LibriSpeech/*"), *base.glob("*")) if any(p.glob("*/*/*.trans.txt"))}
        )
        if any(base.glob("*/*/*.trans.txt")):
            hint = f"root looks like one subset folder, {base.name!r}: pass subset={base.name!r} to read it"
        elif found:
            hint = f"subsets found there: {found}; pass subset= one of them"
        else:
            hint = "found no LibriSpeech subset there"
        raise FileNotFoundError(f"no LibriSpeech subset {subset!r} under {base}: expected {layout}; {hint}")
    items = []
    for trans in sorted(folder.glob("*/*/*.trans.txt")):
        for number, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), 1):
            uid, _, text = line.strip().partition(" ")
            if uid and not text.strip():
                raise ValueError(f"{trans}, line {number}: expected '{{id}} {{TRANSCRIPT}}', got {line!r}")
            if uid:
                items.append((trans.parent / f"{uid}.flac", text.strip().lower(), uid.split("-")[0], uid))
    if not items:
        raise FileNotFoundError(f"no LibriSpeech transcripts (*.trans.txt) under {folder}: expected {layout}")
    items = _limit(items, size)
    return [
        _read(path, text, spk, {"task": "asr", "subset": subset}, f"librispeech-{uid}")
        for path, text, spk, uid in tqdm(items, desc="reading librispeech", disable=not progress, leave=False)
    ]
