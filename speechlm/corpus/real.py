"""Real corpora through the embedded corpus's interface: FSDD, Speech Commands, LibriSpeech, a folder.

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
- ``folder``: audio files (``.wav``, ``.flac``, ``.ogg``) each with a UTF-8
  transcript of the same name ending in ``.txt`` (``a/b.wav`` + ``a/b.txt``);
  the speaker is the name of the file's parent folder relative to the split
  folder (``"unknown"`` for files directly in it). ``split="train"``, ``"dev"``
  or ``"test"`` reads ``root/{split}`` only; ``split="all"`` reads a ``root``
  that has no split folders as one set. Introduced in notebook 18.
  :func:`write_folder` writes this layout from any list of recordings and transcripts.

A layout that does not match (an empty folder, another corpus's folder, a
missing split, a misnamed or unreadable file) raises an error that names the
folder or file and the layout expected; nothing is skipped without a word.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from speechlm import audio as audio_io
from speechlm.audio import SAMPLE_RATE
from speechlm.corpus.download import CorpusUnavailableError, fetch
from speechlm.corpus.lexicon import DIGITS
from speechlm.corpus.utterance import Utterance

__all__ = [
    "RELEASES",
    "load_folder",
    "load_fsdd",
    "load_librispeech",
    "load_speech_commands",
    "split_groups",
    "write_folder",
]

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
AUDIO_SUFFIXES = tuple(audio_io.SAVE_FORMATS)  # .wav, .flac, .ogg: what audio.save writes
# audio that the folder corpus does not read: refused by name rather than left out without a word
OTHER_AUDIO_SUFFIXES = (".mp3", ".m4a", ".aac", ".wma", ".opus", ".aif", ".aiff", ".amr", ".webm")
FOLDER_SPLITS = ("train", "dev", "test")


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


def _split_folder(base: Path, split: str) -> Path:
    """The folder that holds ``split`` of a folder corpus at ``base``, or an error naming what is there."""
    if split not in (*FOLDER_SPLITS, "all"):
        raise ValueError(
            f"the folder corpus at {base} has splits {FOLDER_SPLITS} (sub-folders of root), or 'all' for "
            f"a root without them; got split={split!r}"
        )
    present = [s for s in FOLDER_SPLITS if (base / s).is_dir()]
    if split == "all" and present:
        raise ValueError(
            f"{base} has split folders {present}: load each with split=..., so that no recording is in "
            "two sets; split='all' is for a folder without train/, dev/ or test/"
        )
    if split == "all":
        return base
    if not present:
        raise FileNotFoundError(
            f"{base} has no split folders (train/, dev/, test/), so it has no {split!r} split: pass "
            f"split='all' to load every recording under it as one set, or sort them into {base / 'train'}, "
            f"{base / 'test'}..."
        )
    if split not in present:
        raise FileNotFoundError(
            f"{base} has no {split}/ folder; its split folders are {present}: pass one of them as split="
        )
    return base / split


def _read_transcript(path: Path) -> str:
    """The stripped UTF-8 text of the ``.txt`` file beside the recording at ``path`` (a BOM is dropped)."""
    transcript = path.with_suffix(".txt")
    if not transcript.is_file():
        raise FileNotFoundError(f"{path} has no transcript: expected {transcript.name} beside it")
    try:
        text = transcript.read_text(encoding="utf-8-sig").strip()
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{transcript} is not UTF-8 text (byte {exc.start}: {exc.reason}): save it as UTF-8, e.g. "
            "iconv -f latin1 -t utf-8 (or -f utf-16) or your editor's 'Save as UTF-8'"
        ) from exc
    if "\x00" in text:
        raise ValueError(f"{transcript} holds NUL characters (UTF-16 text?): save it as UTF-8")
    if not text:
        raise ValueError(f"{transcript} is empty: write the words spoken in {path.name} into it")
    return text


def load_folder(
    root, split: str = "train", size: int | None = None, progress: bool = True
) -> list[Utterance]:
    """Any folder of audio files with a ``.txt`` transcript beside each (see the module docstring).

    ``split`` is ``"train"``, ``"dev"`` or ``"test"`` (the sub-folder ``root/{split}``, which must
    exist), or ``"all"`` for a ``root`` without split folders. Raises for an audio file in a format
    it does not read (``.mp3``...: convert it), two recordings with one name (``a.wav``, ``a.flac``),
    and a transcript that is missing, empty or not UTF-8, each naming the file.
    """
    if root is None:
        raise CorpusUnavailableError(
            "corpus.load('folder', root=PATH) needs root: a folder of audio files with .txt transcripts"
        )
    size = _check_size(size)
    base = _split_folder(_root("folder", root), split)
    files = sorted(p for p in base.rglob("*") if p.is_file())
    other = [p for p in files if p.suffix.lower() in OTHER_AUDIO_SUFFIXES]
    if other:
        raise ValueError(
            f"the folder corpus reads {', '.join(AUDIO_SUFFIXES)} files, and would leave out "
            f"{_names(other, base)} under {base}: convert them (e.g. ffmpeg -i {other[0].name} "
            f"{other[0].stem}.wav) or move them out of the folder"
        )
    seen: dict[Path, Path] = {}
    for path in (p for p in files if p.suffix.lower() in AUDIO_SUFFIXES):
        key = path.with_suffix("")
        if key in seen:
            raise ValueError(
                f"{seen[key]} and {path} are two recordings with one name (and one transcript): "
                "keep one of them or rename the other"
            )
        seen[key] = path
    if not seen:
        raise FileNotFoundError(
            f"no audio files ({', '.join(AUDIO_SUFFIXES)}) under {base}: expected each with a .txt "
            "transcript of the same name beside it"
        )
    items = []
    for path in seen.values():
        rel = path.parent.relative_to(base)
        items.append((path, _read_transcript(path), rel.as_posix() if rel.parts else "unknown"))
    items = _limit(items, size)
    return [
        _read(path, text, spk, {"task": "asr"}, f"folder-{path.relative_to(base).with_suffix('')}")
        for path, text, spk in tqdm(items, desc="reading folder", disable=not progress, leave=False)
    ]


def split_groups(groups: Sequence, test: float, dev: float, seed: int = 0) -> dict:
    """Assign each group (a game level, a sentence, a speaker: whatever must not straddle splits) to
    ``"test"``, ``"dev"`` or ``"train"``: a seeded shuffle, then the given shares of the groups
    (rounded) to test and dev, the rest to train. Returns ``{group: split}``."""
    if not (0 <= test and 0 <= dev and test + dev <= 1):
        raise ValueError(f"test and dev must be shares that add up to at most 1, got {test} and {dev}")
    order = [groups[i] for i in np.random.default_rng(seed).permutation(len(groups))]
    n_test, n_dev = round(test * len(order)), round(dev * len(order))
    names = ["test"] * n_test + ["dev"] * n_dev + ["train"] * (len(order) - n_test - n_dev)
    return dict(zip(order, names, strict=True))


def write_folder(out, entries: Iterable[dict]) -> dict[str, int]:
    """Write recordings and their transcripts as a corpus that :func:`load_folder` reads.

    Each entry is a dict with ``split`` (train, dev or test), ``speaker``, ``name``, ``audio`` (the
    path of an existing ``.wav``, ``.flac`` or ``.ogg`` file, copied as it is) and ``text`` (one
    line); it becomes ``out/{split}/{speaker}/{name}{suffix}`` with ``{name}.txt`` beside it. The
    corpus is written to ``out.partial`` and renamed to ``out`` when complete, so ``out`` never holds
    half a corpus; ``out`` must not exist. Returns the number of recordings per split.
    """
    out = Path(out).expanduser()
    if out.exists():
        raise FileExistsError(f"{out} exists; give a new folder")
    checked, seen = [], set()
    for entry in entries:
        split, speaker, name = entry["split"], str(entry["speaker"]), str(entry["name"])
        audio, text = Path(entry["audio"]), " ".join(str(entry["text"]).split())
        if split not in FOLDER_SPLITS:
            raise ValueError(f"split must be one of {FOLDER_SPLITS}, got {split!r} for {name!r}")
        if not speaker or not name or any(c in speaker + name for c in "/\\") or name.startswith("."):
            raise ValueError(f"speaker and name must be non-empty file names, got {speaker!r}, {name!r}")
        if audio.suffix.lower() not in AUDIO_SUFFIXES or not audio.is_file():
            raise FileNotFoundError(f"{audio} is not an audio file ({', '.join(AUDIO_SUFFIXES)})")
        if not text:
            raise ValueError(f"{name!r} has an empty transcript")
        if (split, speaker, name) in seen:
            raise ValueError(f"two recordings would be written as {split}/{speaker}/{name}")
        seen.add((split, speaker, name))
        checked.append((split, speaker, name, audio, text))
    if not checked:
        raise ValueError("no recordings to write")
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    counts = dict.fromkeys(FOLDER_SPLITS, 0)
    for split, speaker, name, audio, text in checked:
        folder = partial / split / speaker
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(audio, folder / f"{name}{audio.suffix.lower()}")
        (folder / f"{name}.txt").write_text(text + "\n", encoding="utf-8")
        counts[split] += 1
    partial.rename(out)
    return counts
