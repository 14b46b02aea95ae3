"""The pretraining loop behind ``python -m speechlm pretrain`` (notebook 18).

HuBERT iteration 1 on the embedded corpus: k-means units of MFCC frames are the
targets (:func:`speechlm.ssl.pretrain.kmeans_targets`), masked prediction the
objective (:mod:`speechlm.runner.objective`), AdamW with warm-up and linear
decay the optimizer. Every ``save_every`` steps rank 0 atomically replaces
``run_dir/last.pt`` with the model, optimizer, scheduler, every process's
random state, the step and the data position; a new run with the same
``run_dir`` resumes from it, so a killed run loses at most the steps since the
last save, and the resumed run retraces the uninterrupted one exactly.
``run_dir/log.jsonl`` gets one JSON object per logged step and per evaluation
(masked-prediction loss and accuracy on the held-out dev speakers).
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from speechlm import corpus
from speechlm.batching import pad_sequences
from speechlm.runner import distributed
from speechlm.runner.config import ConfigError, PretrainConfig
from speechlm.runner.objective import MaskedPrediction, utterance_masks
from speechlm.ssl import EncoderConfig, HuBERT, log_mel_features, mfcc_features
from speechlm.ssl.pretrain import kmeans_targets, warmup_linear_decay
from speechlm.utils import atomic_path, atomic_write_text

__all__ = ["CHECKPOINT", "LOG", "Data", "load_data", "run"]

CHECKPOINT = "last.pt"
LOG = "log.jsonl"
_EVAL_STREAM = 1  # mask seeds: (seed, 0, epoch, index) in training, (seed, 1, index) in evaluation


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
        if saved["config"][section] != now[section]:
            raise ConfigError(
                f"{path} was written with a different {section!r} ({saved['config'][section]}) than the "
                f"config asks for ({now[section]}): use a new run_dir, or delete the old run"
            )
    if saved["config"]["train"]["batch_size"] != config.train.batch_size:
        raise ConfigError(f"{path} was trained with a different train.batch_size: use a new run_dir")


def _append_log(path: Path, record: dict) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def _truncate_log(path: Path, step: int) -> None:
    """Drop log records after ``step`` (steps that a killed run did but never saved; they are redone)."""
    if path.exists():
        lines = path.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if json.loads(line)["step"] <= step]
        atomic_write_text(path, "".join(line + "\n" for line in kept))


def run(config: PretrainConfig, *, progress: bool = True) -> list[dict]:
    """Pretrain as ``config`` says (one process, or one of ``torchrun``'s); return the log records.

    Resumes from ``run_dir/last.pt`` when it exists. Returns the records of this
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
    data = load_data(config)
    torch.manual_seed(config.seed)
    m = config.model
    encoder_config = EncoderConfig(d_model=m.d_model, num_layers=m.num_layers, num_heads=m.num_heads,
                                   d_ff=m.d_ff, dropout=m.dropout)  # fmt: skip
    objective = MaskedPrediction(HuBERT(m.n_clusters, encoder_config)).to(ctx.device)
    optimizer = torch.optim.AdamW(objective.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    scheduler = warmup_linear_decay(optimizer, t.warmup_steps, t.steps)
    torch.manual_seed(config.seed + 1 + ctx.rank)  # each process its own dropout noise
    step = 0
    checkpoint_path = run_dir / CHECKPOINT
    if checkpoint_path.exists():
        saved = torch.load(checkpoint_path, map_location=ctx.device, weights_only=True)
        _check_resumable(saved, config, checkpoint_path)
        objective.hubert.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        step = saved["step"]
        if ctx.is_main:
            print(f"resuming from step {step} of {checkpoint_path}")
        if saved["world_size"] == ctx.world_size:
            _set_rng_state(saved["rng"][ctx.rank], ctx.device)
        else:  # a different number of processes: fresh, but still seeded, dropout noise
            torch.manual_seed(config.seed + 1 + ctx.rank + 1000 * step)
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        _truncate_log(run_dir / LOG, step)
    model = objective
    if ctx.distributed:
        device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        model = torch.nn.parallel.DistributedDataParallel(objective, device_ids=device_ids)

    steps_per_epoch = len(data.train_mels) // t.batch_size
    records: list[dict] = []
    bar = tqdm(total=t.steps, initial=step, desc="pretrain", disable=not (progress and ctx.is_main))
    start_time = time.perf_counter()
    while step < t.steps:
        epoch, position = divmod(step, steps_per_epoch)
        batches = distributed.shard_batches(ctx, len(data.train_mels), t.batch_size, epoch, config.seed)
        for indices in batches[position:]:
            if step >= t.steps:
                break
            batch = _batch(objective.hubert, data.train_mels, data.train_targets, indices,
                           (config.seed, 0, epoch), ctx.device)  # fmt: skip
            loss_sum, n_scored, n_correct = model(*batch)
            totals = distributed.all_reduce_sum(
                ctx,
                torch.stack([loss_sum.detach(), n_scored.to(loss_sum.dtype), n_correct.to(loss_sum.dtype)]),
            )
            # DDP averages gradients over processes; scaled so, the gradient is d(global sum)/global count
            (loss_sum * ctx.world_size / totals[1].clamp(min=1)).backward()
            torch.nn.utils.clip_grad_norm_(objective.parameters(), t.grad_clip)
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            step += 1
            bar.update(1)
            record = None
            if step % t.log_every == 0 or step == t.steps:
                loss, accuracy = (totals[0] / totals[1]).item(), (totals[2] / totals[1]).item()
                record = {"step": step, "epoch": epoch, "loss": loss, "accuracy": accuracy, "lr": lr,
                          "time_s": round(time.perf_counter() - start_time, 3)}  # fmt: skip
                bar.set_postfix(loss=f"{loss:.3f}")
            if ctx.is_main and (step % t.eval_every == 0 or step == t.steps):
                record = (record or {"step": step}) | _evaluate(objective, data, config, ctx.device)
            if record is not None:
                records.append(record)
                if ctx.is_main:
                    _append_log(run_dir / LOG, record)
            if step % t.save_every == 0 or step == t.steps:
                _save(ctx, config, checkpoint_path, objective, optimizer, scheduler, step, steps_per_epoch)
            if t.crash_at_step == step:
                os.kill(os.getpid(), signal.SIGKILL)  # a test's simulated crash: no cleanup at all
    bar.close()
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
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
