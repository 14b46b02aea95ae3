"""``python -m speechlm course time``: run every notebook headless and record what it costs.

Each notebook's wall time (cold, from an empty course cache, or warm), peak memory (PSS of the
kernel and its workers, inside a 2 GB memory cgroup where one can be made, as on Binder: see
:mod:`speechlm.dev.memory`) and headline result go to ``notebooks/timings.json``, from which
:mod:`speechlm.dev.headers` writes the headers and the README's course map. The test suite's
``conftest.py`` records the same way when ``$SPEECHLM_RECORD_TIMINGS`` is set.
"""

from __future__ import annotations

import json
import os
import time

import nbformat

from speechlm.dev.course import Course
from speechlm.dev.memory import KernelWatch, kernel_pid, memory_limit_setting

__all__ = ["RECORD_ENV", "find_headline", "record_timing", "time_notebooks", "timing_mode"]

RECORD_ENV = "SPEECHLM_RECORD_TIMINGS"


def course_cache_state() -> tuple[bool, str]:
    """Whether the course cache is empty (a cold start), and a sentence saying where it looked.

    Empty means the writable cache (``$SPEECHLM_CACHE``) has no entries and no
    ``$SPEECHLM_SHARED_CACHE`` layer is set: everything a notebook needs is made as it runs."""
    from speechlm.utils import cache_dir, shared_cache_dirs

    writable = cache_dir(create=False)
    layers = shared_cache_dirs()
    holds = writable.is_dir() and any(writable.iterdir())
    where = f"the course cache {writable}" + (" holds files" if holds else " is empty")
    if layers:
        where += f" and SPEECHLM_SHARED_CACHE names {', '.join(map(str, layers))}"
    return not holds and not layers, where


def timing_mode(setting: str | None) -> str:
    """``"cold"`` or ``"warm"``: what the run about to start measures (``$SPEECHLM_RECORD_TIMINGS``).

    ``cold`` starts from an empty course cache, so each notebook also pays for what it is the first
    to train (in course order: notebook 11 pretrains the shared encoder); ``warm`` (or ``1``) starts
    from a built cache; unset, empty or ``auto`` picks by whether the cache is empty. Raises
    ValueError, naming the cache and the fix, when the setting contradicts the cache."""
    setting = (setting or "auto").strip().lower()
    if setting not in ("auto", "cold", "warm", "1"):
        raise ValueError(f"{RECORD_ENV}={setting!r}: expected cold, warm, 1 (= warm) or auto")
    empty, where = course_cache_state()
    if setting == "cold" and not empty:
        raise ValueError(
            f"{RECORD_ENV}=cold needs an empty course cache, but {where}: point SPEECHLM_CACHE at an "
            "empty folder and unset SPEECHLM_SHARED_CACHE (as .ci/run does), or record warm"
        )
    if setting in ("warm", "1") and empty:
        raise ValueError(
            f"{RECORD_ENV}={setting} measures a built cache, but {where}: record this run as cold "
            f"({RECORD_ENV}=cold), or build the cache first (`python -m speechlm cache build`)"
        )
    if setting == "auto":
        return "cold" if empty else "warm"
    return "cold" if setting == "cold" else "warm"


def time_notebooks(
    course: Course, only: list[str] | None = None, *, timeout_s: int = 1200, mode: str | None = None
) -> dict[str, dict]:
    """Execute notebooks headless, one by one; record wall time, peak memory and headline.

    ``mode`` (``cold``/``warm``, default from ``$SPEECHLM_RECORD_TIMINGS`` or the cache, see
    :func:`timing_mode`) is decided once, before the first notebook. Each kernel's peak PSS (with
    the workers it starts) is sampled by :class:`KernelWatch`, inside a memory limit of
    ``$SPEECHLM_MEMORY_LIMIT_MB`` (2048, Binder's) where cgroups can be written. Results are merged
    into ``notebooks/timings.json`` (written atomically) after each notebook, so an interrupted run
    keeps what it measured.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    mode = mode or timing_mode(os.environ.get(RECORD_ENV))
    limit_mb = memory_limit_setting()
    targets: list[str] = []
    for meta in course.existing():
        targets.append(f"notebooks/{meta.file}")
        if (course.solutions_dir / meta.solutions_file).exists():
            targets.append(f"solutions/{meta.solutions_file}")
    if only:
        targets = [t for t in targets if any(o in t for o in only)]
    for index, rel in enumerate(targets):
        path = course.root / rel
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb, timeout=timeout_s, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        )
        watches: list[KernelWatch] = []

        def watch(notebook, client=client, watches=watches, name=f"time-{index:02d}"):
            """nbclient's hook after the kernel starts, before the first cell."""
            watches.append(KernelWatch(kernel_pid(client.km), name, limit_mb))

        client.on_notebook_start = watch
        start = time.perf_counter()
        try:
            client.execute()
        except DeadKernelError as error:
            if not watches:
                raise
            raise RuntimeError(f"{rel}: {watches[0].death_message()}") from error
        finally:
            memory = watches[0].finish() if watches else {}
        seconds = time.perf_counter() - start
        outputs = [output for cell in nb.cells for output in cell.get("outputs", [])]
        record_timing(course, rel, seconds, find_headline(outputs), mode=mode, **memory)
        print(f"{rel}: {seconds:.1f} s {mode}, peak {memory.get('peak_mb', 0):,.0f} MB", flush=True)
    return course.timings


def find_headline(outputs: list) -> str | None:
    """The last ``HEADLINE: ...`` line printed in a notebook's outputs."""
    headline = None
    for output in outputs:
        text = output.get("text", "") if output.get("output_type") == "stream" else ""
        for line in text.splitlines():
            if line.startswith("HEADLINE: "):
                headline = line.removeprefix("HEADLINE: ").strip()
    return headline


def record_timing(
    course: Course,
    rel: str,
    seconds: float,
    headline: str | None,
    *,
    mode: str = "warm",
    peak_mb: float | None = None,
    limit_peak_mb: float | None = None,
) -> None:
    """Store one notebook's run in ``notebooks/timings.json``: ``{mode}_s`` (wall time),
    ``{mode}_peak_mb`` (peak PSS of the kernel and its workers, MB) and ``{mode}_limit_peak_mb``
    (the memory group's peak, page cache included, when it ran inside a limit). The other mode's
    fields are kept; the headline is the latest run's."""
    from speechlm.utils import atomic_write_text

    if mode not in ("cold", "warm"):
        raise ValueError(f"mode must be 'cold' or 'warm', got {mode!r}")
    entry = dict(course.timings.get(rel, {}))
    entry[f"{mode}_s"] = round(seconds, 1)
    for key, value in ((f"{mode}_peak_mb", peak_mb), (f"{mode}_limit_peak_mb", limit_peak_mb)):
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = round(value)
    if headline:
        entry["headline"] = headline
    course.timings[rel] = entry
    text = json.dumps(course.timings, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write_text(course.notebooks_dir / "timings.json", text)
