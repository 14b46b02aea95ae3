"""Binder's 2 GB, emulated: a memory cgroup kills what needs more, and peak memory is measured.

The mechanism of ``speechlm.dev.memory`` (:class:`MemoryGroup`, :class:`KernelWatch`) and of the
repository's ``conftest.py`` (every notebook kernel nbval starts runs inside a limit). Tests that
need a writable cgroup memory controller (root on Linux) skip, saying why, where there is none.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from speechlm.dev import memory as dev_memory

ROOT = Path(__file__).resolve().parents[1]
ALLOCATE = "import sys, time; sys.stdin.readline(); block = b'\\x01' * ({mb} * 2**20); time.sleep({hold})"


def _group_or_skip(limit_mb: int) -> dev_memory.MemoryGroup:
    try:
        return dev_memory.MemoryGroup.create(f"speechlm-test-{os.getpid()}-{time.monotonic_ns()}", limit_mb)
    except dev_memory.MemoryLimitUnavailable as error:
        pytest.skip(f"no memory cgroup can be made here: {error}")


def _start_allocator(mb: int, hold_s: float = 0.0) -> subprocess.Popen:
    """A Python process that allocates (and touches) ``mb`` MB once it reads a line on stdin."""
    code = ALLOCATE.format(mb=mb, hold=hold_s)
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, text=True)


@pytest.mark.parametrize(("allocate_mb", "killed"), [(300, True), (50, False)])
def test_a_process_over_its_groups_limit_is_killed_and_one_under_it_finishes(allocate_mb, killed):
    group = _group_or_skip(100)
    process = _start_allocator(allocate_mb)
    try:
        group.add(process.pid)
        assert group.pids() == [process.pid]
        process.communicate("go\n", timeout=60)
    finally:
        process.kill()
        process.wait()
    assert (process.returncode == -signal.SIGKILL) is killed, process.returncode
    assert (group.oom_kills() >= 1) is killed
    assert 40 < group.peak_mb() <= 100
    assert group.remove()
    assert not group.path.exists()


def test_a_watch_samples_the_peak_of_a_process_and_the_children_it_forks_later():
    code = textwrap.dedent(
        """
        import os, sys, time
        sys.stdin.readline()
        if os.fork() == 0:
            block = b'\\x01' * (150 * 2**20)
            time.sleep(1.5)
            os._exit(0)
        block = b'\\x01' * (100 * 2**20)
        os.wait()
        """
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, text=True)
    watch = dev_memory.KernelWatch(process.pid, "probe", limit_mb=0, interval_s=0.2)
    time.sleep(0.5)
    before = watch.peak_mb
    process.communicate("go\n", timeout=60)
    memory = watch.finish()
    assert 0 < before < 60
    assert memory == {"peak_mb": watch.peak_mb}
    assert 200 < memory["peak_mb"] - before < 300, (before, memory)  # 100 + 150 MB, parent and child


def test_a_watch_inside_a_limit_reports_the_oom_kill_and_removes_its_group():
    process = _start_allocator(300, hold_s=5)
    try:
        watch = dev_memory.KernelWatch(process.pid, "probe", limit_mb=100)
        if watch.group is None:
            pytest.skip(f"no memory cgroup can be made here: {watch.limit_skipped}")
        process.communicate("go\n", timeout=60)
        message = watch.death_message()
        memory = watch.finish()
    finally:
        process.kill()
        process.wait()
    assert "killed by the 100 MB memory limit (1 OOM kill(s)" in message
    assert "fit in 1.5 GB" in message
    assert 80 < memory["limit_peak_mb"] <= 100  # the limit, less what the process held before it joined
    assert watch.oom_kills == 1 and watch.removed and not watch.group.path.exists()


def _not_linux(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "platform", "darwin")
    return "memory cgroups need Linux, this is darwin"


def _no_memory_controller(monkeypatch, tmp_path):
    (tmp_path / "cgroup2").mkdir()
    (tmp_path / "cgroup2" / "cgroup.controllers").write_text("cpu io pids\n")
    mounts = tmp_path / "mounts"
    mounts.write_text(
        f"cgroup2 {tmp_path / 'cgroup2'} cgroup2 rw,relatime 0 0\n"
        f"cgroup {tmp_path} cgroup rw,relatime,cpu,cpuacct 0 0\nproc /proc proc rw 0 0\n"
    )
    monkeypatch.setattr(dev_memory, "MOUNTS", mounts)
    return "no cgroup memory controller is mounted (see /proc/mounts)"


@pytest.mark.parametrize("fault", [_not_linux, _no_memory_controller], ids=lambda f: f.__name__[1:])
def test_no_group_where_cgroups_cannot_be_made_says_why(fault, monkeypatch, tmp_path):
    reason = fault(monkeypatch, tmp_path)
    with pytest.raises(dev_memory.MemoryLimitUnavailable) as error:
        dev_memory.MemoryGroup.create("speechlm-test", 100)
    assert str(error.value) == reason
    watch = dev_memory.KernelWatch(os.getpid(), "probe", limit_mb=100)
    assert watch.finish()["peak_mb"] > 0  # still measured, without a limit
    assert watch.group is None and watch.limit_skipped == reason


def test_no_group_without_root_says_it_needs_root():
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the check as an unprivileged user")
    try:
        dev_memory._memory_controller()
    except dev_memory.MemoryLimitUnavailable as error:
        pytest.skip(f"no memory cgroup controller here: {error}")
    code = (
        "from speechlm.dev import memory as dev_memory\n"
        "try:\n    dev_memory.MemoryGroup.create('speechlm-test-unprivileged', 100)\n"
        "except dev_memory.MemoryLimitUnavailable as error:\n    print(error)\n"
    )
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )
    assert "cannot create the memory group" in result.stdout, result.stdout + result.stderr
    assert "speechlm-test-unprivileged: Permission denied (it needs root)" in result.stdout


@pytest.mark.parametrize(
    ("value", "expected"), [(None, 2048), ("0", 0), ("1536", 1536), ("2 GB", ValueError), ("-1", ValueError)]
)
def test_the_memory_limit_setting(value, expected, monkeypatch):
    if value is None:
        monkeypatch.delenv(dev_memory.MEMORY_LIMIT_ENV, raising=False)
    else:
        monkeypatch.setenv(dev_memory.MEMORY_LIMIT_ENV, value)
    if expected is ValueError:
        with pytest.raises(
            ValueError, match=f"{dev_memory.MEMORY_LIMIT_ENV}='{value}': expected whole megabytes"
        ):
            dev_memory.memory_limit_setting()
    else:
        assert dev_memory.memory_limit_setting() == expected


def _notebook(tmp_path: Path, rel: str, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, tmp_path / rel)


@pytest.mark.slow
def test_the_suite_runs_each_notebook_kernel_inside_the_limit_and_records_its_peak(tmp_path):
    """The repository's conftest.py on a tiny course: a notebook that needs 300 MB fails at once in a
    200 MB limit (not after nbval's 25-minute cell timeout), one that needs 50 MB passes; the summary
    gives each peak, and SPEECHLM_RECORD_TIMINGS=cold records time and peak of the one that passed."""
    try:
        dev_memory.MemoryGroup.create(f"speechlm-probe-{os.getpid()}", 200).remove()
    except dev_memory.MemoryLimitUnavailable as error:
        pytest.skip(f"no memory cgroup can be made here: {error}")
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "course.toml").write_text("")
    allocate = "block = b'\\x01' * ({mb} * 2**20)\nimport time\ntime.sleep(1)"
    _notebook(
        tmp_path, "notebooks/01_small.ipynb", ["x = 1", allocate.format(mb=50), "print('HEADLINE: small')"]
    )
    _notebook(tmp_path, "notebooks/02_large.ipynb", ["x = 1", allocate.format(mb=300), "y = 2"])
    env = {
        **os.environ,
        "SPEECHLM_MEMORY_LIMIT_MB": "200",
        "SPEECHLM_RECORD_TIMINGS": "cold",
        "SPEECHLM_CACHE": str(tmp_path / "cache"),
    }
    env.pop("SPEECHLM_SHARED_CACHE", None)
    start = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "notebooks",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "--nbval-lax",
            "--nbval-current-env",
            "--nbval-cell-timeout=600",
            "-q",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert time.monotonic() - start < 120, output
    assert result.returncode == 1, output
    assert "2 failed, 4 passed" in output  # the 300 MB cell, and the cell after it (kernel dead)
    assert "killed by the 200 MB memory limit (1 OOM kill(s)" in output
    summary_line = r"notebooks/01_small\.ipynb: \d+ MB in \d+ s, in a 200 MB memory group, which peaked at"
    assert re.search(summary_line, output), output
    assert "; the limit killed 1 process(es)" in output
    timings = json.loads((tmp_path / "notebooks" / "timings.json").read_text())
    assert list(timings) == ["notebooks/01_small.ipynb"]
    entry = timings["notebooks/01_small.ipynb"]
    assert entry["headline"] == "small" and entry["cold_s"] > 0
    # the group is charged for what the kernel allocates inside it: the 50 MB block, and a little more
    assert 50 < entry["cold_peak_mb"] < 200 and 50 <= entry["cold_limit_peak_mb"] < 100
    base, _ = dev_memory._memory_controller()
    assert not [*base.glob("speechlm-*-01_small"), *base.glob("speechlm-*-02_large")]  # removed
