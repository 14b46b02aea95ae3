"""Fetch the course cache instead of training it: ``python -m speechlm cache fetch [URL]``.

A fresh Colab session has no cache, and building it (``python -m speechlm cache build``) takes
about 16 minutes on 2 cores. The maintainers attach a packed cache (:mod:`speechlm.cache_archive`)
to the GitHub release whose tag names the package version and a hash of the recipe keys
(:func:`default_url`, derived from ``pyproject.toml``'s ``[project.urls] Repository``).
:func:`fetch` downloads it into a temporary file, verifies all of it, and only then unpacks it
into the writable cache; the temporary file is always deleted.

The loaders of notebooks 11-17 (``pretrained.load``, ``pretrained.load_asr``, the label-efficiency
curves) call :func:`fetch_if_enabled` at the one point where they would otherwise train. It
fetches once per process when the policy allows (``speechlm.setup(fetch_cache="auto")``: on Colab,
or where ``SPEECHLM_FETCH_CACHE=1``); offline, on a 404, or with a damaged or mismatched archive it
prints one line saying what was wrong and that the course trains locally instead, and returns
False.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path

from speechlm import course_cache
from speechlm.cache_archive import ASSET, CacheArchiveError, unpack
from speechlm.corpus.download import DownloadError, stream
from speechlm.utils import cache_dir, find_cached

__all__ = [
    "FETCH_ENV",
    "URL_ENV",
    "default_url",
    "fetch",
    "fetch_enabled",
    "fetch_if_enabled",
    "set_fetch_policy",
    "try_fetch",
]

URL_ENV = "SPEECHLM_CACHE_URL"  # overrides default_url()
FETCH_ENV = "SPEECHLM_FETCH_CACHE"  # "1" or "0": the "auto" policy's answer outside Colab
TIMEOUT_S = 20.0  # for connecting, and for each read


def _repository() -> str:
    """``[project.urls] Repository`` of ``pyproject.toml``: from the installed package's metadata (a
    Colab install from git), else from the checkout's ``pyproject.toml`` beside the package."""
    from importlib.metadata import PackageNotFoundError, metadata

    with contextlib.suppress(PackageNotFoundError):
        for entry in metadata("speechlm").get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            if label.strip() == "Repository":
                return url.strip().rstrip("/")
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    return tomllib.loads(pyproject.read_text())["project"]["urls"]["Repository"].rstrip("/")


def default_url() -> str:
    """The archive for this package version and these recipes: the asset :data:`ASSET` of the
    repository's release ``cache-<version>-<8 hex digits hashing the recipe keys>``."""
    from speechlm import __version__

    keys = course_cache.recipe_keys()
    digest = hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:8]
    return f"{_repository()}/releases/download/cache-{__version__}-{digest}/{ASSET}"


def _download(url: str, path: Path, progress: bool, timeout_s: float) -> None:
    """Stream ``url`` into ``path`` with a progress bar; raises CacheArchiveError when it fails."""
    try:
        stream(url, path, desc="fetching the course cache", progress=progress, timeout_s=timeout_s)
    except DownloadError as error:
        if error.status is not None:
            raise CacheArchiveError(f"no cache archive at {url} (HTTP {error.status})") from None
        suffix = ": no network?" if str(error).startswith("could not connect") else ""
        raise CacheArchiveError(f"{error}{suffix}") from None


def fetch(url: str | None = None, *, progress: bool = True, timeout_s: float = TIMEOUT_S) -> list[Path]:
    """Download the cache archive at ``url`` (default ``$SPEECHLM_CACHE_URL``, else
    :func:`default_url`; a local file's path is read in place), verify it whole, then unpack it
    into the writable cache (:func:`speechlm.cache_archive.unpack`). Returns the files written;
    when every file is cached already, downloads nothing and returns ``[]``. Raises
    CacheArchiveError saying what was wrong; nothing is written to the cache then."""
    if all(find_cached(*rel.split("/")) for rel in course_cache.expected_files()):
        return []
    url = url or os.environ.get(URL_ENV) or default_url()
    if "://" not in url and Path(url).is_file():
        return unpack(url)
    fd, name = tempfile.mkstemp(prefix=".speechlm-cache-", suffix=".tar.part", dir=cache_dir())
    os.close(fd)
    try:
        _download(url, Path(name), progress, timeout_s)
        return unpack(name, where=f"the archive from {url}")
    finally:
        Path(name).unlink(missing_ok=True)


def try_fetch(url: str | None = None, *, progress: bool = True) -> bool:
    """:func:`fetch` as the loaders' fallback path: True when the archive was verified and unpacked
    (or nothing was missing); else prints one line saying what was wrong and that the course trains
    locally instead, and returns False."""
    try:
        written = fetch(url, progress=progress)
    except (CacheArchiveError, OSError) as error:
        reason = " ".join(str(error).split())
        print(f"speechlm: not using the course cache archive: {reason}; training locally instead", flush=True)
        return False
    if progress and written:
        size = sum(p.stat().st_size for p in written) / 1e6
        print(f"speechlm: fetched {len(written)} verified file(s), {size:.0f} MB, into {cache_dir()}")
    return True


_POLICIES = ("auto", True, False)
_policy: bool | str = "auto"
_attempt: bool | None = None  # this process's one fetch: None before it, then its result


def set_fetch_policy(policy: bool | str) -> None:
    """When the loaders may fetch the archive instead of training: ``"auto"`` (the default: on
    Colab, or where ``SPEECHLM_FETCH_CACHE=1``), ``True`` or ``False``. Set by
    ``speechlm.setup(fetch_cache=...)``; resets this process's fetch attempt."""
    global _policy, _attempt
    if not any(policy is p or (isinstance(p, str) and policy == p) for p in _POLICIES):
        raise ValueError(f"fetch_cache must be 'auto', True or False, got {policy!r}")
    _policy, _attempt = policy, None


def fetch_enabled() -> bool:
    """Whether the policy (:func:`set_fetch_policy`) lets the loaders fetch the archive here."""
    if _policy != "auto":
        return bool(_policy)
    value = os.environ.get(FETCH_ENV, "")
    if value not in ("", "0", "1"):
        raise ValueError(
            f"{FETCH_ENV} must be 1 (fetch the course cache) or 0 (train locally), got {value!r}"
        )
    if value:
        return value == "1"
    try:
        return importlib.util.find_spec("google.colab") is not None
    except (ImportError, ValueError):  # no `google` package, or a module without a spec
        return False


def fetch_if_enabled(*parts: str) -> bool:
    """Called by a loader whose cached file ``parts`` (as for :func:`speechlm.utils.find_cached`,
    e.g. ``"pretrained", "hubert-v2-....pt"``) is missing, just before it would train. When
    :func:`fetch_enabled` and the archive holds that file, fetches the archive, once per process
    (see :func:`try_fetch`). True when the archive was unpacked: the loader looks for its file
    again; False: it trains."""
    global _attempt
    if not fetch_enabled() or "/".join(parts) not in course_cache.expected_files():
        return False
    if _attempt is None:
        _attempt = try_fetch()
    return _attempt
