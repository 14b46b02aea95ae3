"""Peak memory of a notebook's kernel and its workers, and Binder's 2 GB emulated with a memory cgroup.

Used by ``python -m speechlm course time`` (:mod:`speechlm.dev.timing`) and by the test suite's
notebook run (``conftest.py``): :class:`KernelWatch` samples the proportional set size (PSS) of a
kernel and every process it starts, and, where Linux's memory cgroups can be written (as root),
holds the kernel inside a :class:`MemoryGroup` of ``$SPEECHLM_MEMORY_LIMIT_MB`` (default 2,048 MB,
a mybinder.org session), so that a notebook that would be killed on Binder fails here too.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from pathlib import Path

MEMORY_LIMIT_ENV = "SPEECHLM_MEMORY_LIMIT_MB"
DEFAULT_MEMORY_LIMIT_MB = 2048  # mybinder.org's whole session, the Jupyter server included


MOUNTS = Path("/proc/mounts")  # where the cgroup hierarchies are found


class MemoryLimitUnavailable(RuntimeError):
    """No memory cgroup can be made here; the message says why (not Linux, not root, none mounted)."""


def memory_limit_setting() -> int:
    """``$SPEECHLM_MEMORY_LIMIT_MB`` (default 2048, Binder's limit); 0 switches the limit off."""
    value = os.environ.get(MEMORY_LIMIT_ENV, str(DEFAULT_MEMORY_LIMIT_MB))
    try:
        limit_mb = int(value)
    except ValueError:
        raise ValueError(
            f"{MEMORY_LIMIT_ENV}={value!r}: expected whole megabytes, e.g. 2048, or 0 for none"
        ) from None
    if limit_mb < 0:
        raise ValueError(f"{MEMORY_LIMIT_ENV}={value!r}: expected whole megabytes >= 0 (0 for no limit)")
    return limit_mb


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its living descendants (read from ``/proc/*/stat``; empty if ``pid`` is gone)."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:  # "pid (comm) state ppid ..."
                parents[int(name)] = int(stat.read().rpartition(b")")[2].split(maxsplit=2)[1])
        except OSError:  # the process ended while we looked
            continue
    if pid not in parents:
        return []
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def pss_mb(pids: list[int]) -> float:
    """Proportional set size of ``pids`` together, MB (shared pages counted once; ``smaps_rollup``)."""
    total_kb = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        total_kb += sum(int(line.split()[1]) for line in text.splitlines() if line.startswith("Pss:"))
    return total_kb / 1024


def kernel_pid(kernel_manager) -> int:
    """The process id of the kernel a jupyter_client ``KernelManager`` started."""
    provisioner = getattr(kernel_manager, "provisioner", None)
    process = getattr(provisioner, "process", None) or getattr(kernel_manager, "kernel", None)
    if process is None:
        raise RuntimeError(f"{kernel_manager!r} has started no kernel process")
    return process.pid


def _memory_controller() -> tuple[Path, int]:
    """Where memory groups are made: the cgroup v1 memory mount, else a v2 mount with memory."""
    if not sys.platform.startswith("linux"):
        raise MemoryLimitUnavailable(f"memory cgroups need Linux, this is {sys.platform}")
    v2 = None
    for line in MOUNTS.read_text().splitlines():
        _, mount, kind, options, *_ = line.split()
        if kind == "cgroup" and "memory" in options.split(","):
            return Path(mount), 1
        controllers = Path(mount) / "cgroup.controllers"
        if kind == "cgroup2" and controllers.exists() and "memory" in controllers.read_text().split():
            v2 = Path(mount)
    if v2 is None:
        raise MemoryLimitUnavailable("no cgroup memory controller is mounted (see /proc/mounts)")
    return v2, 2


class MemoryGroup:
    """A memory cgroup that holds a kernel (and every worker it forks later) under ``limit_mb``.

    cgroup v1: ``memory.limit_in_bytes`` (and ``memory.memsw.limit_in_bytes``, so swap cannot
    stretch it), peak from ``memory.max_usage_in_bytes``; cgroup v2: ``memory.max``,
    ``memory.swap.max = 0``, peak from ``memory.peak``. Both peaks include page cache. Needs root;
    :meth:`create` raises :class:`MemoryLimitUnavailable` with the reason where it cannot."""

    def __init__(self, path: Path, version: int):
        self.path, self.version = path, version

    @classmethod
    def create(cls, name: str, limit_mb: int) -> MemoryGroup:
        base, version = _memory_controller()
        path = base / name
        if version == 2:
            try:
                (base / "cgroup.subtree_control").write_text("+memory")
            except OSError as error:
                raise MemoryLimitUnavailable(
                    f"cannot enable memory groups in {base}: {error.strerror}"
                ) from None
        try:
            path.mkdir()
        except OSError as error:
            raise MemoryLimitUnavailable(
                f"cannot create the memory group {path}: {error.strerror} (it needs root)"
            ) from None
        group = cls(path, version)
        limit = str(limit_mb * 2**20)
        settings = ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.move_charge_at_immigrate"]
        if version == 2:
            settings = ["memory.max", "memory.swap.max"]
        values = {"memory.move_charge_at_immigrate": "3", "memory.swap.max": "0"}
        for index, setting in enumerate(settings):
            try:
                (path / setting).write_text(values.get(setting, limit))
            except OSError as error:
                if index == 0:  # the limit itself: without it the group is pointless
                    group.remove()
                    raise MemoryLimitUnavailable(f"cannot set {path / setting}: {error.strerror}") from None
        return group

    def add(self, pid: int) -> None:
        """Move ``pid`` (and its threads) into the group; processes it forks afterwards stay in it."""
        (self.path / "cgroup.procs").write_text(str(pid))

    def account_for(self, resident_mb: float) -> None:
        """Lower the limit by what the processes just added held (``resident_mb``) beyond what the
        group was charged for: recent Linux (v2, and v1 without ``move_charge_at_immigrate``) leaves
        a process's earlier memory charged where it was, which would otherwise come on top of the
        limit."""
        name = "memory.usage_in_bytes" if self.version == 1 else "memory.current"
        limit = "memory.limit_in_bytes" if self.version == 1 else "memory.max"
        uncharged = resident_mb * 2**20 - int((self.path / name).read_text())
        if uncharged > 0:
            lowered = int((self.path / limit).read_text()) - int(uncharged)
            (self.path / limit).write_text(str(max(lowered, 2**20)))

    def pids(self) -> list[int]:
        try:
            return [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def peak_mb(self) -> float | None:
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        try:
            return int((self.path / name).read_text()) / 2**20
        except (OSError, ValueError):
            return None

    def oom_kills(self) -> int:
        """How many processes the limit has killed (``oom_kill`` in v1's ``memory.oom_control`` or
        v2's ``memory.events``)."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            lines = (self.path / name).read_text().splitlines()
        except OSError:
            return 0
        return next((int(line.split()[1]) for line in lines if line.startswith("oom_kill ")), 0)

    def remove(self, wait_s: float = 5.0) -> bool:
        """Remove the group once its processes are gone (waiting up to ``wait_s``); whether it is gone."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self.path.rmdir()
                return True
            except FileNotFoundError:
                return True
            except OSError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.1)


_GROUP_IDS = itertools.count()


class KernelWatch:
    """Peak memory of a running kernel and its workers, optionally inside a :class:`MemoryGroup`.

    Start it right after the kernel starts and before its first cell (so workers forked later are
    in the group too). A daemon thread sums the PSS (:func:`pss_mb`) of the kernel's process tree
    every ``interval_s``; :meth:`finish` stops it after the kernel is gone and returns
    ``{"peak_mb", "limit_peak_mb"}`` (the latter only inside a limit). ``limit_mb`` 0 means no
    limit; where none can be made, :attr:`limit_skipped` says why."""

    def __init__(self, pid: int, name: str, limit_mb: int = 0, interval_s: float = 0.5):
        self.pid, self.limit_mb, self.interval_s = pid, limit_mb, interval_s
        self.group: MemoryGroup | None = None
        self.limit_skipped: str | None = None
        self.removed, self.oom_kills = True, 0
        if limit_mb:
            try:
                self.group = MemoryGroup.create(f"speechlm-{os.getpid()}-{next(_GROUP_IDS)}-{name}", limit_mb)
                members = process_tree(pid)
                resident_mb = pss_mb(members)
                for member in members:
                    self.group.add(member)
                self.group.account_for(resident_mb)
            except MemoryLimitUnavailable as error:
                self.limit_skipped = str(error)
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name=f"memory-{name}", daemon=True)
        self._thread.start()

    def _members(self) -> list[int]:
        """The kernel and its descendants: the group's processes (exact and cheap), else the tree."""
        return self.group.pids() if self.group is not None else process_tree(self.pid)

    def _sample(self) -> None:
        while True:
            self.peak_mb = max(self.peak_mb, pss_mb(self._members()))
            if self._stop.wait(self.interval_s):
                return

    def death_message(self, returncode: int | None = None) -> str:
        """Why the kernel died, for the failing cell: an OOM kill by the limit, or its exit code."""
        kills = self.group.oom_kills() if self.group is not None else 0
        if kills:
            return (
                f"the kernel was killed by the {self.limit_mb} MB memory limit ({kills} OOM "
                f"kill(s) in {self.group.path}), after a peak of {self.peak_mb:,.0f} MB PSS: make the "
                "notebook fit in 1.5 GB (stream batches, smaller dtypes, one worker, free what is done)"
            )
        code = "" if returncode is None else f" (exit code {returncode})"
        return f"the kernel died{code} after a peak of {self.peak_mb:,.0f} MB PSS"

    def finish(self) -> dict:
        """Stop sampling, remove the group (once its processes are gone; :attr:`removed` says whether
        it went, :attr:`oom_kills` how many processes the limit killed) and return the peaks."""
        self._stop.set()
        self._thread.join()
        result = {"peak_mb": self.peak_mb}
        if self.group is not None:
            result["limit_peak_mb"] = self.group.peak_mb()
            self.oom_kills = self.group.oom_kills()
            self.removed = self.group.remove()
        return result
