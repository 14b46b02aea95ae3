"""Shared helpers: seeding, devices, the cache folders and atomic writes.

Introduced in notebook 00; every other module and notebook uses these rather
than keeping its own copy.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

__all__ = [
    "CacheWarning",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "cache_dir",
    "find_cached",
    "get_device",
    "headline",
    "set_seed",
    "shared_cache_dirs",
    "skip_triton_on_cpu",
]

# errors that mean "you may not write here": permission denied, not permitted, read-only file system
_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


class CacheWarning(UserWarning):
    """A cached file could not be read and is being rebuilt; the message names the file."""


def set_seed(seed: int = 0) -> None:
    """Seed Python's, NumPy's and PyTorch's random number generators.

    Also asks PyTorch for deterministic algorithms where that is cheap
    (``warn_only`` so that an operation without a deterministic kernel still
    runs). Call it once in a notebook's setup cell, and again before any
    experiment that should be reproducible on its own.
    """
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - notebooks may use the legacy global RNG
    try:
        import torch
    except ImportError:  # the DSP part of the course works without torch
        return
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def get_device(prefer: str | None = None):
    """Return the ``torch.device`` to compute on.

    CUDA when it is available, else the CPU. Apple's MPS is used only on
    request (``prefer="mps"``), because several operations the course uses are
    slower or missing there. ``prefer="cpu"`` forces the CPU.
    """
    import torch

    if prefer not in (None, "cpu", "cuda", "mps"):
        raise ValueError(f"prefer must be None, 'cpu', 'cuda' or 'mps', got {prefer!r}")
    if prefer == "cpu":
        return torch.device("cpu")
    if prefer == "mps":
        if not torch.backends.mps.is_available():
            raise RuntimeError("MPS was requested but torch.backends.mps.is_available() is False")
        return torch.device("mps")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if prefer == "cuda":
        raise RuntimeError("CUDA was requested but torch.cuda.is_available() is False")
    return torch.device("cpu")


def skip_triton_on_cpu() -> bool:
    """Keep a CPU-only process from loading Triton, the GPU kernel compiler; returns True if it will.

    PyTorch's optimizers import ``torch._dynamo`` when they are built, and that imports
    ``triton`` wherever the package is installed, as it is beside PyPI's default (CUDA) build
    of PyTorch even on a machine without a GPU: 77 MB more memory in every process that trains
    (measured with PyTorch 2.14), for kernels only a GPU runs. The CPU-only wheels (Binder's)
    do not ship Triton. Where no GPU is usable and Triton is not imported yet, this marks it
    as missing (``sys.modules["triton"] = None``), which PyTorch handles as "not installed";
    nothing is computed differently. Called by :func:`speechlm.setup` and the pretraining runner.
    """
    import torch

    if sys.modules.get("triton", False) is None:
        return True  # marked already
    if "triton" in sys.modules or torch.cuda.is_available():
        return False
    sys.modules["triton"] = None
    return True


def _cache_root() -> tuple[Path, str]:
    """The writable cache's root folder and where it came from (for error messages)."""
    root = os.environ.get("SPEECHLM_CACHE")
    if root:
        return Path(root).expanduser(), f"SPEECHLM_CACHE={root}"
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "speechlm", f"XDG_CACHE_HOME={xdg}"
    return Path.home() / ".cache" / "speechlm", "the default cache folder"


_CACHE_FIX = (
    "set SPEECHLM_CACHE to a folder you can write (e.g. `export SPEECHLM_CACHE=$HOME/speechlm-cache`, "
    "or `os.environ['SPEECHLM_CACHE'] = ...` before importing speechlm); a read-only cache that someone "
    "built for you belongs in SPEECHLM_SHARED_CACHE instead"
)


def _not_writable(path: Path, error: OSError) -> PermissionError:
    """A PermissionError that names ``path``, why it cannot be written, and the fix."""
    reason = "the file system is read-only" if error.errno == errno.EROFS else "permission denied"
    root, source = _cache_root()
    if path.is_relative_to(root):
        fix = f"the course cache {root} ({source}) must be writable: {_CACHE_FIX}"
    else:
        fix = "choose a folder you can write, or ask its owner for write access"
    return PermissionError(f"cannot write {path}: {reason}; {fix}")


def cache_dir(*parts: str, create: bool = True) -> Path:
    """The course's writable cache folder (``$SPEECHLM_CACHE``, else the user cache dir).

    Without ``SPEECHLM_CACHE`` it is ``$XDG_CACHE_HOME/speechlm`` (usually
    ``~/.cache/speechlm``). ``parts`` name a sub-folder, created unless
    ``create=False`` (pass that when only reading: a reader never creates
    folders). Raises NotADirectoryError when the cache root is a file and
    PermissionError when the folder cannot be created, both naming the
    variable, the path and the fix.
    """
    base, source = _cache_root()
    if base.exists() and not base.is_dir():
        raise NotADirectoryError(
            f"the course cache {base} ({source}) is a file, not a folder: point SPEECHLM_CACHE at a "
            "folder (it is created if missing), or unset it to use ~/.cache/speechlm"
        )
    path = base.joinpath(*parts)
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise NotADirectoryError(
                f"cannot create the cache folder {path}: a file is in the way; delete that file or "
                f"point SPEECHLM_CACHE at another folder"
            ) from None
        except OSError as error:
            if error.errno not in _NOT_WRITABLE:
                raise
            raise _not_writable(path, error) from None
    return path


def shared_cache_dirs() -> list[Path]:
    """Read-only cache folders built by someone else (``$SPEECHLM_SHARED_CACHE``).

    On a class's JupyterHub an instructor builds the course's cache once
    (``python -m speechlm cache build``, see :mod:`speechlm.course_cache`) into
    a folder the students can read; each student sets ``SPEECHLM_SHARED_CACHE``
    to it (several folders separated by ``os.pathsep``). Files found there are
    read, never written: anything a student makes goes to :func:`cache_dir`.
    A listed folder that does not exist raises FileNotFoundError (a typo would
    otherwise make every student rebuild the whole cache).
    """
    value = os.environ.get("SPEECHLM_SHARED_CACHE", "")
    folders = [Path(part).expanduser() for part in value.split(os.pathsep) if part]
    for folder in folders:
        if not folder.is_dir():
            raise FileNotFoundError(
                f"SPEECHLM_SHARED_CACHE names {folder}, which is not a folder: set it to the folder your "
                "instructor built with `python -m speechlm cache build`, or unset it to build your own cache"
            )
    return folders


def find_cached(*parts: str) -> Path | None:
    """The cached file ``parts`` (e.g. ``"pretrained", "hubert-v2-....pt"``), or None.

    Looks in the writable cache (:func:`cache_dir`) first, then in each shared
    read-only cache (:func:`shared_cache_dirs`), and returns the first that
    exists; it creates nothing. A reader that finds nothing builds the file
    into ``cache_dir(...)``. A file that exists but that this user may not
    read raises PermissionError naming it and the fix (``chmod``).
    """
    for base in [cache_dir(create=False), *shared_cache_dirs()]:
        path = base.joinpath(*parts)
        if path.is_file():
            if not os.access(path, os.R_OK):
                raise PermissionError(
                    f"the cached file {path} exists but you may not read it: ask whoever built the cache "
                    f"to run `chmod -R a+rX {base}`, or remove {base} from SPEECHLM_SHARED_CACHE"
                )
            return path
    return None


def _umask() -> int:
    """The process's umask, read without changing it where the platform shows it (Linux)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere the only way to read it is to set it and put it back
    os.umask(mask)
    return mask


def _fsync(path: Path, directory: bool = False) -> None:
    """Flush ``path`` (a finished file, or a folder) to the disk."""
    if directory:
        if os.name == "nt":  # Windows cannot open a folder to flush it
            return
        fd = os.open(path, os.O_RDONLY)
    else:
        fd = os.open(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    Whatever is written to the temporary path appears at ``path`` all at once
    (``os.replace`` is atomic on one file system), so a reader never sees a
    half-written file. The finished file gets the permissions the umask gives
    (``0o666 & ~umask``, like ``open``: 0644 under umask 022, so a cache built
    for a class is readable by it) and is flushed to the disk (``os.fsync``)
    before the rename, and the folder after it, so a power cut cannot leave an
    empty file either. If the body raises, the temporary file is removed and
    ``path`` is left as it was. A folder that cannot be written raises
    PermissionError naming the path and the fix.

    >>> with atomic_path("model.pt") as tmp:  # doctest: +SKIP
    ...     torch.save(state, tmp)
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        if error.errno not in _NOT_WRITABLE:
            raise
        raise _not_writable(path, error) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # some file systems cannot flush a folder; the file is safe
        _fsync(path.parent, directory=True)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    return atomic_write_bytes(path, text.encode(encoding))


def headline(text: str) -> str:
    """Print a notebook's headline result as ``HEADLINE: text``.

    ``python -m speechlm course time`` runs every notebook and copies the last
    headline it printed into the course map, so the README reports what the
    notebook actually measured.
    """
    line = f"HEADLINE: {text}"
    print(line)
    return line
