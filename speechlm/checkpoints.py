"""Trained models cached as checkpoints (the shared encoder and recogniser of :mod:`speechlm.pretrained`).

:func:`cached_checkpoint` reads a checkpoint from the cache (the user's, a shared one, or a verified
archive on Colab), or announces the training (:func:`announce_training`: a cell that trains for
minutes says so first), trains, writes the file atomically and reads it back; a damaged file is
reported with a :class:`~speechlm.utils.CacheWarning` and trained again, never loaded.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from collections.abc import Callable

import torch

from speechlm import cache_fetch
from speechlm.utils import CacheWarning, atomic_path, cache_dir, find_cached
from speechlm.workers import release_memory

__all__ = ["announce_training", "cached_checkpoint"]

# What a damaged checkpoint raises in torch.load or while its tensors are put in place: empty or
# truncated (EOFError, RuntimeError from the zip reader), not a checkpoint (UnpicklingError), or not
# the expected dict (KeyError, TypeError, ValueError, and RuntimeError for mismatched shapes).
_DAMAGED = (
    EOFError, RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, KeyError, TypeError, ValueError,
    AttributeError, OSError,
)  # fmt: skip


# How long the course's own recipes take to train on first use (2-core CPU, measured: the comments at
# their register() calls; the course map's cold times), announced before training starts.
TRAINING_TIME = {
    "hubert": "about 10 minutes",
    "ctc": "about 4 to 5 minutes, after the encoder's if that is not cached",
}


def announce_training(what: str, name: str, cost: str) -> None:
    """Say, before it starts, that the cached ``what`` of recipe ``name`` is about to be trained and how
    long that takes (``cost``, e.g. "about 10 minutes"), so that a notebook cell that trains for
    minutes says so first."""
    print(
        f"The {what} {name!r} is not in the cache yet: training it now, once ({cost} on a 2-core CPU); "
        "every later load reads it from the cache in about a second."
    )


def cached_checkpoint(
    filename: str,
    what: str,
    build: Callable[[], dict],
    decode: Callable[[dict], object],
    name: str,
    cost: str,
):
    """``decode`` of the cached checkpoint ``filename`` (in the cache's ``pretrained`` folder); built
    with ``build``, saved and decoded when it is missing or damaged (a damaged file is reported, never
    loaded). Training is announced first (:func:`announce_training` with recipe ``name`` and ``cost``)."""
    found = find_cached("pretrained", filename)
    if found is None and cache_fetch.fetch_if_enabled("pretrained", filename):  # Colab: a verified archive
        found = find_cached("pretrained", filename)
    target = cache_dir("pretrained", create=False) / filename
    if found is not None:
        try:
            return decode(torch.load(found, map_location="cpu", weights_only=True))
        except PermissionError:
            raise
        except _DAMAGED as error:
            warnings.warn(
                f"the cached {what} {found} cannot be read ({type(error).__name__}): it is damaged, "
                f"perhaps by an interrupted copy or a full disk; training it again"
                + ("" if found == target else f" into {target}"),
                CacheWarning,
                stacklevel=3,
            )
    announce_training(what, name, cost)
    state = build()
    with atomic_path(target) as tmp:
        torch.save(state, tmp)
    del state
    release_memory()  # training's leftovers, before the notebook goes on (and before any worker forks)
    return decode(torch.load(target, map_location="cpu", weights_only=True))
