"""The run folder of ``python -m speechlm pretrain`` (notebook 18): checkpoints, resume and the log.

Every ``save_every`` steps rank 0 atomically replaces ``run_dir/last.pt``
(:func:`save_checkpoint`) with the model, optimizer, scheduler, every process's
random state, the step and the data position; the checkpoint before it is kept
as ``run_dir/previous.pt``. :func:`resume_state` finds the newest readable one
for a new run with the same ``run_dir``: a damaged ``last.pt`` is reported,
moved to ``last.pt.damaged``, and the run resumes from ``previous.pt``.
:func:`truncate_log` drops the log records of steps that a killed run did but
never saved (and any line cut off by a crash), so that the resumed run's
records follow on.

Problems with the folder (not writable, a full disk, no readable checkpoint)
raise :class:`RunError`, which says what to do.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import torch

from speechlm.runner import distributed
from speechlm.runner.config import ConfigError, PretrainConfig
from speechlm.utils import atomic_path, atomic_write_text

__all__ = [
    "CHECKPOINT",
    "LOG",
    "PREVIOUS",
    "RunError",
    "RunWarning",
    "append_log",
    "prepare_run_dir",
    "resume_state",
    "save_checkpoint",
    "set_rng_state",
    "truncate_log",
]

CHECKPOINT = "last.pt"
PREVIOUS = "previous.pt"  # the checkpoint before last.pt: the fallback when last.pt is damaged
LOG = "log.jsonl"
_CHECKPOINT_KEYS = ("step", "model", "optimizer", "scheduler", "rng", "world_size", "config")


class RunError(RuntimeError):
    """A run that cannot start or go on, with the file concerned and the fix."""


class RunWarning(UserWarning):
    """Something damaged that the run worked around (a torn log line, a damaged checkpoint), by name."""


class _DamagedCheckpoint(Exception):
    """A checkpoint file that cannot be read back (its reason is the message)."""


def _rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _check_resumable(saved: dict, config: PretrainConfig, path: Path) -> None:
    """Refuse a checkpoint of another run: other data, model or seed, or another global batch."""
    now, defaults = config.to_dict(), PretrainConfig().to_dict()
    for section in ("data", "model", "seed"):
        was = saved["config"].get(section)
        if isinstance(was, dict):  # keys added since it was saved (e.g. to EncoderConfig): their defaults
            was = defaults[section] | was
        if was != now[section]:
            raise ConfigError(
                f"{path} was written with a different {section!r} ({was}) than the "
                f"config asks for ({now[section]}): use a new run_dir, or delete the old run"
            )
    if saved["config"].get("train", {}).get("batch_size") != config.train.batch_size:
        raise ConfigError(f"{path} was trained with a different train.batch_size: use a new run_dir")


def _load_checkpoint(path: Path, config: PretrainConfig, device: torch.device) -> dict:
    """The checkpoint at ``path`` if it belongs to this run; :class:`_DamagedCheckpoint` if unreadable."""
    try:
        with warnings.catch_warnings():  # torch's warnings about a garbage file: the reason below says it
            warnings.simplefilter("ignore")
            saved = torch.load(path, map_location=device, weights_only=True)
    except OSError as exc:
        raise RunError(f"cannot read the checkpoint {path} ({exc.strerror}): check its permissions") from exc
    except Exception as exc:  # torch raises EOFError, RuntimeError, UnpicklingError, KeyError, ... on damage
        if isinstance(exc, EOFError):
            detail = "the file is empty or cut short"
        elif "Weights only load failed" in str(exc):
            detail = "it holds something other than tensors and plain data"
        else:  # the first sentence of torch's message, e.g. "... failed finding central directory"
            detail = str(exc).split(". ")[0].splitlines()[0][:200] if str(exc) else "no details"
        reason = f"not a readable checkpoint: {type(exc).__name__}: {detail}"
        raise _DamagedCheckpoint(reason) from exc
    if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
        raise _DamagedCheckpoint("not a checkpoint of `python -m speechlm pretrain` (no 'config' in it)")
    _check_resumable(saved, config, path)
    missing = [key for key in _CHECKPOINT_KEYS if key not in saved]
    if missing:
        raise _DamagedCheckpoint(f"incomplete checkpoint: no {', '.join(map(repr, missing))}")
    return saved


def resume_state(
    run_dir: Path, config: PretrainConfig, ctx: distributed.Context
) -> tuple[dict, Path] | tuple[None, None]:
    """The newest readable checkpoint of ``run_dir`` (``last.pt``, else ``previous.pt``) and its path.

    A damaged ``last.pt`` is reported and moved aside (rank 0) so that the next
    save does not keep it as ``previous.pt``; with no readable checkpoint left
    the run stops and says which files to delete.
    """
    damaged: list[tuple[Path, str]] = []
    for path in (run_dir / CHECKPOINT, run_dir / PREVIOUS):
        if not path.exists():
            continue
        try:
            saved = _load_checkpoint(path, config, ctx.device)
        except _DamagedCheckpoint as exc:
            damaged.append((path, str(exc)))
            continue
        if damaged and ctx.is_main:
            bad, reason = damaged[0]
            aside = bad.with_name(bad.name + ".damaged")
            os.replace(bad, aside)
            warnings.warn(
                f"the checkpoint {bad} is damaged ({reason}): resuming from the one before it, {path} "
                f"(step {saved['step']}); the damaged file was moved to {aside} (delete it when done)",
                RunWarning,
                stacklevel=2,
            )
        return saved, path
    if damaged:
        files = " and ".join(f"{path} ({reason})" for path, reason in damaged)
        raise RunError(
            f"cannot resume: {files} cannot be read, and there is no other checkpoint in {run_dir}. "
            f"Delete {' and '.join(str(path) for path, _ in damaged)} and {run_dir / LOG} to start again "
            "from step 0, or pass --run-dir NEW_FOLDER"
        )
    return None, None


def prepare_run_dir(run_dir: Path) -> None:
    """Create ``run_dir`` and check that files can be written there, before any data is loaded."""
    for folder in (run_dir, *run_dir.parents):
        if folder.exists():
            if not folder.is_dir():
                raise RunError(
                    f"run_dir {run_dir}: {folder} is a file, not a folder: pass --run-dir to another path "
                    "(or set run_dir in the config), or move the file away"
                )
            break
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=run_dir):
            pass
    except OSError as exc:
        raise RunError(
            f"run_dir {run_dir} is not writable ({exc.strerror}): pass --run-dir to a folder you can write "
            "(or set run_dir in the config), or make this one writable"
        ) from exc


def _write_failure(path: Path, what: str, exc: BaseException) -> RunError:
    """The error for a failed write of ``path``: a full disk (ENOSPC) said as such, with the fix."""
    free = shutil.disk_usage(path.parent).free
    if getattr(exc, "errno", None) == errno.ENOSPC or free < 1 << 20:
        reason = f"the disk is full (ENOSPC: {free / 1e6:.1f} MB free on the file system of {path.parent})"
        fix = "Free some disk space or pass --run-dir to a disk with room"
    else:
        reason = f"the write failed ({exc})"
        fix = "Check that disk, or pass --run-dir to another one"
    return RunError(
        f"could not write {what} {path}: {reason}. {fix}, then rerun the same command: it resumes from the "
        "last checkpoint"
    )


def append_log(path: Path, record: dict) -> None:
    try:
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
    except OSError as exc:
        raise _write_failure(path, "the log", exc) from exc


def truncate_log(path: Path, step: int) -> None:
    """Drop log records after ``step`` (steps that a killed run did but never saved; they are redone).

    A line that is not a JSON record with a ``step`` (a line cut off by a crash
    or a full disk) is dropped with a :class:`RunWarning` naming the file and
    line; blank lines are dropped; every good line up to ``step`` is kept.
    """
    if not path.exists():
        return
    kept = []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            keep = json.loads(line)["step"] <= step
        except (ValueError, TypeError, KeyError, IndexError):
            warnings.warn(
                f"{path}, line {number}: not a complete log record ({line[:60]!r}), probably cut off by a "
                "crash: dropped it, the other lines are kept",
                RunWarning,
                stacklevel=2,
            )
            continue
        if keep:
            kept.append(line)
    try:
        atomic_write_text(path, "".join(line + "\n" for line in kept))
    except OSError as exc:
        raise _write_failure(path, "the log", exc) from exc


def save_checkpoint(
    ctx, config, path: Path, objective, optimizer, scheduler, step: int, steps_per_epoch: int
) -> None:
    """Rank 0 writes the checkpoint atomically; every rank contributes its random state."""
    rng = distributed.all_gather_objects(ctx, _rng_state(ctx.device))
    if not ctx.is_main:
        return
    state = {
        "step": step,
        "epoch": step // steps_per_epoch,  # the data position: batch `step % steps_per_epoch` of this epoch
        "batch_in_epoch": step % steps_per_epoch,
        "model": objective.hubert.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": rng,
        "world_size": ctx.world_size,
        "config": config.to_dict(),
    }
    try:
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
            if path.exists():  # keep the checkpoint before as the fallback (a crash here leaves it)
                os.replace(path, path.with_name(PREVIOUS))
    except (OSError, RuntimeError) as exc:  # torch reports a full disk as RuntimeError("unexpected pos")
        raise _write_failure(path, "the checkpoint", exc) from exc
