"""Downloads of real corpora: pinned URL, SHA-256 check, atomic extraction into the cache.

An archive is fetched into ``cache_dir("downloads")`` under a temporary name
(with a progress bar), its SHA-256 compared with the pinned value, and only
then renamed into place and unpacked into a temporary folder that is renamed
when complete. Without internet the first connection fails within
``timeout_s`` seconds with a :class:`CorpusUnavailableError` that says what
to do instead.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from speechlm.utils import atomic_path, cache_dir

__all__ = ["CorpusUnavailableError", "fetch", "sha256_of"]

TIMEOUT_S = 10.0


class CorpusUnavailableError(RuntimeError):
    """A real corpus is neither on disk nor downloadable (no internet, bad checksum...)."""


def offline_message(corpus: str, reason: str) -> str:
    return (
        f"the {corpus} corpus is not available: {reason}. Downloading it needs internet access; "
        f"with a local copy, pass its folder: corpus.load({corpus!r}, root=PATH). Offline, the embedded "
        "corpus always works: corpus.load('embedded', split='train', size=500)."
    )


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(url: str, path: Path, corpus: str, timeout_s: float) -> None:
    try:
        response = urllib.request.urlopen(url, timeout=timeout_s)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise CorpusUnavailableError(offline_message(corpus, f"could not connect to {url} ({exc})")) from exc
    total = int(response.headers.get("Content-Length") or 0) or None
    with response, atomic_path(path) as tmp, open(tmp, "wb") as f:
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {corpus}") as bar:
            for block in iter(lambda: response.read(1 << 20), b""):
                f.write(block)
                bar.update(len(block))


def fetch(corpus: str, url: str, sha256: str, *, timeout_s: float = TIMEOUT_S) -> Path:
    """Download (once) and unpack the archive at ``url``; return the folder it was unpacked into.

    Raises :class:`CorpusUnavailableError` when offline or when the download's
    SHA-256 is not ``sha256`` (the bad file is deleted).
    """
    archive = cache_dir("downloads") / url.rsplit("/", 1)[-1]
    target = cache_dir("corpus", corpus) / archive.name.split(".tar")[0]
    if target.exists():
        return target
    if not archive.exists():
        _download(url, archive, corpus, timeout_s)
    actual = sha256_of(archive)
    if actual != sha256:
        archive.unlink()
        raise CorpusUnavailableError(
            offline_message(corpus, f"the download from {url} has SHA-256 {actual}, expected {sha256}")
        )
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        with tarfile.open(archive) as tar:
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python >= 3.10.12
            tar.extractall(work, **safe)
        work.rename(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target
