"""The course's conventions are enforced by code, and the code catches breakage."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import tomllib

from speechlm.cli import main
from speechlm.dev import checks, course, headers, timing

ROOT = Path(__file__).resolve().parents[1]


def test_the_repository_follows_its_conventions():
    c = course.load_course(ROOT)
    assert c.existing(), "no notebook exists yet"
    assert checks.check_course(c) == []


def test_cli_check_succeeds_on_the_repository(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["course", "check"]) == 0
    assert "0 problem(s)" in capsys.readouterr().out


def _toy_course(tmp_path: Path) -> Path:
    """A minimal course repository with one conforming notebook and one solutions notebook."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "solutions").mkdir()
    (tmp_path / "notebooks" / "course.toml").write_text(
        '[[notebook]]\nfile = "01_toy_topic.ipynb"\ntitle = "Toy"\npart = "I"\ntopic = "toys"\n'
        'summary = "A toy."\nobjectives = ["play"]\nprerequisites = ["00"]\n'
    )
    readme = f"# Toy\n\n{headers.MAP_START}\n{headers.MAP_END}\n"
    (tmp_path / "README.md").write_text(readme)
    for rel in ("notebooks/01_toy_topic.ipynb", "solutions/01_toy_topic_solutions.ipynb"):
        nb = nbformat.v4.new_notebook()
        setup = nbformat.v4.new_code_cell(f"{headers.IMPORTS_MARKER}\nimport numpy as np")
        setup.metadata["tags"] = ["setup"]
        nb.cells = [setup, nbformat.v4.new_code_cell("x = np.arange(3)\nx.sum()")]
        nbformat.write(nb, tmp_path / rel)
    c = course.load_course(tmp_path)
    headers.write_headers(c)
    return tmp_path


def _edit(path: Path, edit) -> None:
    nb = nbformat.read(path, as_version=4)
    edit(nb)
    nbformat.write(nb, path)


def test_headers_make_a_toy_course_conform_and_are_idempotent(tmp_path):
    root = _toy_course(tmp_path)
    c = course.load_course(root)
    assert checks.check_course(c) == []
    assert headers.write_headers(c) == []
    nb = nbformat.read(root / "notebooks" / "01_toy_topic.ipynb", as_version=4)
    assert nb.cells[0].source.startswith("# 01 · Toy")
    assert (
        "colab.research.google.com/github/speechlm-course/speechlm/blob/main/notebooks/01_toy_topic.ipynb"
        in (nb.cells[0].source)
    )
    setup = nb.cells[1].source
    assert setup.startswith(headers.setup_preamble(c.install_source()))
    assert setup.rstrip().endswith("import numpy as np")
    assert "01_toy_topic" in (root / "README.md").read_text()


BREAKAGES = {
    "stored outputs": (
        lambda nb: nb.cells[2].outputs.append(nbformat.v4.new_output("stream", text="3")),
        "stored outputs",
    ),
    "execution count": (lambda nb: nb.cells[2].update(execution_count=4), "execution count"),
    "import outside setup": (
        lambda nb: nb.cells.append(nbformat.v4.new_code_cell("from os import path\npath.sep")),
        "move imports to the setup cell",
    ),
    "edited header": (
        lambda nb: nb.cells[0].update(source=nb.cells[0].source + "\nmine"),
        "header cell is stale",
    ),
    "missing header": (lambda nb: nb.cells.pop(0), "first cell must be the generated markdown header"),
    "two setup cells": (
        lambda nb: nb.cells[2].metadata.update(tags=["setup"]),
        "exactly one cell tagged 'setup'",
    ),
    "edited preamble": (
        lambda nb: nb.cells[1].update(source=nb.cells[1].source.replace("seed=0", "seed=1")),
        "preamble is stale",
    ),
    "setup not first": (
        lambda nb: nb.cells.insert(1, nbformat.v4.new_code_cell("y = 1")),
        "setup cell must be the first code cell",
    ),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_check_catches_a_broken_notebook(tmp_path, breakage):
    root = _toy_course(tmp_path)
    edit, message = BREAKAGES[breakage]
    _edit(root / "notebooks" / "01_toy_topic.ipynb", edit)
    problems = checks.check_course(course.load_course(root))
    assert any(message in p for p in problems), problems


def test_check_catches_bad_names_sizes_missing_metadata_and_stale_readme(tmp_path, monkeypatch):
    root = _toy_course(tmp_path)
    good = root / "notebooks" / "01_toy_topic.ipynb"
    shutil.copy(good, root / "notebooks" / "Toy-Topic.ipynb")
    shutil.copy(good, root / "notebooks" / "02_unlisted.ipynb")
    shutil.copy(good, root / "stray.ipynb")
    (root / "README.md").write_text(f"# Toy\n\n{headers.MAP_START}\nold\n{headers.MAP_END}\n")
    problems = checks.check_course(course.load_course(root))
    joined = "\n".join(problems)
    assert "Toy-Topic.ipynb: the name must look like NN_snake_case.ipynb" in joined
    assert "02_unlisted.ipynb: notebook 02 has no entry" in joined
    assert "stray.ipynb: notebooks belong in notebooks/" in joined
    assert "course map is stale" in joined
    monkeypatch.setattr(checks, "MAX_NOTEBOOK_BYTES", 100)
    assert any("over the 100-byte limit" in p for p in checks.check_course(course.load_course(root)))


def test_cli_check_fails_on_a_broken_course(tmp_path, monkeypatch, capsys):
    root = _toy_course(tmp_path)
    _edit(root / "solutions" / "01_toy_topic_solutions.ipynb", BREAKAGES["stored outputs"][0])
    monkeypatch.chdir(root)
    assert main(["course", "check"]) == 1
    assert "01_toy_topic_solutions.ipynb: cell 2 has stored outputs" in capsys.readouterr().out


def test_time_records_wall_time_peak_memory_and_headline(tmp_path, monkeypatch):
    """The notebook holds 200 MB more than its solutions notebook: its recorded peak is that much higher."""
    root = _toy_course(tmp_path)
    _edit(
        root / "notebooks" / "01_toy_topic.ipynb",
        lambda nb: nb.cells.append(
            nbformat.v4.new_code_cell(
                'block = np.ones(200 * 2**20, dtype=np.uint8)\nspeechlm.headline(f"sum {x.sum()}")\n'
                "import time\ntime.sleep(1.5)"
            )
        ),
    )
    monkeypatch.setenv("SPEECHLM_INSTALL_SOURCE", str(ROOT))
    timings = timing.time_notebooks(course.load_course(root), mode="cold")
    entry, solutions = (
        timings["notebooks/01_toy_topic.ipynb"],
        timings["solutions/01_toy_topic_solutions.ipynb"],
    )
    assert entry["headline"] == "sum 3"
    assert 0 < entry["cold_s"] < 120 and "warm_s" not in entry
    assert 20 < solutions["cold_peak_mb"] < course.MEMORY_BUDGET_MB
    assert 170 < entry["cold_peak_mb"] - solutions["cold_peak_mb"] < 260, (entry, solutions)
    assert json.loads((root / "notebooks" / "timings.json").read_text()) == timings
    headers.write_headers(course.load_course(root))
    assert (
        f"| {entry['cold_s']:.0f} s cold | {entry['cold_peak_mb']:,} MB | sum 3 |"
        in (root / "README.md").read_text()
    )


def test_parts_are_named_the_same_in_the_headers_and_the_course_map(tmp_path):
    root = _toy_course(tmp_path)
    toml = root / "notebooks" / "course.toml"
    toml.write_text('[parts]\nI = "Toys and games"\n\n' + toml.read_text())
    c = course.load_course(root)
    assert headers.part_caption(c, "I") == "Part I: Toys and games"
    assert headers.part_caption(c, "IX") == "Part IX"  # no title: the number alone
    table = headers.course_map_markdown(c).splitlines()
    part_row = table.index("| | **Part I: Toys and games** | | | | | |")
    assert table[part_row + 1].startswith("| 01 | [Toy]")  # the part's row comes before its notebooks
    assert "**Part:** Part I: Toys and games." in headers.header_markdown(c, c.meta_for("01"))
    assert "**Prerequisites:** `00`." in headers.header_markdown(c, c.meta_for("01"))
    toml.write_text(toml.read_text().replace('prerequisites = ["00"]', "prerequisites = []"))
    c = course.load_course(root)  # a notebook that builds on none: the skills the course assumes
    assert f"**Prerequisites:** {headers.ASSUMED_SKILLS}." in headers.header_markdown(c, c.meta_for("01"))


def test_cold_and_warm_runs_are_kept_apart_and_the_map_shows_both_with_peak_memory(tmp_path):
    root = _toy_course(tmp_path)
    toml = root / "notebooks" / "course.toml"
    toml.write_text(toml.read_text() + 'cold = "pretrains the toy encoder"\n')
    c = course.load_course(root)
    timing.record_timing(
        c, "notebooks/01_toy_topic.ipynb", 130.0, "cold headline", mode="cold", peak_mb=1400.4
    )
    timing.record_timing(c, "notebooks/01_toy_topic.ipynb", 12.0, "warm headline", mode="warm", peak_mb=900)
    timing.record_timing(c, "solutions/01_toy_topic_solutions.ipynb", 4.0, None, mode="warm", peak_mb=700)
    timing.record_timing(c, "solutions/01_toy_topic_solutions.ipynb", 5.0, None, mode="cold", peak_mb=710)
    c = course.load_course(root)
    assert c.timings["notebooks/01_toy_topic.ipynb"] == {
        "cold_s": 130.0,
        "cold_peak_mb": 1400,
        "warm_s": 12.0,
        "warm_peak_mb": 900,
        "headline": "warm headline",
    }
    table = headers.course_map_markdown(c)
    assert "| 12 s warm, 2.2 min cold: pretrains the toy encoder | 1,400 MB | warm headline |" in table
    assert "Total measured CPU time of the notebooks: 12 s warm, 2.2 min cold (from an empty cache)." in table
    assert "Highest peak memory: 1,400 MB (notebook 01; budget 1,536 MB" in table
    meta = c.meta_for("01")
    header = headers.header_markdown(c, meta)
    assert "**Run time:** 12 s warm, 2.2 min cold: pretrains the toy encoder (measured" in header
    assert header.endswith("**Peak memory:** 1,400 MB (kernel and workers).")
    solutions = headers.header_markdown(c, meta, solutions=True)
    assert "**Run time:** 4 s (measured" in solutions  # cold is 1 s slower: not worth showing
    assert solutions.endswith("**Peak memory:** 710 MB (kernel and workers).")
    headers.write_headers(c)
    assert checks.check_course(c) == []


def test_records_made_before_cold_and_warm_were_told_apart_read_as_warm(tmp_path):
    root = _toy_course(tmp_path)
    rel = "notebooks/01_toy_topic.ipynb"
    (root / "notebooks" / "timings.json").write_text(json.dumps({rel: {"seconds": 7.6, "headline": "h"}}))
    c = course.load_course(root)
    assert c.timings[rel] == {"warm_s": 7.6, "headline": "h"}
    assert "**Run time:** 8 s (measured on a 2-core CPU by `python -m speechlm course time`)." in (
        headers.header_markdown(c, c.meta_for("01"))
    )


def test_check_fails_when_a_recorded_peak_is_over_the_memory_budget(tmp_path, monkeypatch, capsys):
    root = _toy_course(tmp_path)
    c = course.load_course(root)
    timing.record_timing(c, "solutions/01_toy_topic_solutions.ipynb", 9.0, None, mode="cold", peak_mb=1536)
    timing.record_timing(c, "notebooks/01_toy_topic.ipynb", 9.0, None, mode="warm", peak_mb=1200)
    timing.record_timing(c, "notebooks/01_toy_topic.ipynb", 60.0, None, mode="cold", peak_mb=2750)
    headers.write_headers(course.load_course(root))
    problems = checks.check_course(course.load_course(root))
    assert problems == [
        "notebooks/01_toy_topic.ipynb: peak memory 2,750 MB is over the 1,536 MB budget (Binder's 2 GB "
        "minus the Jupyter server); stream batches, use smaller dtypes or one worker, free what a cell no "
        "longer needs, then measure again"
    ]
    monkeypatch.chdir(root)
    assert main(["course", "check"]) == 1
    assert "notebooks/01_toy_topic.ipynb: peak memory 2,750 MB is over" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("setting", "cache", "expected"),
    [
        ("cold", "empty", "cold"),
        ("auto", "empty", "cold"),
        (None, "built", "warm"),
        ("warm", "built", "warm"),
        ("1", "built", "warm"),
        ("cold", "built", "RECORD_TIMINGS=cold needs an empty course cache, but the course cache"),
        ("cold", "shared", "and SPEECHLM_SHARED_CACHE names"),
        ("warm", "empty", "is empty: record this run as cold (SPEECHLM_RECORD_TIMINGS=cold)"),
        ("hot", "empty", "SPEECHLM_RECORD_TIMINGS='hot': expected cold, warm, 1 (= warm) or auto"),
    ],
)
def test_timing_mode_follows_the_setting_and_refuses_what_contradicts_the_cache(
    setting, cache, expected, tmp_path, monkeypatch
):
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SPEECHLM_SHARED_CACHE", raising=False)
    if cache == "built":
        (tmp_path / "cache" / "corpus").mkdir(parents=True)
    if cache == "shared":
        (tmp_path / "shared").mkdir()
        monkeypatch.setenv("SPEECHLM_SHARED_CACHE", str(tmp_path / "shared"))
    if expected in ("cold", "warm"):
        assert timing.timing_mode(setting) == expected
    else:
        with pytest.raises(ValueError) as error:
            timing.timing_mode(setting)
        assert expected in str(error.value)
        if setting != "hot":
            assert str(tmp_path / "cache") in str(error.value)


def test_only_a_run_that_executes_notebooks_checks_and_records_timings(tmp_path):
    """The CI failure of 2026-12-07: after the suite filled the cache under
    SPEECHLM_RECORD_TIMINGS=cold, `pytest tests/site_check.py` on the same cache must run (no notebook,
    nothing to record), while a run that executes a notebook on that cache is refused up front."""
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "course.toml").write_text("")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('HEADLINE: toy')")]
    nbformat.write(nb, tmp_path / "notebooks" / "01_toy.ipynb")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "check.py").write_text("def test_site():\n    assert 1 + 1 == 2\n")
    (tmp_path / "cache" / "corpus").mkdir(parents=True)  # a filled cache, as after the suite
    env = {**os.environ, "SPEECHLM_RECORD_TIMINGS": "cold", "SPEECHLM_CACHE": str(tmp_path / "cache")}
    env.pop("SPEECHLM_SHARED_CACHE", None)
    env["SPEECHLM_MEMORY_LIMIT_MB"] = "0"

    def pytest_run(*args):
        command = [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", "-o", "addopts="]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    site = pytest_run("tests/check.py")
    assert site.returncode == 0 and "1 passed" in site.stdout, site.stdout + site.stderr
    suite = pytest_run("notebooks", "--nbval-lax", "--nbval-current-env")
    assert suite.returncode == 4, suite.stdout + suite.stderr  # a usage error, before any cell runs
    assert "SPEECHLM_RECORD_TIMINGS=cold needs an empty course cache" in suite.stderr
    assert not (tmp_path / "notebooks" / "timings.json").exists()


def test_pytest_runs_unit_tests_and_every_notebook_with_nbval():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert config["testpaths"] == ["tests", "notebooks", "solutions"]
    assert "--nbval-lax" in config["addopts"] and "--nbval-cell-timeout" in config["addopts"]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"<!-- test-command -->\n```bash\n(.+)\n```", readme).group(1)
    assert command.endswith("python -m pytest")
    extracted = subprocess.run(
        [
            "awk",
            "/<!-- test-command -->/{found=1; next} found && /^```bash/{getline; print; exit}",
            "README.md",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert extracted == command
    assert 'bash -c "$command"' in (ROOT / ".ci" / "run").read_text()


def test_requirements_cover_the_package_and_the_course():
    names = {
        re.split(r"[<>=;\[ ]", line.strip())[0].lower()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    required = "jupyterlab torch torchaudio transformers tokenizers librosa soundfile espeakng-loader".split()
    required += "matplotlib scikit-learn jiwer tqdm ipywidgets nbval pytest hypothesis -e".split()
    assert set(required) <= names
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in deps:
        name = re.split(r"[<>=;\[ ]", dep)[0].lower()
        assert name in names or "python_version" in dep, (
            f"{name} is a package dependency missing from requirements.txt"
        )
    assert not any("==" in line for line in (ROOT / "requirements.txt").read_text().splitlines())
    env = (ROOT / "environment.yml").read_text()
    assert "-r requirements.txt" in env and "torch" not in env.split("dependencies:")[1].replace(
        "pytorch.org", ""
    )


def test_ruff_is_clean():
    for args in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
