"""The website builder on a tiny course: nbval keeps the executed notebook, Sphinx builds
its page without executing anything, and headless Chromium sees its figure, audio and math.

The real site is checked after the suite by ``tests/site_check.py``.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from speechlm.dev.site import browser as site_browser
from speechlm.dev.site import build, check
from speechlm.dev.site.keep_executed import STATUS_KEY

REPOSITORY = "https://github.com/example/tiny-course"


def _tiny_course(root: Path) -> Path:
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "tiny"\n[project.urls]\nRepository = "{REPOSITORY}"\n'
    )
    (root / "notebooks").mkdir()
    (root / "notebooks" / "course.toml").write_text(
        textwrap.dedent(
            """
            parts = { I = "Signals" }
            [[notebook]]
            file = "01_tiny.ipynb"
            title = "A tiny notebook"
            part = "I"
            topic = "a figure, a sound, a formula"
            summary = "Checks the site."
            objectives = ["see", "hear"]
            """
        )
    )
    (root / "README.md").write_text(
        "# Tiny course\n\nAn introduction; see [the phones](docs/phones.md) and [the package](speechlm/).\n\n"
        "## Quick start\n\nRun it.\n\n## Other\n\nNot on the home page.\n"
    )
    (root / "docs").mkdir()
    (root / "docs" / "phones.md").write_text(
        "# Phones\n\nBack to [notebook 01](../notebooks/01_tiny.ipynb).\n"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "# 01 · A tiny notebook\n\nThe mel scale $m = 2595 \\log_{10}(1 + f/700)$ and\n\n"
            "$$ \\frac{a}{b} $$\n\n[Phones](../docs/phones.md), [code](../speechlm/dsp.py)."
        ),
        nbformat.v4.new_code_cell(
            "import matplotlib.pyplot as plt\nimport numpy as np\nfrom IPython.display import Audio"
        ),
        nbformat.v4.new_code_cell("plt.plot(np.arange(10))\nplt.show()\nprint('HEADLINE: one figure')"),
        nbformat.v4.new_code_cell("Audio(np.sin(np.arange(8000) / 3.0), rate=8000)"),
    ]
    for cell in nb.cells:
        cell.pop("id", None)
    nb.nbformat_minor = 4
    path = root / "notebooks" / "01_tiny.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def tiny_site(tmp_path_factory):
    """A tiny course executed by nbval with the plugin (under MPLBACKEND=Agg, as in CI) and built."""
    root = tmp_path_factory.mktemp("course")
    _tiny_course(root)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "speechlm.dev.site.keep_executed",
            "-p",
            "no:cacheprovider",
            "--nbval-lax",
            "--nbval-current-env",
            "-q",
            "notebooks/01_tiny.ipynb",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    index = build.build_site(root)
    return root, index.parent


def test_the_suite_keeps_the_executed_notebook_with_figures(tiny_site):
    root, _ = tiny_site
    nb = nbformat.read(root / "build/executed/notebooks/01_tiny.ipynb", as_version=4)
    assert nb.metadata[STATUS_KEY] == {"complete": True, "problems": {}}
    assert [c.source for c in nb.cells] == [
        c.source for c in nbformat.read(root / "notebooks/01_tiny.ipynb", 4).cells
    ]
    assert build.image_count(nb) == 1, "the kernel must plot with the inline backend, not Agg"
    assert "data:audio/wav;base64" in nb.cells[3].outputs[0].data["text/html"]


def test_site_pages_navigation_and_links(tiny_site):
    _, site = tiny_site
    assert {"index.html", "notebooks/01_tiny.html", "docs/phones.html", "search.html"} <= {
        p.relative_to(site).as_posix() for p in check.pages(site)
    }
    home = (site / "index.html").read_text()
    assert "Signals" in home and "A tiny notebook" in home and "Not on the home page" not in home
    assert f"{REPOSITORY}/tree/main/speechlm" in home  # a repository file is linked on GitHub
    page = (site / "notebooks/01_tiny.html").read_text()
    assert f"{REPOSITORY}/blob/main/speechlm/dsp.py" in page and "../docs/phones.html" in page
    assert "colab.research.google.com/github/example/tiny-course" in page and "mybinder.org" in page
    assert (site / "_sources/notebooks/01_tiny.ipynb").exists()  # the download button's target
    assert check.link_problems(site) == []
    assert check.expected_figures(site) == {"notebooks/01_tiny.html": 1}


def test_site_in_chromium(tiny_site):
    if site_browser.find_chromium() is None:
        pytest.skip(site_browser.INSTALL_HINT)
    _, site = tiny_site
    with check.serve(site) as url, site_browser.Browser() as chromium:
        report = check.inspect_page(chromium, url + "notebooks/01_tiny.html")
        assert report["errors"] == [] and report["failedLocal"] == []
        assert report["figures"] == 1 and report["brokenFigures"] == []
        (audio,) = report["audio"]
        assert audio["canPlay"] and audio["readyState"] >= 1 and audio["duration"] == pytest.approx(1.0)
        assert audio["decoded"] == pytest.approx(1.0)
        assert report["math"] >= 2 and report["rawMath"] == []


def test_missing_or_stale_copies_say_how_to_make_them(tiny_site, tmp_path):
    root, _ = tiny_site
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    _tiny_course(fresh)
    with pytest.raises(
        build.MissingExecutedError, match=r"not executed yet[\s\S]*python -m pytest notebooks/01_tiny"
    ):
        build.prepare_source(fresh)
    (fresh / "build/executed/notebooks").mkdir(parents=True)
    stale = nbformat.read(root / "build/executed/notebooks/01_tiny.ipynb", as_version=4)
    stale.cells[2].source += "\nprint('edited')"
    nbformat.write(stale, fresh / "build/executed/notebooks/01_tiny.ipynb")
    with pytest.raises(build.MissingExecutedError, match="code changed after it was executed"):
        build.prepare_source(fresh)
    source, _ = build.prepare_source(fresh, allow_missing=True)
    assert "without its outputs" in (source / "notebooks/01_tiny.ipynb").read_text()


def test_raw_math_is_found():
    assert check.raw_math("mean pooling is the case $w = 0$ here") == ["$w = 0$"]
    assert check.raw_math(r"a \frac{1}{2} b") == [r"\frac"]
    assert check.raw_math("costs $5 and 6 dollars") == []
