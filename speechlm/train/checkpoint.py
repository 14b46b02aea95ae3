"""The checkpoints :func:`speechlm.train.fit` writes (``checkpoint=path``) and :func:`load_checkpoint`."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from speechlm.utils import atomic_path

if TYPE_CHECKING:
    from speechlm.train.loop import History


def _save_checkpoint(path, model, optimizer, step: int, history: History) -> None:
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "history": history.to_dict(),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(
    path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> dict:
    """Load a checkpoint written by :func:`fit` into ``model`` (and ``optimizer``); returns the whole
    dict (``"step"``, ``"history"``). Uses ``torch.load(weights_only=True)``: no pickled code runs.
    A file that is not such a checkpoint (empty, truncated, something else) raises ValueError naming it:
    it is your own checkpoint, so it is never silently replaced."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or not {"model", "optimizer", "step"} <= state.keys():
            raise ValueError("not a dict with 'model', 'optimizer' and 'step'")
    except PermissionError:
        raise
    except (EOFError, RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError) as error:
        raise ValueError(
            f"the checkpoint {path} is damaged or not written by fit() ({type(error).__name__}): "
            "delete it and train again, or pass the path of an intact checkpoint"
        ) from None
    model.load_state_dict(state["model"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    return state
