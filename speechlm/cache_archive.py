"""The course cache as one verified archive (the format behind ``python -m speechlm cache pack``).

:func:`pack` writes the built cache (the files of :func:`speechlm.course_cache.expected_files`)
into a plain tar whose first member is a manifest (:data:`MANIFEST`): each file's relative path,
size, SHA-256, artefact and recipe key, the package version and the archive :data:`FORMAT`.
Packing is deterministic (sorted members, mtime 0, uid 0, mode 0644), so two packs of the same
cache are byte-identical.

:func:`verify` checks all of an archive without writing anything: the manifest parses; every
member is a regular file listed in it with the right size and SHA-256; no path leaves the cache
folder (absolute paths, ``..``, links and devices are refused); every recipe key is the one this
installed package would build; the format is :data:`FORMAT` and the package version is of the same
``major.minor`` series (the recipe keys decide everything else). :func:`unpack` verifies, then
writes each file atomically into the writable cache (:func:`speechlm.utils.cache_dir`), hashing it
again as it is written, and never replaces a file already cached. Nothing is loaded: the loaders
then find the files as if they had trained them. Downloading such an archive, and when the course
does it, is :mod:`speechlm.cache_fetch` (Colab's warm start, notebooks 11-17).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import posixpath
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from speechlm import course_cache
from speechlm.corpus.download import sha256_of
from speechlm.utils import atomic_path, cache_dir, find_cached

__all__ = ["ASSET", "FORMAT", "MANIFEST", "CacheArchiveError", "pack", "unpack", "verify"]

FORMAT = 1  # bump when the archive's layout or manifest changes
MANIFEST = "speechlm-cache-manifest.json"  # the archive's first member; never unpacked
ASSET = "speechlm-cache.tar"  # the archive's default file name, and the release asset's
_BLOCK = 1 << 20


class CacheArchiveError(RuntimeError):
    """A cache archive cannot be packed, downloaded or trusted; the message says what and why."""


def _version() -> str:
    from speechlm import __version__

    return __version__


def _bar(progress: bool, total: int | None, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc=desc, disable=not progress, leave=False)


class _Hashing(io.RawIOBase):
    """A file read through, hashing what passes (to check a file did not change while packed)."""

    def __init__(self, f, bar):
        self.f, self.bar, self.sha = f, bar, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        block = self.f.read(size)
        self.sha.update(block)
        self.bar.update(len(block))
        return block


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    """A member header that depends on nothing but ``name`` and ``size`` (deterministic packs)."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def pack(out: str | os.PathLike, only: Sequence[str] | None = None, *, progress: bool = True) -> Path:
    """Write the built artefacts ``only`` names (default all) into the archive ``out``, atomically;
    their files are read from any cache layer (:func:`speechlm.utils.find_cached`). Returns ``out``.
    Raises CacheArchiveError naming the missing files when the cache is not built."""
    files = course_cache.expected_files(only)
    found = {rel: find_cached(*rel.split("/")) for rel in sorted(files)}
    missing = [rel for rel, path in found.items() if path is None]
    if missing:
        names = " ".join(dict.fromkeys(files[rel][0] for rel in files if rel in missing))  # build order
        raise CacheArchiveError(
            f"cannot pack: {len(missing)} file(s) of {names} are not cached (first: {missing[0]}); "
            f"build them first with `python -m speechlm cache build --only {names}`"
        )
    entries = [
        {"path": rel, "size": path.stat().st_size, "sha256": sha256_of(path), "artefact": files[rel][0],
         "recipe": files[rel][1]}
        for rel, path in found.items()
    ]  # fmt: skip
    manifest = {
        "format": FORMAT,
        "package": "speechlm",
        "version": _version(),
        "recipes": course_cache.recipe_keys(only),
        "files": entries,
    }
    blob = json.dumps(manifest, indent=1, sort_keys=True).encode()
    out = Path(out)
    with atomic_path(out) as tmp, tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(_tarinfo(MANIFEST, len(blob)), io.BytesIO(blob))
        with _bar(progress, sum(e["size"] for e in entries), f"packing {out.name}") as bar:
            for entry in entries:
                with open(found[entry["path"]], "rb") as f:
                    reader = _Hashing(f, bar)
                    tar.addfile(_tarinfo(entry["path"], entry["size"]), reader)
                if reader.sha.hexdigest() != entry["sha256"]:
                    raise CacheArchiveError(f"{found[entry['path']]} changed while it was packed; pack again")
    return out


# ------------------------------------------------------------------------------------ verifying


def _unsafe(path: str) -> str | None:
    """Why the member path ``path`` may not be unpacked into the cache folder, or None."""
    if not path:
        return "it is not a file name"
    if path.startswith("/") or "\\" in path or (len(path) > 1 and path[1] == ":"):
        return "it is absolute"
    if posixpath.normpath(path) != path or ".." in path.split("/"):
        return "it escapes the cache folder"
    return None


def _kind(member: tarfile.TarInfo) -> str:
    kinds = {tarfile.SYMTYPE: "a symbolic link", tarfile.LNKTYPE: "a hard link", tarfile.DIRTYPE: "a folder"}
    return kinds.get(member.type, "a device or special file")


def _schema_problem(manifest: object) -> str | None:
    """What is missing or malformed in a parsed manifest, or None."""
    if not isinstance(manifest, dict):
        return "it is not a JSON object"
    for key, kind in (("format", int), ("version", str), ("recipes", dict), ("files", list)):
        if not isinstance(manifest.get(key), kind):
            return f"{key!r} is missing or not a {kind.__name__}"
    fields = (("path", str), ("size", int), ("sha256", str), ("artefact", str), ("recipe", str))
    for entry in manifest["files"]:
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), t) for k, t in fields):
            return f"the file entry {entry!r} needs {', '.join(k for k, _ in fields)}"
    if len({e["path"] for e in manifest["files"]}) != len(manifest["files"]):
        return "a file is listed twice"
    return None


def _read_manifest(tar: tarfile.TarFile, where: str) -> dict:
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isreg() or first.size > 16 * _BLOCK:
        found = "nothing" if first is None else repr(first.name)
        raise CacheArchiveError(
            f"{where} is not a course cache archive: it starts with {found}, not {MANIFEST}"
        )
    try:
        manifest = json.loads(tar.extractfile(first).read())
    except ValueError as error:  # bad JSON or bad UTF-8
        raise CacheArchiveError(f"the manifest of {where} is not JSON ({error})") from None
    if (problem := _schema_problem(manifest)) is not None:
        raise CacheArchiveError(f"the manifest of {where} cannot be used: {problem}")
    if manifest["format"] != FORMAT:
        raise CacheArchiveError(
            f"{where} has archive format {manifest['format']}; this package reads {FORMAT}"
        )
    ours = _version()
    if manifest["version"].split(".")[:2] != ours.split(".")[:2]:
        raise CacheArchiveError(
            f"{where} was packed by speechlm {manifest['version']}, this is {ours}: an archive is used only "
            "within one major.minor series"
        )
    for entry in manifest["files"]:
        if (why := _unsafe(entry["path"])) is not None:
            raise CacheArchiveError(f"{where} lists {entry['path']!r}, refused: {why}")
    return manifest


def _check_recipes(manifest: dict, where: str) -> None:
    """Refuse an archive whose recipe keys are not the ones this installed package builds."""
    ours, theirs = course_cache.recipe_keys(), manifest["recipes"]
    if unknown := sorted(set(theirs) - set(ours)):
        raise CacheArchiveError(f"{where} holds {unknown[0]!r}, which this speechlm does not build")
    for artefact in [name for name in ours if name in theirs]:  # in build order: the root cause first
        if theirs[artefact] != ours[artefact]:
            raise CacheArchiveError(
                f"{where} holds {artefact!r} built from recipe {theirs[artefact]!r}, but this speechlm "
                f"builds {ours[artefact]!r}: it is an archive for another recipe"
            )
    expected = course_cache.expected_files(list(manifest["recipes"]))
    for entry in manifest["files"]:
        if expected.get(entry["path"]) != (entry["artefact"], entry["recipe"]):
            raise CacheArchiveError(
                f"{where} holds {entry['path']!r} ({entry['artefact']}, recipe {entry['recipe']}), "
                "which is not a file this speechlm builds for that recipe"
            )
    listed = {e["path"] for e in manifest["files"]}
    if missing := sorted(set(expected) - listed):
        raise CacheArchiveError(f"{where} lacks {missing[0]} (and {len(missing) - 1} more) of its artefacts")


def _members(tar: tarfile.TarFile, files: dict, where: str) -> Iterator[tuple[tarfile.TarInfo, dict]]:
    """Each member after the manifest with its manifest entry; refuses what may not be unpacked."""
    seen = set()
    while (member := tar.next()) is not None:
        if (why := _unsafe(member.name)) is not None:
            raise CacheArchiveError(f"{where} holds the member {member.name!r}, refused: {why}")
        if not member.isreg():
            raise CacheArchiveError(
                f"{where} holds {member.name!r} as {_kind(member)}: only files are unpacked"
            )
        if member.name not in files or member.name in seen:
            problem = "twice" if member.name in seen else "but its manifest does not list it"
            raise CacheArchiveError(f"{where} holds {member.name!r} {problem}")
        if member.size != files[member.name]["size"]:
            raise CacheArchiveError(
                f"{where} holds {member.name!r} of {member.size} bytes, but its manifest says "
                f"{files[member.name]['size']}"
            )
        seen.add(member.name)
        yield member, files[member.name]
    if missing := sorted(set(files) - seen):
        raise CacheArchiveError(f"{where} lacks {missing[0]}, which its manifest lists: it is truncated")


def _copy(source, target, entry: dict, where: str) -> None:
    """Copy a member's bytes to ``target`` (a file or None), checking its SHA-256."""
    digest = hashlib.sha256()
    for block in iter(lambda: source.read(_BLOCK), b""):
        digest.update(block)
        if target is not None:
            target.write(block)
    if digest.hexdigest() != entry["sha256"]:
        raise CacheArchiveError(
            f"{where} holds {entry['path']!r} with SHA-256 {digest.hexdigest()[:16]}..., but its manifest "
            f"says {entry['sha256'][:16]}...: the archive is damaged"
        )


@contextlib.contextmanager
def _open(archive: Path, where: str) -> Iterator[tarfile.TarFile]:
    """The tar ``archive``; a tar error while reading it (not a cache that cannot be written) becomes
    a CacheArchiveError."""
    try:
        tar = tarfile.open(archive, "r:")
    except (tarfile.TarError, OSError) as error:
        raise CacheArchiveError(f"{where} is damaged or truncated ({error})") from None
    try:
        with tar:
            yield tar
    except (tarfile.TarError, EOFError) as error:
        raise CacheArchiveError(f"{where} is damaged or truncated ({error})") from None


def verify(archive: str | os.PathLike, where: str | None = None) -> dict:
    """Check all of ``archive`` (see the module's docstring) without writing anything; return its
    manifest. Raises CacheArchiveError saying what is wrong (``where`` names the archive in it)."""
    where = where or str(archive)
    with _open(Path(archive), where) as tar:
        manifest = _read_manifest(tar, where)
        _check_recipes(manifest, where)
        for member, entry in _members(tar, {e["path"]: e for e in manifest["files"]}, where):
            _copy(tar.extractfile(member), None, entry, where)
    return manifest


def unpack(archive: str | os.PathLike, where: str | None = None) -> list[Path]:
    """:func:`verify` all of ``archive``, then write each member into the writable cache (atomically,
    hashed again as it is written); a file already in any cache layer is kept as it is, never
    replaced. Returns the files written. Raises CacheArchiveError before writing anything when the
    archive cannot be trusted."""
    where = where or str(archive)
    archive, manifest = Path(archive), verify(archive, where)
    root, written = cache_dir(), []
    with _open(archive, where) as tar:
        _read_manifest(tar, where)
        for member, entry in _members(tar, {e["path"]: e for e in manifest["files"]}, where):
            if find_cached(*entry["path"].split("/")) is not None:
                continue
            target = root.joinpath(*entry["path"].split("/"))
            with atomic_path(target) as tmp, open(tmp, "wb") as f:
                _copy(tar.extractfile(member), f, entry, where)
            written.append(target)
    return written
