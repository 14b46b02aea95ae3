"""Worker processes that die with their parent: the process pool behind notebook 12's curves.

:func:`run_jobs` runs independent jobs (one fine-tuning run each) in a few
processes, one torch thread each. A Jupyter kernel that is killed (SIGKILL, a
restart, a timeout) must not leave workers computing for minutes with
gigabytes each, and an interrupt must stop them at once: see
:func:`worker_init` and :func:`kill_pool`. Introduced in notebook 12.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tqdm.auto import tqdm

__all__ = [
    "default_workers",
    "exit_when_orphaned",
    "kill_pool",
    "memory_is_short",
    "memory_limit_bytes",
    "ready_to_fork",
    "release_memory",
    "run_jobs",
    "set_parent_death_signal",
    "worker_init",
]


def run_jobs(fn, jobs: list[dict], workers: int, progress: bool, desc: str) -> list[dict]:
    """Run ``fn`` on every job, in ``workers`` processes (one torch thread each) when > 1.

    The workers die with this process (:func:`worker_init`), and an interrupt (a notebook's
    "interrupt kernel", Ctrl-C) or a failed job cancels the jobs not started and kills the running
    ones at once, instead of waiting minutes for them to finish.

    Memory: the workers are forked where they can be, after :func:`ready_to_fork`; each returns its
    heap after every job."""
    if workers <= 1:
        return [_run_and_release(fn, job) for job in tqdm(jobs, desc=desc, disable=not progress, leave=False)]
    jobs = [{**job, "threads": 1} for job in jobs]
    # fork on Linux (works from scripts without a __main__ guard, and from notebooks); spawn elsewhere
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with ready_to_fork():
        pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=worker_init, initargs=(os.getpid(),)
        )
        try:
            futures = [pool.submit(_run_and_release, fn, job) for job in jobs]
            done = as_completed(futures)
            for future in tqdm(done, total=len(jobs), desc=desc, disable=not progress, leave=False):
                future.result()  # the first failure stops everything at once, not when its turn comes
        except BaseException:
            kill_pool(pool)
            raise
    pool.shutdown()
    return [future.result() for future in futures]


@contextlib.contextmanager
def ready_to_fork():
    """Around forking worker processes from this one (a notebook kernel): a forked worker shares this
    process's pages until either writes them. So that it copies as few as possible, this process
    first returns its freed heap to the system (:func:`release_memory`) and freezes its Python
    objects out of the garbage collector's reach until the block ends (``gc.freeze``: a collection in
    a worker would otherwise write to every object's header, and so copy every page holding one). A
    forked worker copied 70.6 MB of a kernel's objects without, 2.4 MB with."""
    release_memory()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _run_and_release(fn, job: dict) -> dict:
    """``fn(job)``, then the memory the job freed goes back to the system (:func:`release_memory`)."""
    try:
        return fn(job)
    finally:
        release_memory()


def release_memory() -> None:
    """Collect garbage, then hand the C heap's free pages back to the system
    (:func:`release_free_memory`): after a training run of variable-length batches a
    process holds hundreds of megabytes it no longer uses, which a forked worker would inherit and
    Binder's 2 GB would count."""
    gc.collect()
    release_free_memory()


def release_free_memory() -> bool:
    """Hand the C heap's free pages back to the operating system (glibc's ``malloc_trim``).

    PyTorch frees a step's activations into the C heap, which keeps them. With variable-length
    batches every step asks for other sizes, the free blocks no longer fit, and the heap grows step
    after step: the course encoder's pretraining (notebook 11) grew from 1.3 to 2.7 GB over its 750
    steps, though one step needs about 0.5 GB. Trimming after each step keeps the resident memory at
    what one step needs (``fit(release_memory=True)``). Returns True when pages were handed back
    (always False where the C library is not glibc); computed numbers are unchanged either way.
    """
    trim = _malloc_trim()
    return trim is not None and bool(trim(0))


@functools.cache
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc only; musl and others have no malloc_trim
    except (OSError, AttributeError):
        return None


def worker_init(parent_pid: int) -> None:
    """Make a worker process die with its parent ``parent_pid``: a SIGKILLed or crashed notebook
    kernel must not leave workers computing for minutes with gigabytes each.

    On Linux the kernel sends the worker SIGKILL when the parent's thread that forked it exits
    (``PR_SET_PDEATHSIG``; :func:`run_jobs` forks every worker from the thread that waits for
    them). On every POSIX system, a watchdog thread also exits the worker once its parent is gone
    (an orphan gets another parent process id). Interrupts are left to the parent, which kills the
    workers itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform == "linux":
        set_parent_death_signal(signal.SIGKILL)
    threading.Thread(target=exit_when_orphaned, args=(parent_pid,), daemon=True).start()


def set_parent_death_signal(sig: int) -> None:
    """Linux: have the kernel send ``sig`` to this process when its parent thread exits."""
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_pdeathsig, int(sig), 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(errno)}")


def exit_when_orphaned(parent_pid: int, poll_s: float = 0.5) -> None:
    """Watchdog thread of a worker: end the process as soon as ``parent_pid`` is no longer its parent
    (also when the parent died before the worker got here)."""
    while os.getppid() == parent_pid:
        time.sleep(poll_s)
    os._exit(1)


def kill_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel ``pool``'s pending jobs and kill its workers now, rather than wait for running jobs."""
    processes = list((pool._processes or {}).values())  # private, but the only handle on the workers
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.kill()
    for process in processes:
        process.join()


# Below this much memory for the whole session (Binder gives 2 GB, the Jupyter server included) the
# jobs run one at a time in the kernel: a worker process holds about 0.5 GB more while it trains.
TWO_WORKERS_MIN_BYTES = 4 * 2**30


def memory_is_short() -> bool:
    """True where the memory this process may use (:func:`memory_limit_bytes`) is under
    ``TWO_WORKERS_MIN_BYTES``, as on Binder (2 GB): jobs then run one at a time, and training loops
    trade some speed for memory (:func:`release_free_memory` after every step)."""
    limit = memory_limit_bytes()
    return limit is not None and limit < TWO_WORKERS_MIN_BYTES


def default_workers() -> int:
    """How many worker processes to use by default: the usable cores, at most 2, and 1 where
    memory is short (:func:`memory_is_short`)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return 1 if memory_is_short() else max(1, min(2, cores))


def memory_limit_bytes() -> int | None:
    """The memory this process may use: its cgroup's limit (v2 ``memory.max``, v1
    ``memory.limit_in_bytes``; Binder and Docker set one) or the machine's physical memory, whichever
    is lower; None where neither can be read."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        pass
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2
            candidates = [Path("/sys/fs/cgroup") / path.lstrip("/") / "memory.max"]
        elif "memory" in controllers.split(","):  # v1
            candidates = [Path("/sys/fs/cgroup/memory") / path.lstrip("/") / "memory.limit_in_bytes"]
        else:
            continue
        for candidate in candidates:
            try:
                value = candidate.read_text().strip()
            except OSError:
                continue
            if value.isdigit():  # "max" (v2) means no limit; v1 writes a huge number instead
                limits.append(int(value))
    return min(limits) if limits else None
