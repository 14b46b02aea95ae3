"""Your own recordings as a corpus: a folder of audio files with transcripts (notebook 18).

Layout: audio files (``.wav``, ``.flac``, ``.ogg``) each with a UTF-8 transcript of the same name
ending in ``.txt`` (``a/b.wav`` + ``a/b.txt``); the speaker is the name of the file's parent folder
relative to the split folder (``"unknown"`` for files directly in it). ``split="train"``, ``"dev"``
or ``"test"`` reads ``root/{split}`` only; ``split="all"`` reads a ``root`` that has no split folders
as one set. :func:`write_folder` writes this layout from any list of recordings and transcripts
(:func:`split_groups` assigns whole speakers or sessions to the splits). Audio is resampled to
16 kHz mono float32, as by the loaders of :mod:`speechlm.corpus.real`; a layout that does not match
raises an error that names the folder or file and the layout expected.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from speechlm import audio as audio_io
from speechlm.corpus.download import CorpusUnavailableError
from speechlm.corpus.real import _check_size, _limit, _names, _read, _root
from speechlm.corpus.utterance import Utterance

__all__ = ["AUDIO_SUFFIXES", "FOLDER_SPLITS", "load_folder", "split_groups", "write_folder"]

AUDIO_SUFFIXES = tuple(audio_io.SAVE_FORMATS)  # .wav, .flac, .ogg: what audio.save writes
# audio that the folder corpus does not read: refused by name rather than left out without a word
OTHER_AUDIO_SUFFIXES = (".mp3", ".m4a", ".aac", ".wma", ".opus", ".aif", ".aiff", ".amr", ".webm")
FOLDER_SPLITS = ("train", "dev", "test")


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
