"""Repository-wide pytest settings.

No model hub, a non-interactive plotting backend, progress bars that redraw
at most every 10 s in the notebooks' kernels (nbval reads a kernel's output
only after a cell finishes, and ZeroMQ drops messages beyond 1,000 queued, so
a progress bar redrawn every 0.1 s through a 10-minute pretraining cell used
to lose the cell's final messages: "Timeout ... waiting for output"), and, when
``SPEECHLM_RECORD_TIMINGS=1``, the wall time and headline of every notebook
that passes are written to ``notebooks/timings.json`` (the same record as
``python -m speechlm course time``), so that one run of the suite can also
refresh the course map (then run ``python -m speechlm course headers``).
"""

import os
import time
from collections import defaultdict
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TQDM_MININTERVAL", "10")  # inherited by the kernels nbval starts

ROOT = Path(__file__).resolve().parent
_seconds: dict[str, float] = defaultdict(float)
_outputs: dict[str, list] = defaultdict(list)
_failed: set[str] = set()
_started: dict[str, float] = {}


def _notebook(nodeid: str) -> str | None:
    path = nodeid.split("::", 1)[0]
    return path if path.endswith(".ipynb") else None


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


def pytest_runtest_teardown(item):
    rel = _notebook(item.nodeid)
    if rel is not None and getattr(item, "test_outputs", None):
        _outputs[rel].extend(item.test_outputs)


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("SPEECHLM_RECORD_TIMINGS") != "1" or not _seconds:
        return
    from speechlm import course

    c = course.load_course(ROOT)
    for rel, seconds in sorted(_seconds.items()):
        if rel not in _failed:
            course.record_timing(c, rel, seconds, course.find_headline(_outputs[rel]))


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
