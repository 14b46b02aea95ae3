"""The course's conventions are enforced by code, and the code catches breakage."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import tomllib

from speechlm import course
from speechlm.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_the_repository_follows_its_conventions():
    c = course.load_course(ROOT)
    assert c.existing(), "no notebook exists yet"
    assert course.check_course(c) == []


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
    readme = f"# Toy\n\n{course.MAP_START}\n{course.MAP_END}\n"
    (tmp_path / "README.md").write_text(readme)
    for rel in ("notebooks/01_toy_topic.ipynb", "solutions/01_toy_topic_solutions.ipynb"):
        nb = nbformat.v4.new_notebook()
        setup = nbformat.v4.new_code_cell(f"{course.IMPORTS_MARKER}\nimport numpy as np")
        setup.metadata["tags"] = ["setup"]
        nb.cells = [setup, nbformat.v4.new_code_cell("x = np.arange(3)\nx.sum()")]
        nbformat.write(nb, tmp_path / rel)
    c = course.load_course(tmp_path)
    course.write_headers(c)
    return tmp_path


def _edit(path: Path, edit) -> None:
    nb = nbformat.read(path, as_version=4)
    edit(nb)
    nbformat.write(nb, path)


def test_headers_make_a_toy_course_conform_and_are_idempotent(tmp_path):
    root = _toy_course(tmp_path)
    c = course.load_course(root)
    assert course.check_course(c) == []
    assert course.write_headers(c) == []
    nb = nbformat.read(root / "notebooks" / "01_toy_topic.ipynb", as_version=4)
    assert nb.cells[0].source.startswith("# 01 · Toy")
    assert (
        "colab.research.google.com/github/speechlm-course/speechlm/blob/main/notebooks/01_toy_topic.ipynb"
        in (nb.cells[0].source)
    )
    setup = nb.cells[1].source
    assert setup.startswith(course.setup_preamble(c.install_source()))
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
    problems = course.check_course(course.load_course(root))
    assert any(message in p for p in problems), problems


def test_check_catches_bad_names_sizes_missing_metadata_and_stale_readme(tmp_path, monkeypatch):
    root = _toy_course(tmp_path)
    good = root / "notebooks" / "01_toy_topic.ipynb"
    shutil.copy(good, root / "notebooks" / "Toy-Topic.ipynb")
    shutil.copy(good, root / "notebooks" / "02_unlisted.ipynb")
    shutil.copy(good, root / "stray.ipynb")
    (root / "README.md").write_text(f"# Toy\n\n{course.MAP_START}\nold\n{course.MAP_END}\n")
    problems = course.check_course(course.load_course(root))
    joined = "\n".join(problems)
    assert "Toy-Topic.ipynb: the name must look like NN_snake_case.ipynb" in joined
    assert "02_unlisted.ipynb: notebook 02 has no entry" in joined
    assert "stray.ipynb: notebooks belong in notebooks/" in joined
    assert "course map is stale" in joined
    monkeypatch.setattr(course, "MAX_NOTEBOOK_BYTES", 100)
    assert any("over the 100-byte limit" in p for p in course.check_course(course.load_course(root)))


def test_cli_check_fails_on_a_broken_course(tmp_path, monkeypatch, capsys):
    root = _toy_course(tmp_path)
    _edit(root / "solutions" / "01_toy_topic_solutions.ipynb", BREAKAGES["stored outputs"][0])
    monkeypatch.chdir(root)
    assert main(["course", "check"]) == 1
    assert "01_toy_topic_solutions.ipynb: cell 2 has stored outputs" in capsys.readouterr().out


def test_time_records_wall_time_and_headline(tmp_path, monkeypatch):
    root = _toy_course(tmp_path)
    _edit(
        root / "notebooks" / "01_toy_topic.ipynb",
        lambda nb: nb.cells.append(nbformat.v4.new_code_cell('speechlm.headline(f"sum {x.sum()}")')),
    )
    monkeypatch.setenv("SPEECHLM_INSTALL_SOURCE", str(ROOT))
    timings = course.time_notebooks(course.load_course(root), ["notebooks/"])
    entry = timings["notebooks/01_toy_topic.ipynb"]
    assert entry["headline"] == "sum 3"
    assert 0 < entry["seconds"] < 120
    assert json.loads((root / "notebooks" / "timings.json").read_text()) == timings
    course.write_headers(course.load_course(root))
    assert "| sum 3 |" in (root / "README.md").read_text()


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
