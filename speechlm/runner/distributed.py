"""Multi-process data parallelism for ``python -m speechlm pretrain`` under ``torchrun`` (notebook 18).

``torchrun --nproc_per_node=N -m speechlm pretrain --config C.yaml`` starts N
processes and tells each its ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``
through the environment. Each process holds a full copy of the model
(:class:`~torch.nn.parallel.DistributedDataParallel`), reads its own shard of
every global batch (:class:`~torch.utils.data.DistributedSampler`), and after
``backward`` the gradients are averaged over the processes (gloo on CPU, NCCL
on GPU), so every copy takes the same optimizer step. Rank 0 alone writes
checkpoints and logs. Without ``torchrun`` the same code runs as one process.
:func:`launch` starts such a group of processes from Python (a notebook) without torchrun's
launcher process.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler

from speechlm.runner.config import ConfigError

__all__ = [
    "Context", "RankResult", "all_gather_objects", "all_reduce_sum", "init", "launch", "shard_batches",
    "shutdown",
]  # fmt: skip


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


@dataclass(frozen=True)
class RankResult:
    """How one process of a :func:`launch` ended: its exit status and everything it printed."""

    rank: int
    returncode: int
    stdout: str
    stderr: str


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that is free now: where the processes of one job meet."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def launch(
    argv: list[str], nproc: int, *, master_port: int | None = None, threads: int = 1, timeout: float = 600.0
) -> list[RankResult]:
    """Run ``python -m speechlm pretrain *argv`` as ``nproc`` data-parallel processes on this machine.

    It does what ``torchrun --nproc_per_node=nproc --master_addr=127.0.0.1 -m speechlm pretrain
    *argv`` does for a run that does not fail: every process gets the environment torchrun gives
    its workers (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``,
    ``MASTER_PORT``), which is all :func:`init` reads, and ``threads`` torch threads. What it leaves
    out is torchrun's launcher: a separate Python process with PyTorch loaded (about 400 MB with
    PyPI's CUDA build) that watches the workers and restarts them on failure. On Linux the workers
    are forked from this process and share the PyTorch it has already loaded instead of loading their
    own (about 300 MB less per worker with the CUDA build), so that a notebook, its kernel and two
    workers fit in Binder's 2 GB; elsewhere they start fresh (spawn). A failed process stops the
    others (torchrun would restart the group); after ``timeout`` seconds all are stopped and
    :class:`TimeoutError` is raised. Returns one :class:`RankResult` per rank, in rank order.
    """
    if nproc < 1:
        raise ValueError(f"nproc must be at least 1, got {nproc}")
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    from speechlm.workers import ready_to_fork

    port = free_port() if master_port is None else master_port
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with tempfile.TemporaryDirectory(prefix="speechlm_launch_") as folder:
        outputs = [(Path(folder) / f"rank{r}.out", Path(folder) / f"rank{r}.err") for r in range(nproc)]
        processes = [
            context.Process(
                target=_worker,
                args=(list(argv), r, nproc, port, threads, str(out), str(err)),
                name=f"speechlm-rank{r}",
                daemon=True,
            )
            for r, (out, err) in enumerate(outputs)
        ]
        try:
            with ready_to_fork():
                for process in processes:
                    process.start()
                _wait(processes, timeout)
        finally:
            for process in processes:
                if process.is_alive():
                    process.kill()
                if process.pid is not None:  # started
                    process.join()
        return [
            RankResult(r, process.exitcode, out.read_text(), err.read_text())
            for r, (process, (out, err)) in enumerate(zip(processes, outputs, strict=True))
        ]


def _wait(processes, timeout: float) -> None:
    """Until every process has ended, or one failed (the others are then killed: they would wait for
    it in their next all-reduce forever), or ``timeout`` seconds passed (TimeoutError)."""
    deadline = time.monotonic() + timeout
    while any(p.is_alive() for p in processes):
        if any(p.exitcode not in (None, 0) for p in processes):
            for p in processes:
                if p.is_alive():
                    p.kill()
            return
        if time.monotonic() > deadline:
            for p in processes:
                p.kill()
            raise TimeoutError(
                f"the {len(processes)} processes did not finish within {timeout:.0f} s: "
                "all were stopped (pass a larger timeout)"
            )
        time.sleep(0.05)


def _worker(argv: list[str], rank: int, nproc: int, port: int, threads: int, out: str, err: str) -> None:
    """One process of :func:`launch`: torchrun's worker environment, its own output files, then the
    pretraining command; its exit status is the command's."""
    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(nproc), LOCAL_WORLD_SIZE=str(nproc),
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS=str(threads),
    )  # fmt: skip
    torch.set_num_threads(threads)
    stdout, stderr = open(out, "w", buffering=1), open(err, "w", buffering=1)  # open until the process exits
    os.dup2(stdout.fileno(), 1)  # also what C++ (gloo) prints
    os.dup2(stderr.fileno(), 2)
    sys.stdout, sys.stderr = stdout, stderr  # a kernel's streams would send to its front end
    from speechlm.runner.__main__ import main

    sys.exit(main(argv))  # an exception: its traceback goes to stderr, and the exit status is 1
