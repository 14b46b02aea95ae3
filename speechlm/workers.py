"""Worker processes that die with their parent: the process pool behind notebook 12's curves.

:func:`run_jobs` runs independent jobs (one fine-tuning run each) in a few
processes, one torch thread each. A Jupyter kernel that is killed (SIGKILL, a
restart, a timeout) must not leave workers computing for minutes with
gigabytes each, and an interrupt must stop them at once: see
:func:`worker_init` and :func:`kill_pool`. Introduced in notebook 12.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

from tqdm.auto import tqdm

__all__ = [
    "default_workers",
    "exit_when_orphaned",
    "kill_pool",
    "run_jobs",
    "set_parent_death_signal",
    "worker_init",
]


def run_jobs(fn, jobs: list[dict], workers: int, progress: bool, desc: str) -> list[dict]:
    """Run ``fn`` on every job, in ``workers`` processes (one torch thread each) when > 1.

    The workers die with this process (:func:`worker_init`), and an interrupt (a notebook's
    "interrupt kernel", Ctrl-C) or a failed job cancels the jobs not started and kills the running
    ones at once, instead of waiting minutes for them to finish."""
    if workers <= 1:
        return [fn(job) for job in tqdm(jobs, desc=desc, disable=not progress, leave=False)]
    jobs = [{**job, "threads": 1} for job in jobs]
    # fork on Linux (works from scripts without a __main__ guard, and from notebooks); spawn elsewhere
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=worker_init, initargs=(os.getpid(),)
    )
    try:
        futures = [pool.submit(fn, job) for job in jobs]
        done = as_completed(futures)
        for future in tqdm(done, total=len(jobs), desc=desc, disable=not progress, leave=False):
            future.result()  # the first failure stops everything at once, not when its turn comes
    except BaseException:
        kill_pool(pool)
        raise
    pool.shutdown()
    return [future.result() for future in futures]


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


def default_workers() -> int:
    """How many worker processes to use by default: the usable cores, at most 2."""
    return max(
        1, min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    )
