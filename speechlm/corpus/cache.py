"""Corpora on disk: one ``.npz`` file per corpus, written atomically, keyed by arguments and version.

A file holds the int16 audio of all utterances end to end, their offsets,
and a JSON document with everything else (texts, speakers, alignments,
labels, and the generator version that made it). It is written to a
temporary name and renamed into place (:func:`speechlm.utils.atomic_path`),
so an interrupted run never leaves a file that loads half a corpus. The file
name contains a hash of the arguments *and* the generator version, and the
version is checked again on reading, so a corpus made by an older generator
is rebuilt rather than reused.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from speechlm.corpus.synthesis import from_int16, to_int16
from speechlm.corpus.utterance import Utterance
from speechlm.utils import atomic_path, cache_dir

__all__ = ["cache_path", "read", "write"]


def cache_path(name: str, params: dict, version: str) -> Path:
    """Where the corpus ``name`` made with ``params`` by generator ``version`` is cached."""
    key = json.dumps({"params": params, "version": version}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    readable = "-".join(
        f"{k}{v}" for k, v in sorted(params.items()) if isinstance(v, int | str) and k != "tasks"
    )
    return cache_dir("corpus", name) / f"{readable}-{digest}.npz"


def write(path: Path, utterances: list[Utterance], version: str) -> None:
    """Save ``utterances`` (all at one sample rate) to ``path`` atomically."""
    audio = [to_int16(u.audio) for u in utterances]
    offsets = np.cumsum([0] + [len(a) for a in audio]).astype(np.int64)
    meta = {
        "version": version,
        "sample_rate": utterances[0].sample_rate if utterances else 16000,
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


def read(path: Path, version: str) -> list[Utterance] | None:
    """The utterances cached at ``path``, or None when it is missing, unreadable or of another version."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(data["meta"].tobytes().decode("utf-8"))
            if meta.get("version") != version:
                return None
            audio = from_int16(data["audio"])
            offsets = data["offsets"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    rate = meta["sample_rate"]
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
        for i, m in enumerate(meta["utterances"])
    ]
