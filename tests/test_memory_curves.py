"""Notebook 12's curves within Binder's memory: what a forked worker copies, how many workers run where
memory is short, and the notebook's one point giving the full curve's numbers."""

import dataclasses
import gc
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
from test_label_efficiency import _tone
from tiny_models import ONE_BLOCK

from speechlm import label_efficiency, ssl, workers
from speechlm.features import log_mel_features

CGROUP_V1 = Path("/sys/fs/cgroup/memory")


def _private_dirty_mb(job: dict) -> dict:
    """A job that runs a garbage collection, as any training run does, and reports the memory this
    process has written to (private dirty pages: what a forked worker copied)."""
    gc.collect()
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Private_Dirty:"):
            return {"private_dirty_mb": int(line.split()[1]) / 1024}
    raise AssertionError("no Private_Dirty line in /proc/self/smaps_rollup")


@pytest.mark.skipif(
    sys.platform != "linux" or not Path("/proc/self/smaps_rollup").exists(),
    reason="the pool forks its workers on Linux only, and smaps_rollup is Linux's",
)
def test_a_forked_worker_does_not_copy_the_kernels_python_objects():
    # a kernel that holds many Python objects (notebook variables, a corpus's utterances): about
    # 100 MB of lists; a worker's garbage collection would write every object's header, and so copy
    # every page holding one, unless the objects are frozen before the fork
    kernel_objects = [[i] for i in range(1_000_000)]
    (result,) = workers.run_jobs(_private_dirty_mb, [{}], 2, False, "test")
    assert result["private_dirty_mb"] < 40, (
        f"a worker wrote {result['private_dirty_mb']:.0f} MB of the kernel's pages: run_jobs must "
        "gc.freeze() before forking"
    )
    assert len(kernel_objects) == 1_000_000 and gc.get_freeze_count() == 0  # unfrozen afterwards


def _cgroup_v1_writable() -> bool:
    return os.geteuid() == 0 and os.access(CGROUP_V1 / "cgroup.procs", os.W_OK)


@pytest.mark.skipif(not _cgroup_v1_writable(), reason="needs root and a writable cgroup v1 memory controller")
@pytest.mark.parametrize("limit_gb, expected", [(2, 1), (64, None)])
def test_default_workers_is_one_inside_binders_two_gigabytes(limit_gb, expected):
    group = CGROUP_V1 / f"speechlm-test-{uuid.uuid4().hex[:8]}"
    group.mkdir()
    try:
        (group / "memory.limit_in_bytes").write_text(str(limit_gb * 2**30))
        code = "from speechlm import workers; print(workers.memory_limit_bytes(), workers.default_workers())"
        out = subprocess.run(
            ["sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$0" -c "$1"', sys.executable, code],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout.split()  # fmt: skip
    finally:
        group.rmdir()
    limit, count = int(out[0]), int(out[1])
    assert limit <= limit_gb * 2**30
    cores = min(2, len(os.sched_getaffinity(0)))
    assert count == (
        expected if expected is not None else 1 if limit < workers.TWO_WORKERS_MIN_BYTES else cores
    )


def test_release_memory_runs_after_every_job_and_a_failing_job_still_raises(monkeypatch):
    released = []
    monkeypatch.setattr(workers, "release_memory", lambda: released.append(1))
    assert workers.run_jobs(lambda job: job["x"] * 2, [{"x": 1}, {"x": 2}], 1, False, "t") == [2, 4]
    assert len(released) == 2
    with pytest.raises(KeyError, match="x"):
        workers.run_jobs(lambda job: job["x"], [{}], 1, False, "t")
    assert len(released) == 3  # released although the job failed


def test_the_notebooks_point_is_the_full_curves_first_point():
    full = label_efficiency.ShotsRecipe()
    assert label_efficiency.NOTEBOOK_SHOTS == dataclasses.replace(full, shots=full.shots[:1])
    assert label_efficiency.NOTEBOOK_SHOTS.shots == (1,)  # what notebook 12 asserts and headlines
    # every run depends on its own number of shots and draw only: the shorter curve gives the same
    # numbers as the benchmark's whole curve
    mels = [log_mel_features(_tone(f, 4000, np.random.default_rng(i))) for i, f in enumerate([300, 3000] * 4)]
    labels = [0, 1] * 4
    data = (mels, labels)
    torch.manual_seed(0)
    encoder = ssl.SpeechEncoder(ONE_BLOCK)
    recipe = label_efficiency.ShotsRecipe(shots=(1, 2), draws=2, steps=4, eval_every=2)
    longer = label_efficiency.shots_curve(encoder, data, data, data, recipe, workers=1, progress=False)
    shorter = label_efficiency.shots_curve(
        encoder, data, data, data, dataclasses.replace(recipe, shots=(1,)), workers=1, progress=False
    )
    assert longer[0] == shorter[0]


def test_the_notebooks_point_and_the_benchmarks_curves_are_cached_under_their_own_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path))
    computed = []
    monkeypatch.setattr(label_efficiency, "digit_words", lambda split, size, seed, progress: ([], []))
    monkeypatch.setattr(
        label_efficiency,
        "shots_curve",
        lambda enc, train, dev, test, recipe, progress: (
            computed.append(recipe.shots) or [{"shots": k} for k in recipe.shots]
        ),
    )
    monkeypatch.setattr(label_efficiency, "course_ctc_items", lambda n, progress: (["l"] * n, ["d"], ["t"]))
    monkeypatch.setattr(
        label_efficiency,
        "ctc_curve",
        lambda enc, labelled, dev, test, recipe, progress: (
            computed.append(recipe.budgets) or [{"budget": b} for b in recipe.budgets]
        ),
    )
    from speechlm import pretrained

    monkeypatch.setattr(pretrained, "load", lambda name, progress: None)
    notebook = label_efficiency.load_shots_curve(progress=False)
    full = label_efficiency.load_shots_curve(label_efficiency.ShotsRecipe(), progress=False)
    ctc = label_efficiency.load_ctc_curve(progress=False)  # the benchmark's CTC curve by default
    assert [r["shots"] for r in notebook["rows"]] == [1]
    assert [r["shots"] for r in full["rows"]] == [1, 3, 10]
    assert [r["budget"] for r in ctc["rows"]] == [25, 50, 100]
    assert computed == [(1,), (1, 3, 10), (25, 50, 100)] and len(list((tmp_path / "results").iterdir())) == 3


@pytest.mark.parametrize("limit, short", [(2 * 2**30, True), (64 * 2**30, False), (None, False)])
def test_memory_is_short_under_a_binder_sized_limit(monkeypatch, limit, short):
    """Where the session may use less than 4 GiB (Binder: 2 GB), jobs run one at a time and the
    training loops hand the heap back after every step."""
    monkeypatch.setattr(workers, "memory_limit_bytes", lambda: limit)
    assert workers.memory_is_short() is short
    if short:
        assert workers.default_workers() == 1
