"""Multi-process data parallelism for ``python -m speechlm pretrain`` under ``torchrun`` (notebook 18).

``torchrun --nproc_per_node=N -m speechlm pretrain --config C.yaml`` starts N
processes and tells each its ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``
through the environment. Each process holds a full copy of the model
(:class:`~torch.nn.parallel.DistributedDataParallel`), reads its own shard of
every global batch (:class:`~torch.utils.data.DistributedSampler`), and after
``backward`` the gradients are averaged over the processes (gloo on CPU, NCCL
on GPU), so every copy takes the same optimizer step. Rank 0 alone writes
checkpoints and logs. Without ``torchrun`` the same code runs as one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler

from speechlm.runner.config import ConfigError

__all__ = ["Context", "all_gather_objects", "all_reduce_sum", "init", "shard_batches", "shutdown"]


@dataclass(frozen=True)
class Context:
    """Where this process stands: ``rank`` of ``world_size`` processes, on ``device``."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes checkpoints and logs."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init(device: str = "auto") -> Context:
    """Join the process group that ``torchrun`` set up (gloo on CPU, NCCL on CUDA), or run alone.

    ``device``: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``; under
    ``torchrun`` on GPUs each process takes the GPU ``LOCAL_RANK``.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "device is cuda, but torch.cuda.is_available() is False (no CUDA GPU, or a CPU-only PyTorch): "
            "set device: auto (the GPU when there is one) or device: cpu in the config"
        )
    if world_size == 1:
        return Context(0, 1, torch.device("cuda" if use_cuda else "cpu"))
    local_rank = int(os.environ["LOCAL_RANK"])
    if use_cuda and local_rank >= torch.cuda.device_count():
        raise ConfigError(
            f"process {local_rank} of this machine needs GPU {local_rank}, but there are only "
            f"{torch.cuda.device_count()} GPUs: pass torchrun --nproc_per_node={torch.cuda.device_count()}"
        )
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return Context(
        dist.get_rank(), dist.get_world_size(), torch.device(f"cuda:{local_rank}" if use_cuda else "cpu")
    )


def shutdown(ctx: Context) -> None:
    """Leave the process group (a no-op for a single process)."""
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(ctx: Context, tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over all processes (in place) and return it; unchanged for one process."""
    if ctx.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_gather_objects(ctx: Context, obj: Any) -> list[Any]:
    """Every process's ``obj``, in rank order (a list of one for a single process)."""
    if not ctx.distributed:
        return [obj]
    gathered: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def shard_batches(ctx: Context, n_items: int, global_batch: int, epoch: int, seed: int) -> list[list[int]]:
    """This process's batches of one epoch: ``n_items // global_batch`` lists of item indices.

    A :class:`DistributedSampler` shuffles ``range(n_items)`` with ``seed + epoch``
    and deals the permutation out round-robin; batch ``k`` of every rank
    together holds exactly items ``k * global_batch ... (k + 1) * global_batch - 1``
    of the permutation, so the union over ranks is the batch that a single
    process with the same ``global_batch`` would read.
    """
    if global_batch % ctx.world_size:
        raise ValueError(
            f"train.batch_size ({global_batch}) must be divisible by the number of processes "
            f"({ctx.world_size}): each process reads batch_size / processes utterances per step"
        )
    sampler = DistributedSampler(
        range(n_items), num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=seed, drop_last=True
    )
    sampler.set_epoch(epoch)
    local = list(sampler)
    per_rank = global_batch // ctx.world_size
    return [local[k * per_rank : (k + 1) * per_rank] for k in range(n_items // global_batch)]
