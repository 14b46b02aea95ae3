"""Shared helpers: seeding, devices, the cache folder and atomic writes.

Introduced in notebook 00; every other module and notebook uses these rather
than keeping its own copy.
"""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "cache_dir",
    "get_device",
    "headline",
    "set_seed",
]


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


def cache_dir(*parts: str, create: bool = True) -> Path:
    """The course's cache folder (``$SPEECHLM_CACHE``, else the user cache dir).

    Without ``SPEECHLM_CACHE`` it is ``$XDG_CACHE_HOME/speechlm`` (usually
    ``~/.cache/speechlm``). ``parts`` name a sub-folder, created unless
    ``create=False``.
    """
    root = os.environ.get("SPEECHLM_CACHE")
    if root:
        base = Path(root).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "speechlm"
    path = base.joinpath(*parts)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    Whatever is written to the temporary path appears at ``path`` all at once
    (``os.replace`` is atomic on one file system), so a reader never sees a
    half-written file. If the body raises, the temporary file is removed and
    ``path`` is left as it was.

    >>> with atomic_path("model.pt") as tmp:  # doctest: +SKIP
    ...     torch.save(state, tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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
