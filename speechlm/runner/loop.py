"""The pretraining loop behind ``python -m speechlm pretrain`` (notebook 18).

HuBERT iteration 1 on the embedded corpus: k-means units of MFCC frames are the
targets (:func:`speechlm.ssl.pretrain.kmeans_targets`), masked prediction the
objective (:mod:`speechlm.runner.objective`), AdamW with warm-up and linear
decay the optimizer. Every ``save_every`` steps rank 0 atomically replaces
``run_dir/last.pt`` with the model, optimizer, scheduler, every process's
random state, the step and the data position (the checkpoint before it is kept
as ``run_dir/previous.pt``); a new run with the same ``run_dir`` resumes from
it, so a killed run loses at most the steps since the last save, and the
resumed run retraces the uninterrupted one exactly. A damaged ``last.pt`` is
reported, moved to ``last.pt.damaged``, and the run resumes from
``previous.pt``. ``run_dir/log.jsonl`` gets one JSON object per logged step and
per evaluation (masked-prediction loss and accuracy on the held-out dev
speakers); a line cut off by a crash is reported and dropped on resume.

Problems found while running (a ``run_dir`` that cannot be written, a full
disk, a diverged loss, no readable checkpoint) raise :class:`RunError`, which
says what to do; the command line prints it as ``error: ...``.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from speechlm import corpus, optim
from speechlm.batching import pad_sequences
from speechlm.features import log_mel_features, mfcc_features
from speechlm.runner import distributed
from speechlm.runner.config import ConfigError, PretrainConfig
from speechlm.runner.objective import MaskedPrediction, utterance_masks
from speechlm.ssl import EncoderConfig, HuBERT
from speechlm.ssl.pretrain import kmeans_targets
from speechlm.train import fit
from speechlm.utils import atomic_path, atomic_write_text

__all__ = ["CHECKPOINT", "LOG", "PREVIOUS", "Data", "RunError", "RunWarning", "load_data", "run"]

CHECKPOINT = "last.pt"
PREVIOUS = "previous.pt"  # the checkpoint before last.pt: the fallback when last.pt is damaged
LOG = "log.jsonl"
_CHECKPOINT_KEYS = ("step", "model", "optimizer", "scheduler", "rng", "world_size", "config")
_EVAL_STREAM = 1  # mask seeds: (seed, 0, epoch, index) in training, (seed, 1, index) in evaluation


class RunError(RuntimeError):
    """A run that cannot start or go on, with the file concerned and the fix."""


class RunWarning(UserWarning):
    """Something damaged that the run worked around (a torn log line, a damaged checkpoint), by name."""


class _DamagedCheckpoint(Exception):
    """A checkpoint file that cannot be read back (its reason is the message)."""


@dataclass
class Data:
    """Log-mel inputs ``(mel_frames, n_mels)`` and unit targets ``(frames,)`` of each utterance."""

    train_mels: list[torch.Tensor]
    train_targets: list[torch.Tensor]
    dev_mels: list[torch.Tensor]
    dev_targets: list[torch.Tensor]


def load_data(config: PretrainConfig) -> Data:
    """Embedded-corpus train and dev utterances, their log-mels and k-means targets (fit on train)."""
    d = config.data
    train = corpus.load("embedded", "train", size=d.train_size, seed=d.seed, tasks=d.tasks, progress=False)
    dev = corpus.load("embedded", "dev", size=d.dev_size, seed=d.seed, tasks=d.tasks, progress=False)
    mfcc = [mfcc_features(u.audio) for u in train]
    frames = sum(len(f) for f in mfcc)
    if config.model.n_clusters > frames:
        raise ConfigError(
            f"model.n_clusters ({config.model.n_clusters}) is more than the {frames} MFCC frames of the "
            f"{len(train)} training utterances that k-means would cluster: lower model.n_clusters or "
            "raise data.train_size"
        )
    targets, kmeans = kmeans_targets(mfcc, config.model.n_clusters, seed=config.seed)
    dev_targets = [kmeans.predict(mfcc_features(u.audio)) for u in dev]
    return Data(
        [log_mel_features(u.audio) for u in train],
        [torch.from_numpy(t).long() for t in targets],
        [log_mel_features(u.audio) for u in dev],
        [torch.from_numpy(t).long() for t in dev_targets],
    )


def _batch(model: HuBERT, mels, targets, indices: list[int], stream: tuple[int, ...], device):
    padded, lengths = pad_sequences([mels[i] for i in indices])
    padded_targets, _ = pad_sequences([targets[i] for i in indices], padding_value=-100)
    mask = utterance_masks(lengths, indices, stream, model)
    return padded.to(device), lengths.to(device), padded_targets.to(device), mask.to(device)


@torch.no_grad()
def _evaluate(objective: MaskedPrediction, data: Data, config: PretrainConfig, device) -> dict:
    """Masked-prediction loss (per masked frame) and accuracy on the dev set, fixed masks, eval mode."""
    objective.eval()
    total, count, correct = 0.0, 0, 0
    indices = list(range(len(data.dev_mels)))
    for start in range(0, len(indices), config.train.batch_size):
        chunk = indices[start : start + config.train.batch_size]
        batch = _batch(
            objective.hubert, data.dev_mels, data.dev_targets, chunk, (config.seed, _EVAL_STREAM), device
        )
        loss_sum, n, c = objective(*batch)
        total, count, correct = total + loss_sum.item(), count + int(n), correct + int(c)
    objective.train()
    return {"eval_loss": total / max(count, 1), "eval_accuracy": correct / max(count, 1)}


def _rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _check_resumable(saved: dict, config: PretrainConfig, path: Path) -> None:
    now = config.to_dict()
    for section in ("data", "model", "seed"):
        if saved["config"].get(section) != now[section]:
            raise ConfigError(
                f"{path} was written with a different {section!r} ({saved['config'][section]}) than the "
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


def _resume_state(
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


def _prepare_run_dir(run_dir: Path) -> None:
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


def _append_log(path: Path, record: dict) -> None:
    try:
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
    except OSError as exc:
        raise _write_failure(path, "the log", exc) from exc


def _truncate_log(path: Path, step: int) -> None:
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


def run(config: PretrainConfig, *, progress: bool = True) -> list[dict]:
    """Pretrain as ``config`` says (one process, or one of ``torchrun``'s); return the log records.

    Checks that ``run_dir`` can be written before anything else. Resumes from
    ``run_dir/last.pt`` when it exists (or ``previous.pt`` when ``last.pt`` is
    damaged); a run already at ``train.steps`` returns ``[]``, one past it raises
    :class:`ConfigError`. Returns the records of this
    invocation: training loss and accuracy every ``log_every`` steps (the same on
    every rank), and on rank 0 also the dev-set ``eval_loss`` and ``eval_accuracy``;
    rank 0 appends them to ``run_dir/log.jsonl`` (``time_s``: seconds since this
    invocation started).
    """
    ctx = distributed.init(config.device)
    try:
        return _run(config, ctx, progress)
    finally:
        distributed.shutdown(ctx)


def _run(config: PretrainConfig, ctx: distributed.Context, progress: bool) -> list[dict]:
    t = config.train
    if t.batch_size % ctx.world_size:
        raise ConfigError(
            f"train.batch_size ({t.batch_size}) must be divisible by the {ctx.world_size} processes"
        )
    run_dir = Path(config.run_dir)
    checkpoint_path = run_dir / CHECKPOINT
    if ctx.is_main:
        _prepare_run_dir(run_dir)
    saved, saved_path = _resume_state(run_dir, config, ctx)
    step = 0 if saved is None else saved["step"]
    if len(set(distributed.all_gather_objects(ctx, step))) > 1:
        raise RunError(f"the processes read different checkpoints of {run_dir}: rerun the command")
    if step > t.steps:
        raise ConfigError(
            f"{run_dir} is already at step {step}, past the requested train.steps ({t.steps}): pass "
            f"--steps {step + 1} or more to train it further, or --run-dir NEW_FOLDER to train "
            f"{t.steps} steps from scratch"
        )
    if step == t.steps:
        if ctx.is_main:
            print(f"{run_dir} is already at step {step} of {t.steps}: nothing to do; pass --steps N with N "
                  f"more than {step} to train it further")  # fmt: skip
        return []
    data = load_data(config)
    torch.manual_seed(config.seed)
    m = config.model
    encoder_config = EncoderConfig(d_model=m.d_model, num_layers=m.num_layers, num_heads=m.num_heads,
                                   d_ff=m.d_ff, dropout=m.dropout)  # fmt: skip
    objective = MaskedPrediction(HuBERT(m.n_clusters, encoder_config)).to(ctx.device)
    optimizer = torch.optim.AdamW(objective.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    scheduler = optim.scheduler(optimizer, t.steps, t.warmup_steps)
    torch.manual_seed(config.seed + 1 + ctx.rank)  # each process its own dropout noise
    if saved is not None:
        objective.hubert.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        if ctx.is_main:
            print(f"resuming from step {step} of {saved_path}")
        if saved["world_size"] == ctx.world_size:
            _set_rng_state(saved["rng"][ctx.rank], ctx.device)
        else:  # a different number of processes: fresh, but still seeded, dropout noise
            torch.manual_seed(config.seed + 1 + ctx.rank + 1000 * step)
    if ctx.is_main:
        _truncate_log(run_dir / LOG, step)
    model = objective
    if ctx.distributed:
        device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        model = torch.nn.parallel.DistributedDataParallel(objective, device_ids=device_ids)

    steps_per_epoch = len(data.train_mels) // t.batch_size
    records: list[dict] = []
    start_time = time.perf_counter()

    def batches():
        """From the saved data position on: batch ``step % steps_per_epoch`` of epoch ``step // ...``."""
        taken = step
        while True:
            epoch, position = divmod(taken, steps_per_epoch)
            shard = distributed.shard_batches(ctx, len(data.train_mels), t.batch_size, epoch, config.seed)
            for indices in shard[position:]:
                taken += 1
                yield epoch, _batch(objective.hubert, data.train_mels, data.train_targets, indices,
                                    (config.seed, 0, epoch), ctx.device)  # fmt: skip

    def step_fn(model, batch):
        epoch, inputs = batch
        loss_sum, n_scored, n_correct = model(*inputs)
        totals = distributed.all_reduce_sum(
            ctx, torch.stack([loss_sum.detach(), n_scored.to(loss_sum.dtype), n_correct.to(loss_sum.dtype)])
        )
        # DDP averages gradients over processes; scaled so, the gradient is d(global sum)/global count
        loss = loss_sum * ctx.world_size / totals[1].clamp(min=1)
        return loss, {"epoch": epoch, "totals": totals, "lr": optimizer.param_groups[0]["lr"]}

    def after_step(step: int, loss: torch.Tensor, metrics: dict) -> None:
        totals, grad_norm = metrics["totals"], metrics["grad_norm"]
        saving = step % t.save_every == 0 or step == t.steps
        if (saving or step % t.log_every == 0) and not torch.isfinite(totals[0] + grad_norm):
            raise RunError(
                f"training diverged at step {step} (summed loss {totals[0].item():g}, gradient norm "
                f"{grad_norm.item():g}): lower train.lr (now {t.lr:g}) or train.grad_clip and pass "
                f"--run-dir NEW_FOLDER; {checkpoint_path} keeps the last good step"
            )
        record = None
        if step % t.log_every == 0 or step == t.steps:
            loss, accuracy = (totals[0] / totals[1]).item(), (totals[2] / totals[1]).item()
            record = {"step": step, "epoch": metrics["epoch"], "loss": loss, "accuracy": accuracy,
                      "lr": metrics["lr"], "time_s": round(time.perf_counter() - start_time, 3)}  # fmt: skip
        if ctx.is_main and (step % t.eval_every == 0 or step == t.steps):
            record = (record or {"step": step}) | _evaluate(objective, data, config, ctx.device)
        if record is not None:
            records.append(record)
            if ctx.is_main:
                _append_log(run_dir / LOG, record)
        if saving:
            _save(ctx, config, checkpoint_path, objective, optimizer, scheduler, step, steps_per_epoch)
        if t.crash_at_step == step:
            os.kill(os.getpid(), signal.SIGKILL)  # a test's simulated crash: no cleanup at all

    # every rank checks the loss summed over all of them (after_step), so that all stop at one step
    fit(model, batches(), optimizer=optimizer, steps=t.steps, start_step=step, step_fn=step_fn,
        scheduler=scheduler, grad_clip=t.grad_clip, after_step=after_step, check_finite=False,
        log_every=t.log_every, progress=progress and ctx.is_main, desc="pretrain")  # fmt: skip
    return records


def _save(ctx, config, path: Path, objective, optimizer, scheduler, step: int, steps_per_epoch: int) -> None:
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
