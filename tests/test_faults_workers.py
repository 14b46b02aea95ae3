"""Issue 16, notebook 12's label-efficiency curves: worker processes die with their parent, an
interrupt stops them at once, and the JSON results cache survives damage and can be shared."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from speechlm import label_efficiency, workers

ROOT = Path(__file__).resolve().parents[1]

# Runs notebook 12's worker pool (workers.run_jobs) on four jobs that would take two minutes
# each, on two workers; prints each worker's pid when its job starts and "interrupted" on Ctrl-C.
POOL_SCRIPT = """
import os, sys, time
from speechlm import workers

def job(job):
    os.write(1, f"started {os.getpid()}\\n".encode())  # one write: the two workers' lines never mix
    time.sleep(120)
    return {}

if sys.argv[1] == "watchdog only":
    workers.set_parent_death_signal = lambda sig: None
if sys.argv[1] == "pdeathsig only":
    workers.exit_when_orphaned = lambda parent_pid: None
try:
    workers.run_jobs(job, [{}] * 4, 2, False, "test")
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie nobody reaped yet counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def _start_pool(mode: str) -> tuple[subprocess.Popen, list[int]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", POOL_SCRIPT, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, which a notebook's interrupt signals as a whole
    )
    pids = []
    for _ in range(2):
        line = proc.stdout.readline()
        if not line.startswith("started"):
            proc.kill()
            pytest.fail(f"the pool did not start: {line!r} {proc.communicate()[1]}")
        pids.append(int(line.split()[1]))
    return proc, pids


def _wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not all(_gone(pid) for pid in pids):
        time.sleep(0.1)
    return [pid for pid in pids if not _gone(pid)]


def _cleanup(proc: subprocess.Popen, pids: list[int]) -> None:
    """Whatever the test found, leave no process of it behind."""
    for pid in [proc.pid, *pids]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.communicate()


@pytest.mark.skipif(sys.platform != "linux", reason="the pool forks its workers on Linux only")
@pytest.mark.parametrize("mode", ["both", "pdeathsig only", "watchdog only"])
def test_workers_die_when_their_parent_is_killed(mode):
    proc, pids = _start_pool(mode)
    try:
        os.kill(proc.pid, signal.SIGKILL)  # the kernel is killed: no Python code of it runs again
        proc.wait(timeout=10)
        alive = _wait_gone(pids, timeout_s=10)
        assert not alive, f"workers {alive} outlived their SIGKILLed parent ({mode})"
    finally:
        _cleanup(proc, pids)


@pytest.mark.skipif(sys.platform != "linux", reason="the pool forks its workers on Linux only")
@pytest.mark.parametrize("group", [False, True], ids=["parent only", "process group"])
def test_an_interrupt_cancels_pending_jobs_and_kills_running_ones_at_once(group):
    """Ctrl-C signals the parent; Jupyter's "interrupt kernel" signals the kernel's process group."""
    proc, pids = _start_pool("both")
    try:
        start = time.monotonic()
        (os.killpg if group else os.kill)(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)  # the jobs alone would take two minutes
        assert proc.returncode == 0, err
        assert time.monotonic() - start < 30
        assert out.split("\n") == ["interrupted", ""], out  # the two pending jobs never started
        assert not _wait_gone(pids, timeout_s=2)
    finally:
        _cleanup(proc, pids)


def test_a_failing_job_stops_the_other_workers():
    start = time.monotonic()
    with pytest.raises(ValueError, match="bad job"):
        workers.run_jobs(_fail_or_sleep, [{"fail": False}, {"fail": True}], 2, False, "test")
    assert time.monotonic() - start < 10  # raised at once, not after the other job's minute


def _fail_or_sleep(job: dict) -> dict:
    if job["fail"]:
        time.sleep(0.2)
        raise ValueError("bad job")
    time.sleep(60)
    return {}


# ------------------------------------------------------------------------------ the results cache

SETTINGS = {"recipe": {"budgets": (25, 50)}, "encoder": "hubert-vX"}
ROWS = [{"budget": 25, "pretrained_cer": 0.5}]


def _compute(calls: list):
    def compute():
        calls.append(1)
        return ROWS

    return compute


def _build(cache: Path, monkeypatch) -> Path:
    """The cached result of SETTINGS, built into ``cache``; its path."""
    monkeypatch.setenv("SPEECHLM_CACHE", str(cache))
    label_efficiency._cached("ctc", SETTINGS, _compute([]), progress=False)
    (path,) = (cache / "results").iterdir()
    return path


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


DAMAGE = {
    "zero bytes": lambda good: b"",
    "truncated": lambda good: good[: len(good) // 2],
    "garbage": lambda good: b"\xff\xfe\x00 not json at all",
    "not an object": lambda good: b"[1, 2, 3]",
    "no rows": lambda good: b'{"settings": {}}',
    "other settings": lambda good: json.dumps({"rows": ROWS, "settings": {"a": 1}}).encode(),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_cached_curve_is_reported_by_path_and_computed_again(damage, tmp_path, monkeypatch):
    path = _build(tmp_path, monkeypatch)
    good = path.read_bytes()
    path.write_bytes(DAMAGE[damage](good))
    calls = []
    with pytest.warns(UserWarning, match=re.escape(str(path)) + r" .*computing the curve again"):
        result = label_efficiency._cached("ctc", SETTINGS, _compute(calls), progress=False)
    assert calls == [1] and result["rows"] == ROWS
    assert json.loads(path.read_text())["rows"] == ROWS  # rebuilt in place
    assert _files(tmp_path) == [path]  # no temporary file left beside it


def test_a_curve_in_the_shared_cache_is_used_and_nothing_written(tmp_path, monkeypatch):
    shared = tmp_path / "instructor"
    _build(shared, monkeypatch)
    before = {p: p.read_bytes() for p in _files(shared)}
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "student"))
    monkeypatch.setenv("SPEECHLM_SHARED_CACHE", str(shared))
    result = label_efficiency._cached("ctc", SETTINGS, lambda: pytest.fail("computed again"), progress=False)
    assert result["rows"] == ROWS
    assert _files(tmp_path / "student") == []
    assert {p: p.read_bytes() for p in _files(shared)} == before


def test_a_damaged_curve_of_the_user_gives_way_to_the_shared_one(tmp_path, monkeypatch):
    shared = tmp_path / "instructor"
    _build(shared, monkeypatch)
    mine = _build(tmp_path / "student", monkeypatch)
    mine.write_bytes(b"")
    monkeypatch.setenv("SPEECHLM_SHARED_CACHE", str(shared))
    with pytest.warns(UserWarning, match=re.escape(str(mine)) + r" .*deleting it"):
        result = label_efficiency._cached(
            "ctc", SETTINGS, lambda: pytest.fail("computed again"), progress=False
        )
    assert result["rows"] == ROWS and not mine.exists()


def test_a_damaged_shared_curve_is_reported_and_computed_into_the_user_cache(tmp_path, monkeypatch):
    shared_path = _build(tmp_path / "instructor", monkeypatch)
    shared_path.write_bytes(b'{"rows": [')
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "student"))
    monkeypatch.setenv("SPEECHLM_SHARED_CACHE", str(tmp_path / "instructor"))
    calls = []
    with pytest.warns(UserWarning, match=re.escape(str(shared_path)) + r" .*SPEECHLM_SHARED_CACHE"):
        result = label_efficiency._cached("ctc", SETTINGS, _compute(calls), progress=False)
    assert calls == [1] and result["rows"] == ROWS
    assert shared_path.read_bytes() == b'{"rows": ['  # never written
    (mine,) = _files(tmp_path / "student")
    assert mine.name == shared_path.name and json.loads(mine.read_text())["rows"] == ROWS
    # the user's copy now shadows the damaged shared one: no warning, no computing
    again = label_efficiency._cached("ctc", SETTINGS, lambda: pytest.fail("computed again"), progress=False)
    assert again["rows"] == ROWS


def test_load_ctc_curve_rebuilds_a_zero_byte_cache_file(tmp_path, monkeypatch):
    """Notebook 12's call, with the expensive fine-tuning replaced by a small function."""
    from speechlm import pretrained

    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path))
    recipe = label_efficiency.CTCCurveRecipe(budgets=(2, 4))
    monkeypatch.setattr(pretrained, "load", lambda name, progress: "encoder")
    monkeypatch.setattr(label_efficiency, "course_ctc_items", lambda n, progress: (["l"] * n, ["d"], ["t"]))
    monkeypatch.setattr(
        label_efficiency,
        "ctc_curve",
        lambda enc, labelled, dev, test, recipe, progress: [{"budget": b} for b in recipe.budgets],
    )
    first = label_efficiency.load_ctc_curve(recipe, progress=False)
    (path,) = (tmp_path / "results").iterdir()
    path.write_bytes(b"")
    with pytest.warns(UserWarning, match=re.escape(str(path))):
        second = label_efficiency.load_ctc_curve(recipe, progress=False)
    assert second["rows"] == first["rows"] == [{"budget": 2}, {"budget": 4}]
    assert json.loads(path.read_text())["settings"]["recipe"]["budgets"] == [2, 4]
