"""Issue 22, Binder starts warm: binder/ follows repo2docker's conventions, installs the CPU-only PyTorch
wheels and the course, and its postBuild builds the course cache (run here on a small build)."""

import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from speechlm import course_cache
from speechlm.dev.course import tomllib

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
SMALL = {"split": "test", "size": 2, "seed": 5}  # the postBuild test's corpus: two utterances


def _requirements(path: Path) -> list[str]:
    """The requirement lines of ``path``, comments and blank lines dropped."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def test_requirements_ask_for_the_cpu_wheels_and_install_the_course():
    lines = _requirements(BINDER / "requirements.txt")
    assert lines[0] == "--extra-index-url https://download.pytorch.org/whl/cpu"
    names = {re.split(r"[<>=!~ ]", line)[0] for line in lines}
    assert {"torch", "torchaudio"} <= names
    # repo2docker runs pip from the repository's root; a nested -r is read relative to this file, and
    # the course itself (`-e .`) relative to the root, where pyproject.toml is
    [nested] = [line.split()[1] for line in lines if line.startswith("-r ")]
    root_requirements = (BINDER / nested).resolve()
    assert root_requirements == ROOT / "requirements.txt"
    assert "-e ." in _requirements(root_requirements) and (ROOT / "pyproject.toml").is_file()
    # repo2docker's conda build pack would win over requirements.txt: binder/ must not hold one
    assert not (BINDER / "environment.yml").exists()
    runtime = (BINDER / "runtime.txt").read_text().strip()
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert re.fullmatch(r"python-3\.\d+", runtime) and int(runtime.split(".")[1]) >= int(
        requires.split(".")[1]
    )


def test_post_build_is_an_executable_strict_bash_script():
    script = BINDER / "postBuild"
    assert script.stat().st_mode & stat.S_IXUSR, "repo2docker runs binder/postBuild only if it is executable"
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/bin/bash" and "set -euo pipefail" in lines
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0


def _run_post_build(tmp_path: Path, only: str) -> subprocess.CompletedProcess:
    """Run binder/postBuild as repo2docker does (from the root, this Python first on PATH), building
    ``only`` into ``tmp_path / "cache"``; the corpus artefact is made small by a sitecustomize."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        textwrap.dedent(
            f"""
            from speechlm import course_cache

            course_cache.corpus_splits = lambda: [{SMALL!r}]
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPEECHLM_", "PYTHON"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(site),
        SPEECHLM_CACHE=str(tmp_path / "cache"),
        SPEECHLM_POSTBUILD_ONLY=only,
    )
    return subprocess.run(
        [str(BINDER / "postBuild")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_post_build_builds_the_cache_it_announces(tmp_path, monkeypatch):
    run = _run_post_build(tmp_path, "corpus")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[1/1] corpus: embedded-corpus splits" in run.stdout
    assert "[1/1] corpus: built 1 file(s)" in run.stdout
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(course_cache, "corpus_splits", lambda: [SMALL])
    [expected] = course_cache.expected_files(["corpus"])
    assert [p.relative_to(tmp_path / "cache").as_posix() for p in (tmp_path / "cache").rglob("*.npz")] == [
        expected
    ]
    assert f"writable cache {tmp_path / 'cache'} (SPEECHLM_CACHE): 1 file(s)" in run.stdout


@pytest.mark.parametrize("only", ["encodr", "corpus encodr"])
def test_post_build_fails_the_image_build_on_a_bad_artefact_name(tmp_path, only):
    run = _run_post_build(tmp_path, only)
    assert run.returncode == 2 and "unknown artefact 'encodr': did you mean 'encoder'?" in run.stderr
    assert not (tmp_path / "cache" / "corpus").exists()
