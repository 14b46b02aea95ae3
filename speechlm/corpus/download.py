"""Downloads of real corpora: pinned URL, SHA-256 check, atomic extraction into the cache.

An archive is fetched into ``cache_dir("downloads")`` under a temporary name
(with a progress bar), its SHA-256 compared with the pinned value, and only
then renamed into place and unpacked into a temporary folder that is renamed
when complete. Without internet the first connection fails within
``timeout_s`` seconds with a :class:`CorpusUnavailableError` that names the
URL and the archive's place in the cache and says what to do instead (place
the archive there by hand, pass ``root=`` to an unpacked copy, or use the
embedded corpus); a download cut short or with the wrong SHA-256 is deleted,
never unpacked.
"""

from __future__ import annotations

import hashlib
import http.client
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


def offline_message(corpus: str, reason: str, url: str, archive: Path) -> str:
    """What went wrong with the download of ``url`` into ``archive``, and the three ways on from there."""
    return (
        f"the {corpus} corpus is not available: {reason}. Downloading it needs internet access. "
        f"By hand: download {url} (a browser, or curl -L -O), then put the archive at {archive} and run "
        f"this again (it is checked and unpacked for you), or unpack it anywhere and pass that folder: "
        f"corpus.load({corpus!r}, root=PATH). Offline, the embedded corpus always works: "
        "corpus.load('embedded', split='train', size=500)."
    )


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class DownloadError(OSError):
    """:func:`stream` failed: no connection, an HTTP error (``status``), or a transfer cut short."""

    def __init__(self, message: str, status: str | None = None):
        super().__init__(message)
        self.status = status  # "404 Not Found" for an HTTP error, else None


def stream(url: str, path: Path, *, desc: str, progress: bool = True, timeout_s: float = TIMEOUT_S) -> None:
    """Stream ``url`` into ``path`` in 1 MB blocks with a progress bar (the real corpora here, the
    course cache archive in :mod:`speechlm.cache_fetch`). Raises :class:`DownloadError`: "could not
    connect to URL (...)" (with ``status`` set for an HTTP error such as 404), or "the download from
    URL stopped after N of M bytes (...)" when the connection breaks or closes early; the caller
    owns ``path`` and removes it (an :func:`~speechlm.utils.atomic_path` or a temporary file)."""
    try:
        response = urllib.request.urlopen(url, timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"could not connect to {url} ({exc})", status=f"{exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        raise DownloadError(f"could not connect to {url} ({getattr(exc, 'reason', exc)})") from exc
    total = int(response.headers.get("Content-Length") or 0) or None
    received = 0

    def cut_short(why: str) -> DownloadError:
        return DownloadError(
            f"the download from {url} stopped after {received} of {total or '?'} bytes ({why})"
        )

    try:
        with response, open(path, "wb") as f:
            with tqdm(total=total, unit="B", unit_scale=True, desc=desc, disable=not progress) as bar:
                for block in iter(lambda: response.read(1 << 20), b""):
                    f.write(block)
                    bar.update(len(block))
                    received += len(block)
    except (OSError, http.client.HTTPException) as exc:
        raise cut_short(repr(exc)) from exc
    if total is not None and received < total:
        raise cut_short("the connection closed early")


def _download(url: str, path: Path, corpus: str, timeout_s: float) -> None:
    """Stream ``url`` into ``path`` atomically; a failed or short transfer leaves no file behind."""
    try:
        with atomic_path(path) as tmp:
            stream(url, tmp, desc=f"downloading {corpus}", timeout_s=timeout_s)
    except DownloadError as exc:
        reason = str(exc) + ("" if str(exc).startswith("could not connect") else "; nothing was kept")
        raise CorpusUnavailableError(offline_message(corpus, reason, url, path)) from exc


def fetch(corpus: str, url: str, sha256: str, *, timeout_s: float = TIMEOUT_S) -> Path:
    """Download (once) and unpack the archive at ``url``; return the folder it was unpacked into.

    Raises :class:`CorpusUnavailableError` when offline, when the transfer
    stops early, or when the archive's SHA-256 is not ``sha256`` (the bad file
    is deleted); each message names ``url`` and where the archive goes.
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
        reason = f"the archive {archive} from {url} has SHA-256 {actual}, expected {sha256} (it was deleted)"
        raise CorpusUnavailableError(offline_message(corpus, reason, url, archive))
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
