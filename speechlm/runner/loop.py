"""The pretraining loop behind ``python -m speechlm pretrain`` (notebook 18).

HuBERT iteration 1 on the embedded corpus: k-means units of MFCC frames are the
targets (:func:`speechlm.ssl.pretrain.kmeans_targets`), masked prediction the
objective (:mod:`speechlm.runner.objective`), AdamW with warm-up and linear
decay the optimizer. Every ``save_every`` steps rank 0 checkpoints the run
(:mod:`speechlm.runner.checkpoint`); a new run with the same ``run_dir``
resumes from it, so a killed run loses at most the steps since the last save,
and the resumed run retraces the uninterrupted one exactly.
``run_dir/log.jsonl`` gets one JSON object per logged step and per evaluation
(masked-prediction loss and accuracy on the held-out dev speakers).

Problems found while running (a ``run_dir`` that cannot be written, a full
disk, a diverged loss, no readable checkpoint) raise :class:`RunError`, which
says what to do; the command line prints it as ``error: ...``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from speechlm import corpus, optim
from speechlm.batching import pad_sequences
from speechlm.features import log_mel_features, mfcc_features
from speechlm.runner import checkpoint, distributed
from speechlm.runner.checkpoint import CHECKPOINT, LOG, RunError
from speechlm.runner.config import ConfigError, PretrainConfig
from speechlm.runner.objective import MaskedPrediction, utterance_masks
from speechlm.ssl import HuBERT
from speechlm.ssl.pretrain import kmeans_targets
from speechlm.train import fit

__all__ = ["Data", "load_data", "run"]

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
    frames = sum(len(f) for f in mfcc)
    if config.model.n_clusters > frames:
        raise ConfigError(
            f"model.n_clusters ({config.model.n_clusters}) is more than the {frames} MFCC frames of the "
            f"{len(train)} training utterances that k-means would cluster: lower model.n_clusters or "
            "raise data.train_size"
        )
    targets, kmeans = kmeans_targets(mfcc, config.model.n_clusters, seed=config.seed)
    dev_targets = [kmeans.predict(mfcc_features(u.audio)) for u in dev]
    n_mels = config.model.n_mels
    return Data(
        [log_mel_features(u.audio, n_mels=n_mels) for u in train],
        [torch.from_numpy(t).long() for t in targets],
        [log_mel_features(u.audio, n_mels=n_mels) for u in dev],
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
        checkpoint.prepare_run_dir(run_dir)
    saved, saved_path = checkpoint.resume_state(run_dir, config, ctx)
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
    objective = MaskedPrediction(HuBERT(m.n_clusters, m.encoder_config())).to(ctx.device)
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
            checkpoint.set_rng_state(saved["rng"][ctx.rank], ctx.device)
        else:  # a different number of processes: fresh, but still seeded, dropout noise
            torch.manual_seed(config.seed + 1 + ctx.rank + 1000 * step)
    if ctx.is_main:
        checkpoint.truncate_log(run_dir / LOG, step)
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
                checkpoint.append_log(run_dir / LOG, record)
        if saving:
            checkpoint.save_checkpoint(
                ctx, config, checkpoint_path, objective, optimizer, scheduler, step, steps_per_epoch
            )

    # every rank checks the loss summed over all of them (after_step), so that all stop at one step
    fit(model, batches(), optimizer=optimizer, steps=t.steps, start_step=step, step_fn=step_fn,
        scheduler=scheduler, grad_clip=t.grad_clip, after_step=after_step, check_finite=False,
        log_every=t.log_every, progress=progress and ctx.is_main, desc="pretrain")  # fmt: skip
    return records
