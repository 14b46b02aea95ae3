"""Repository-wide pytest settings.

No model hub, a non-interactive plotting backend, progress bars that redraw
at most every 10 s in the notebooks' kernels (nbval reads a kernel's output
only after a cell finishes, and ZeroMQ drops messages beyond 1,000 queued, so
a progress bar redrawn every 0.1 s through a 10-minute pretraining cell used
to lose the cell's final messages: "Timeout ... waiting for output").

Memory, as on Binder: every kernel nbval starts is put, before its first cell,
into a memory cgroup of ``$SPEECHLM_MEMORY_LIMIT_MB`` (default 2048, Binder's
2 GB; 0 switches it off) with the workers it forks later, so a notebook that
needs more is killed and fails; where no cgroup can be made (not root, not
Linux, no memory controller) the run goes on unlimited and the summary says
why. The peak PSS of each kernel and its workers is sampled every 0.5 s and
printed in the summary with the notebook's wall time, one line per notebook.

``SPEECHLM_RECORD_TIMINGS=cold`` (from an empty course cache, as ``.ci/run``
does), ``warm`` (or ``1``, from a built cache) or ``auto`` also writes the
wall time, peak memory and headline of every notebook that passes to
``notebooks/timings.json`` (the same record as ``python -m speechlm course
time``), so that one run of the suite can also refresh the course map (then
run ``python -m speechlm course headers``).

The Chinese edition (``notebooks/zh/``, ``solutions/zh/``) runs the English code cell for cell, so
the suite executes two of its notebooks only, :data:`ZH_EXECUTED` (00 and 03: the Chinese setup and
exercise path), and collects nothing else there; a Chinese notebook named on the command line still
runs. Its runs record no timings: the Chinese headers show the English notebooks' measurements.
"""

import os
import queue
import time
from collections import defaultdict
from pathlib import Path

import pytest

# Keeps executed notebooks in build/executed for the website.
pytest_plugins = ["speechlm.dev.site.keep_executed"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TQDM_MININTERVAL", "10")  # inherited by the kernels nbval starts

ROOT = Path(__file__).resolve().parent
ZH_DIRS = (ROOT / "notebooks" / "zh", ROOT / "solutions" / "zh")
ZH_EXECUTED = {ROOT / "notebooks" / "zh" / "00_welcome.ipynb", ROOT / "notebooks" / "zh" / "03_mfcc.ipynb"}
_seconds: dict[str, float] = defaultdict(float)
_outputs: dict[str, list] = defaultdict(list)
_failed: set[str] = set()
_started: dict[str, float] = {}
_watches: dict = {}  # notebook -> speechlm.dev.memory.KernelWatch, while its kernel runs
_memory: dict[str, dict] = {}  # notebook -> {"peak_mb", "limit_peak_mb"} once its kernel is gone
_memory_notes: dict[str, str] = {}  # notebook -> what the summary says beyond its peak
_settings: dict = {}


def _notebook(nodeid: str) -> str | None:
    path = nodeid.split("::", 1)[0]
    return path if path.endswith(".ipynb") else None


def pytest_ignore_collect(collection_path, config):
    """Under ``notebooks/zh/`` and ``solutions/zh/`` collect :data:`ZH_EXECUTED` only (pytest does
    not ask about paths given on the command line)."""
    path = Path(collection_path).resolve()
    if path in ZH_DIRS:
        return path != ZH_DIRS[0]  # descend into notebooks/zh only
    if any(folder in path.parents for folder in ZH_DIRS):
        return path not in ZH_EXECUTED
    return None


def _is_zh(rel: str) -> bool:
    return rel.startswith(("notebooks/zh/", "solutions/zh/"))


def pytest_configure(config):
    """Read the memory limit once."""
    from speechlm.dev.memory import memory_limit_setting

    try:
        _settings["limit_mb"] = memory_limit_setting()
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


def pytest_collection_finish(session):
    """Decide cold or warm once, after collection and before any test can fill the cache; only a run
    that executes notebooks records timings (``pytest tests/site_check.py`` after the suite, on the
    cache it filled, neither records nor checks)."""
    from speechlm.dev.timing import RECORD_ENV, timing_mode

    setting = os.environ.get(RECORD_ENV)
    if not setting or not any(_notebook(item.nodeid) for item in session.items):
        _settings["mode"] = None
        return
    try:
        _settings["mode"] = timing_mode(setting)
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


def pytest_runtest_logstart(nodeid, location):
    rel = _notebook(nodeid)
    if rel is not None:
        _started.setdefault(rel, time.perf_counter())


def pytest_runtest_logreport(report):
    rel = _notebook(report.nodeid)
    if rel is None:
        return
    _seconds[rel] = time.perf_counter() - _started[rel]
    if report.failed:
        _failed.add(rel)


def _fail_fast_when_the_kernel_dies(kernel, watch) -> None:
    """nbval waits for a cell's reply up to ``--nbval-cell-timeout`` (25 min) even when the kernel is
    dead, e.g. killed by the memory limit; poll in 1 s slices and fail the cell at once instead,
    saying why it died."""
    get = kernel.kc.get_shell_msg

    def get_shell_msg(timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            try:
                return get(timeout=step)
            except queue.Empty:
                if not kernel.is_alive():
                    raise RuntimeError(watch.death_message()) from None
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    kernel.kc.get_shell_msg = get_shell_msg


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    """Once nbval has started a notebook's kernel (the first cell's setup), before that cell runs:
    limit its memory and sample its peak."""
    result = yield
    rel = _notebook(item.nodeid)
    kernel = getattr(item.parent, "kernel", None)
    if rel is not None and rel not in _watches and kernel is not None:
        from speechlm.dev.memory import KernelWatch, kernel_pid

        name = Path(rel).stem
        _watches[rel] = KernelWatch(kernel_pid(kernel.km), name, _settings["limit_mb"])
        _fail_fast_when_the_kernel_dies(kernel, _watches[rel])
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After a notebook's last cell nbval stops its kernel: keep the outputs and the peak memory,
    and remove the kernel's memory group."""
    try:
        return (yield)
    finally:
        rel = _notebook(item.nodeid)
        if rel is not None and getattr(item, "test_outputs", None):
            _outputs[rel].extend(item.test_outputs)
        if rel in _watches and (nextitem is None or nextitem.parent is not item.parent):
            watch = _watches.pop(rel)
            _memory[rel] = watch.finish()
            if watch.group is not None:
                note = f"in a {watch.limit_mb:,} MB memory group, which peaked at "
                note += f"{_memory[rel]['limit_peak_mb'] or 0:,.0f} MB (page cache included)"
                if watch.oom_kills:
                    note += f"; the limit killed {watch.oom_kills} process(es)"
                if not watch.removed:
                    note += f"; {watch.group.path} could not be removed"
                _memory_notes[rel] = note
            elif watch.limit_skipped:
                _settings["limit_skipped"] = watch.limit_skipped


def pytest_terminal_summary(terminalreporter):
    """One line per notebook: its peak memory, its wall time and, where it ran in one, its memory
    group's peak."""
    if not _memory:
        return
    from speechlm.dev.course import MEMORY_BUDGET_MB
    from speechlm.dev.memory import MEMORY_LIMIT_ENV

    reporter = terminalreporter
    reporter.section("peak memory of each notebook (PSS of the kernel and its workers)")
    if _settings.get("limit_skipped"):
        reporter.line(
            f"memory limit of {_settings['limit_mb']:,} MB not applied: {_settings['limit_skipped']}"
        )
    elif not _settings["limit_mb"]:
        reporter.line(f"no memory limit: {MEMORY_LIMIT_ENV}=0")
    for rel, memory in sorted(_memory.items()):
        over = f" (over the {MEMORY_BUDGET_MB:,} MB budget)" if memory["peak_mb"] > MEMORY_BUDGET_MB else ""
        note = f", {_memory_notes[rel]}" if rel in _memory_notes else ""
        took = f" in {_seconds[rel]:,.0f} s" if rel in _seconds else ""
        reporter.line(f"{rel}: {memory['peak_mb']:,.0f} MB{over}{took}{note}")


def pytest_sessionfinish(session, exitstatus):
    if not _settings.get("mode") or not _seconds:
        return
    from speechlm.dev.course import load_course
    from speechlm.dev.timing import find_headline, record_timing

    c = load_course(ROOT)
    for rel, seconds in sorted(_seconds.items()):
        if rel not in _failed and not _is_zh(rel):
            headline = find_headline(_outputs[rel])
            record_timing(c, rel, seconds, headline, mode=_settings["mode"], **_memory.get(rel, {}))


@pytest.fixture
def benchmark_module():
    """A loader of the scripts in benchmarks/ (not a package): ``benchmark_module("label_efficiency")``
    imports ``benchmarks/label_efficiency.py`` and returns the module."""
    import importlib.util

    def load(name: str):
        path = ROOT / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"benchmark_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
