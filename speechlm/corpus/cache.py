"""Corpora on disk: one ``.npz`` file per corpus, written atomically, keyed by arguments and version.

A file holds the int16 audio of all utterances end to end, their offsets,
and a JSON document with everything else (texts, speakers, alignments,
labels, and the generator version that made it). It is written to a
temporary name and renamed into place (:func:`speechlm.utils.atomic_path`),
so an interrupted run never leaves a file that loads half a corpus. The file
name contains a hash of the arguments *and* the generator version, and the
version is checked again on reading, so a corpus made by an older generator
is rebuilt rather than reused. A file that cannot be read (empty, truncated,
a failed zip CRC check, bad JSON, arrays of the wrong shape) is reported with
a :class:`~speechlm.utils.CacheWarning` naming it and rebuilt. Files are
looked up in the writable cache and then in the shared read-only caches
(:func:`speechlm.utils.find_cached`); a rebuilt corpus is always written to
the writable one.
"""

from __future__ import annotations

import hashlib
import json
import warnings
import zipfile
from pathlib import Path

import numpy as np

from speechlm.audio import SAMPLE_RATE
from speechlm.corpus.synthesis import from_int16, to_int16
from speechlm.corpus.utterance import Utterance
from speechlm.utils import CacheWarning, atomic_path, cache_dir, find_cached

__all__ = ["cache_path", "read", "write"]


def cache_path(name: str, params: dict, version: str) -> Path:
    """Where the corpus ``name`` made with ``params`` by generator ``version`` is written.

    Creates no folder: :func:`write` does, so ``corpus.load(..., cache=False)`` leaves the disk alone.
    """
    key = json.dumps({"params": params, "version": version}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    readable = "-".join(
        f"{k}{v}" for k, v in sorted(params.items()) if isinstance(v, int | str) and k != "tasks"
    )
    return cache_dir("corpus", name, create=False) / f"{readable}-{digest}.npz"


def write(path: Path, utterances: list[Utterance], version: str) -> None:
    """Save ``utterances`` (all at one sample rate) to ``path`` atomically."""
    audio = [to_int16(u.audio) for u in utterances]
    offsets = np.cumsum([0] + [len(a) for a in audio]).astype(np.int64)
    meta = {
        "version": version,
        "sample_rate": utterances[0].sample_rate if utterances else SAMPLE_RATE,
        "utterances": [
            {
                "id": u.id,
                "text": u.text,
                "speaker": u.speaker,
                "words": u.words,
                "phones": u.phones,
                "labels": u.labels,
            }
            for u in utterances
        ],
    }
    blob = np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(
            f, audio=np.concatenate(audio) if audio else np.zeros(0, np.int16), offsets=offsets, meta=blob
        )


def _find(path: Path) -> Path | None:
    """``path`` if it exists; for a path in the writable cache, the first copy in any cache layer."""
    try:
        parts = path.relative_to(cache_dir(create=False)).parts
    except ValueError:  # a file outside the course cache: no other layer to look in
        return path if path.is_file() else None
    return find_cached(*parts)


def _decode(data, version: str) -> list[Utterance] | None:
    """The utterances in the open ``.npz`` archive ``data``; raises when anything is malformed."""
    meta = json.loads(data["meta"].tobytes().decode("utf-8"))
    if meta.get("version") != version:
        return None
    audio, offsets = data["audio"], data["offsets"]
    entries = meta["utterances"]
    if audio.ndim != 1 or audio.dtype != np.int16:
        raise ValueError(f"audio must be int16 of shape (samples,), got {audio.dtype} {audio.shape}")
    if offsets.shape != (len(entries) + 1,) or offsets[0] != 0 or offsets[-1] != audio.size:
        raise ValueError(f"offsets {offsets.shape} do not match {len(entries)} utterances")
    if np.any(np.diff(offsets) < 0):
        raise ValueError("offsets decrease")
    audio, rate = from_int16(audio), int(meta["sample_rate"])
    return [
        Utterance(
            audio=audio[offsets[i] : offsets[i + 1]],
            sample_rate=rate,
            text=m["text"],
            speaker=m["speaker"],
            words=[tuple(w) for w in m["words"]],
            phones=[tuple(p) for p in m["phones"]],
            labels=m["labels"],
            id=m["id"],
        )
        for i, m in enumerate(entries)
    ]


def read(path: Path, version: str) -> list[Utterance] | None:
    """The utterances cached at ``path`` (or its copy in a shared cache), or None when there is none,
    it is of another generator version, or it is damaged (then a CacheWarning names the file)."""
    found = _find(path)
    if found is None:
        return None
    try:
        data = np.load(found, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz archive")
        with data:
            return _decode(data, version)
    except PermissionError:
        raise
    except (OSError, EOFError, ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile) as error:
        warnings.warn(
            f"the cached corpus {found} is damaged ({type(error).__name__}: {error}); rebuilding it"
            + ("" if found == path else f" into {path}"),
            CacheWarning,
            stacklevel=3,
        )
        return None
