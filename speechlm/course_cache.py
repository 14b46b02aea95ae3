"""Build the course's cache once, for a whole class: ``python -m speechlm cache build`` / ``cache info``.

The shared artefacts (notebooks 11-17 need them; each takes minutes to make)
are built into the writable cache (:func:`speechlm.utils.cache_dir`, so
``SPEECHLM_CACHE``) by calling the same public functions the notebooks call:

- ``corpus``: the embedded corpus's splits those artefacts train and test on;
- ``encoder``: ``pretrained.load("hubert")`` (notebook 11; about 10 minutes on 2 cores);
- ``asr``: ``pretrained.load_asr("ctc")`` (notebooks 12-16);
- ``curves``: ``label_efficiency.load_shots_curve()``, notebook 12's label-efficiency point (the CTC
  curve, ``load_ctc_curve()``, is the benchmark's and is not part of the course's cache).

An instructor builds them into a folder the class can read; students set
``SPEECHLM_SHARED_CACHE`` to it and read it without writing
(:func:`speechlm.utils.find_cached`); anything a student makes goes to their
own ``SPEECHLM_CACHE``. See the README's section for instructors.

:func:`expected_files` names every file a build makes, with the recipe key it was built from
(:func:`recipe_keys`); :mod:`speechlm.cache_archive` packs exactly those files into an archive
and checks an archive's keys against them before it unpacks anything (Colab's warm start).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from speechlm.utils import cache_dir, shared_cache_dirs

__all__ = [
    "ARTEFACTS",
    "Artefact",
    "UnknownArtefactError",
    "build",
    "cached_files",
    "corpus_splits",
    "describe",
    "expected_files",
    "recipe_keys",
]


class UnknownArtefactError(ValueError):
    """:func:`build` was asked for an artefact it does not know; the message suggests the right name."""


def corpus_splits() -> list[dict]:
    """The ``corpus.load("embedded", **kwargs)`` calls behind the shared artefacts, without repeats:
    the encoder's unlabeled training split, the recogniser's training, dev and test splits (notebook
    12 scores it on those 120 test utterances), and the digit words of notebook 12's label-efficiency
    point (:func:`speechlm.label_efficiency.digit_words`)."""
    from speechlm import label_efficiency, pretrained

    encoder, asr = pretrained.RECIPES["hubert"], pretrained.ASR_RECIPES["ctc"]
    ctc, shots = label_efficiency.CTC_DATA, label_efficiency.SHOTS_DATA
    calls = [
        {"split": "train", "size": encoder.hubert.n_utterances, "seed": encoder.corpus_seed},
        {"split": "train", "size": asr.n_utterances, "seed": asr.corpus_seed},
        {"split": "dev", "size": asr.n_dev, "seed": asr.corpus_seed},
        {"split": "dev", "size": ctc["n_dev"], "seed": ctc["corpus_seed"]},
        {"split": "test", "size": ctc["n_test"], "seed": ctc["corpus_seed"]},
        *(
            {"split": split, "size": shots[f"n_{split}"], "seed": shots["corpus_seed"], "tasks": "digits"}
            for split in ("train", "dev", "test")
        ),
    ]
    unique = []
    for call in calls:
        if call not in unique:
            unique.append(call)
    return unique


def _corpus(progress: bool) -> None:
    from speechlm import corpus

    for call in corpus_splits():
        corpus.load("embedded", progress=progress, **call)


def _encoder(progress: bool) -> None:
    from speechlm import pretrained

    pretrained.load("hubert", progress=progress)


def _asr(progress: bool) -> None:
    from speechlm import pretrained

    pretrained.load_asr("ctc", progress=progress)


def _curves(progress: bool) -> None:
    from speechlm import label_efficiency

    label_efficiency.load_shots_curve(progress=progress)


@dataclass(frozen=True)
class Artefact:
    """One thing :func:`build` makes: ``make(progress)`` builds it into the writable cache."""

    name: str
    description: str
    make: Callable[[bool], None]


ARTEFACTS: dict[str, Artefact] = {
    a.name: a
    for a in (
        Artefact("corpus", "embedded-corpus splits of the shared artefacts", _corpus),
        Artefact("encoder", 'pretrained encoder, pretrained.load("hubert") (notebook 11)', _encoder),
        Artefact("asr", 'recogniser, pretrained.load_asr("ctc") (notebooks 12-16)', _asr),
        Artefact("curves", "label-efficiency point of notebook 12 (one digit word per digit)", _curves),
    )
}


def _check_names(only: Sequence[str]) -> list[str]:
    for name in only:
        if name not in ARTEFACTS:
            close = difflib.get_close_matches(name, ARTEFACTS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UnknownArtefactError(f"unknown artefact {name!r}: {hint}choose from {', '.join(ARTEFACTS)}")
    return [name for name in ARTEFACTS if name in only]  # in build order


def _snapshot(root: Path) -> dict[Path, tuple[int, int]]:
    if not root.is_dir():
        return {}
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}


def _size(paths: Sequence[Path]) -> str:
    return f"{sum(p.stat().st_size for p in paths) / 1e6:.1f} MB"


def build(only: Sequence[str] | None = None, progress: bool = True) -> list[Path]:
    """Build the artefacts ``only`` names (default all of :data:`ARTEFACTS`, in that order) into the
    writable cache; artefacts already cached (in any layer) are not built again. Prints a line per
    artefact when ``progress``. Returns the files this call wrote. Raises UnknownArtefactError (a
    ValueError) for an unknown name, PermissionError when the cache cannot be written."""
    names = _check_names(list(ARTEFACTS) if only is None else list(only))
    root = cache_dir()
    written: list[Path] = []
    for number, name in enumerate(names, 1):
        if progress:
            print(f"[{number}/{len(names)}] {name}: {ARTEFACTS[name].description} ...", flush=True)
        before, start = _snapshot(root), time.perf_counter()
        ARTEFACTS[name].make(progress)
        new = sorted(p for p, s in _snapshot(root).items() if before.get(p) != s)
        written += new
        if progress:
            done = f"built {len(new)} file(s), {_size(new)}" if new else "already cached"
            print(
                f"[{number}/{len(names)}] {name}: {done} in {time.perf_counter() - start:.0f} s", flush=True
            )
    private = [p for p in written if not p.stat().st_mode & stat.S_IROTH]
    if progress and private and os.name != "nt":
        print(
            f"note: {len(private)} file(s) are not readable by other users (your umask hides them): "
            f"for a class run `chmod -R a+rX {root}`, or build under `umask 022`"
        )
    return written


def cached_files() -> list[tuple[str, Path, int]]:
    """Every file in every cache layer: ``(layer, path, size in bytes)``, the writable cache first
    (layer ``"writable"``), then each shared one (``"shared"``)."""
    layers = [("writable", cache_dir(create=False))] + [("shared", d) for d in shared_cache_dirs()]
    rows = []
    for layer, root in layers:
        if root.is_dir():
            files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
            rows += [(layer, p, p.stat().st_size) for p in files]
    return rows


def describe() -> str:
    """What :func:`cached_files` finds, as text: per layer and folder, the files and their sizes."""
    roots = [("writable", cache_dir(create=False), "SPEECHLM_CACHE")]
    roots += [("shared", d, "SPEECHLM_SHARED_CACHE") for d in shared_cache_dirs()]
    rows = cached_files()
    lines = []
    for layer, root, variable in roots:
        mine = [(p, size) for lay, p, size in rows if lay == layer and p.is_relative_to(root)]
        total = sum(size for _, size in mine) / 1e6
        state = "" if root.is_dir() else " (does not exist yet)"
        lines.append(f"{layer} cache {root} ({variable}){state}: {len(mine)} file(s), {total:.1f} MB")
        for path, size in mine:
            hidden = not path.stat().st_mode & stat.S_IROTH and os.name != "nt"
            readable = "  [not readable by other users]" if hidden else ""
            lines.append(f"  {path.relative_to(root)!s:76} {size / 1e6:8.1f} MB{readable}")
    return "\n".join(lines)


# ------------------------------------------------------------------ what a build makes, by recipe key


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _corpus_file(call: dict) -> Path:
    """Where ``corpus.load("embedded", **call)`` caches its utterances (the path
    :func:`speechlm.corpus.embedded.load_embedded` computes: clean audio, the call's tasks)."""
    from speechlm.corpus import cache, generator_version, grammar

    params = {k: call[k] for k in ("split", "size", "seed")}
    params.update(tasks=list(grammar.check_tasks(call.get("tasks"))), noise=None, reverb=False)
    return cache.cache_path("embedded", params, generator_version())


def _curve_file(kind: str) -> Path:
    """Where ``label_efficiency.load_ctc_curve()`` (``kind="ctc"``) or ``load_shots_curve()``
    (``"shots"``) caches its result (the name hashes the curve's settings)."""
    from speechlm import label_efficiency

    name = label_efficiency.cache_name(kind, label_efficiency.curve_settings(kind))
    return cache_dir("results", create=False) / name


def _files_by_artefact() -> dict[str, list[Path]]:
    from speechlm import pretrained

    return {
        "corpus": sorted({_corpus_file(call) for call in corpus_splits()}),
        "encoder": [pretrained.cache_path("hubert")],
        "asr": [pretrained.asr_cache_path("ctc")],
        "curves": [_curve_file("shots")],
    }


def recipe_keys(only: Sequence[str] | None = None) -> dict[str, str]:
    """The recipe key of each artefact ``only`` names (default all) as this installed package builds
    it: the encoder's and recogniser's own keys (``pretrained.RECIPES["hubert"].key()``...), and for
    the corpus and the curves a hash of everything their file names hash (generator version and
    splits; curve recipes, data and encoder key). Changing a recipe changes its key."""
    files = _files_by_artefact()
    keys = {name: _digest([p.name for p in paths]) for name, paths in files.items()}
    keys["corpus"], keys["curves"] = f"corpus-{keys['corpus']}", f"curves-{keys['curves']}"
    keys["encoder"], keys["asr"] = files["encoder"][0].stem, files["asr"][0].stem
    return {name: keys[name] for name in _check_names(list(ARTEFACTS) if only is None else list(only))}


def expected_files(only: Sequence[str] | None = None) -> dict[str, tuple[str, str]]:
    """Every file :func:`build` makes for the artefacts ``only`` names (default all): its path
    relative to the cache root (POSIX, e.g. ``"pretrained/hubert-v2-....pt"``) -> ``(artefact,
    recipe key)``. Computed from the recipes alone; nothing is built or read."""
    root, keys = cache_dir(create=False), recipe_keys(only)
    files = _files_by_artefact()
    return {
        path.relative_to(root).as_posix(): (name, key) for name, key in keys.items() for path in files[name]
    }
