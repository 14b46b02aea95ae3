"""The website builder on a tiny course: nbval keeps the executed notebook, Sphinx builds
its page without executing anything, and headless Chromium sees its figure, audio and math.
The course's Chinese edition (never executed here) gets the English outputs, its own part of the
table of contents and a language switch both ways.

The real site is checked after the suite by ``tests/site_check.py``.
"""

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from speechlm.dev.headers import IMPORTS_MARKER
from speechlm.dev.site import browser as site_browser
from speechlm.dev.site import build, check
from speechlm.dev.site.keep_executed import STATUS_KEY

REPOSITORY = "https://github.com/example/tiny-course"
IMPORTS = "import matplotlib.pyplot as plt\nimport numpy as np\nfrom IPython.display import Audio"


def _tiny_course(root: Path) -> Path:
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "tiny"\n[project.urls]\nRepository = "{REPOSITORY}"\n'
    )
    (root / "notebooks").mkdir()
    (root / "notebooks" / "course.toml").write_text(
        textwrap.dedent(
            """
            parts = { I = "Signals" }
            parts_zh = { I = "信号" }
            [[notebook]]
            file = "01_tiny.ipynb"
            title = "A tiny notebook"
            title_zh = "一个很小的笔记本"
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
    path = root / "notebooks" / "01_tiny.ipynb"
    _write_notebook(
        path,
        "# 01 · A tiny notebook\n\nThe mel scale $m = 2595 \\log_{10}(1 + f/700)$ and\n\n"
        "$$ \\frac{a}{b} $$\n\n[Phones](../docs/phones.md), [code](../speechlm/dsp.py).",
        f"# generated setup\n{IMPORTS_MARKER}\n{IMPORTS}",
    )
    _chinese_edition(root)
    return path


def _write_notebook(path: Path, header: str, setup: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(header),
        nbformat.v4.new_code_cell(setup, metadata={"tags": ["setup"]}),
        nbformat.v4.new_code_cell("plt.plot(np.arange(10))\nplt.show()\nprint('HEADLINE: one figure')"),
        nbformat.v4.new_code_cell("Audio(np.sin(np.arange(8000) / 3.0), rate=8000)"),
    ]
    for cell in nb.cells:
        cell.pop("id", None)
    nb.nbformat_minor = 4
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _chinese_edition(root: Path) -> None:
    """The tiny course in Chinese: its notebook (the same code, but for the setup cell's preamble),
    its README and a glossary."""
    _write_notebook(
        root / "notebooks" / "zh" / "01_tiny.ipynb",
        "# 01 · 一个很小的笔记本\n\n梅尔\n刻度 $m = 2595 \\log_{10}(1 + f/700)$ 以及\n\n"
        "$$ \\frac{a}{b} $$\n\n[音素](../../docs/phones.md)，[英文原版](../01_tiny.ipynb)。",
        f'# 生成的设置单元 language="zh"\n{IMPORTS_MARKER}\n{IMPORTS}',
    )
    (root / "README.zh.md").write_text(
        "# 小课程\n\n[English](README.md) · 中文\n\n一段\n介绍，见[术语表](docs/glossary.md)。\n\n"
        "## 快速开始\n\n运行它。\n\n## 其他\n\n不在首页上。\n",
        encoding="utf-8",
    )
    (root / "docs" / "glossary.md").write_text(
        "# 术语表 · Glossary\n\n| English | 中文 |\n|---|---|\n| mel scale | 梅尔刻度 |\n", encoding="utf-8"
    )


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
    assert check.expected_figures(site) == {"notebooks/01_tiny.html": 1, "notebooks/zh/01_tiny.html": 1}


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
        assert report["lang"] == "en" and report["languageSwitch"] == url + "notebooks/zh/01_tiny.html"

        chinese = check.inspect_page(chromium, report["languageSwitch"])
        assert chinese["errors"] == [] and chinese["failedLocal"] == []
        assert chinese["lang"] == "zh-CN" and chinese["cjk"]
        assert chinese["figures"] == 1 and chinese["brokenFigures"] == [] and len(chinese["audio"]) == 1
        assert chinese["math"] >= 2 and chinese["rawMath"] == []
        assert chinese["languageSwitch"] == url + "notebooks/01_tiny.html"


def test_missing_or_stale_copies_say_how_to_make_them(tiny_site, tmp_path):
    root, _ = tiny_site
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    _tiny_course(fresh)
    with pytest.raises(
        build.MissingExecutedError, match=r"not executed yet[\s\S]*python -m pytest notebooks/01_tiny"
    ) as missing:
        build.prepare_source(fresh)
    assert (
        "notebooks/zh/01_tiny.ipynb: the English notebooks/01_tiny.ipynb, whose outputs it shows: "
        "not executed yet" in str(missing.value)
    )
    (fresh / "build/executed/notebooks").mkdir(parents=True)
    stale = nbformat.read(root / "build/executed/notebooks/01_tiny.ipynb", as_version=4)
    stale.cells[2].source += "\nprint('edited')"
    nbformat.write(stale, fresh / "build/executed/notebooks/01_tiny.ipynb")
    with pytest.raises(build.MissingExecutedError, match="code changed after it was executed"):
        build.prepare_source(fresh)
    source, _ = build.prepare_source(fresh, allow_missing=True)
    assert "without its outputs" in (source / "notebooks/01_tiny.ipynb").read_text()
    assert "没有输出" in (source / "notebooks/zh/01_tiny.ipynb").read_text(encoding="utf-8")


def test_raw_math_is_found():
    assert check.raw_math("mean pooling is the case $w = 0$ here") == ["$w = 0$"]
    assert check.raw_math(r"a \frac{1}{2} b") == [r"\frac"]
    assert check.raw_math("costs $5 and 6 dollars") == []


def _switch(site: Path, page: str) -> str | None:
    return check.language_switch(site, site / page)


def test_chinese_page_shows_the_english_outputs(tiny_site):
    root, site = tiny_site
    page = nbformat.read(root / "build/site-src/notebooks/zh/01_tiny.ipynb", as_version=4)
    english = nbformat.read(root / "build/executed/notebooks/01_tiny.ipynb", as_version=4)
    assert page.cells[0].source.startswith("# 01 · 一个很小的笔记本")
    assert page.cells[1].source.startswith('# 生成的设置单元 language="zh"')  # its own setup preamble
    for cell, ran in zip(page.cells, english.cells, strict=True):
        if cell.cell_type == "code":
            assert cell.outputs == ran.outputs and cell.execution_count == ran.execution_count
    assert build.image_count(page) == 1
    assert "data:audio/wav;base64" in page.cells[3].outputs[0].data["text/html"]
    html = (site / "notebooks/zh/01_tiny.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN"' in html and "HEADLINE: one figure" in html
    assert "梅尔刻度" in html  # a line wrapped between two Chinese characters is joined: no space
    assert "../01_tiny.html" in html and "../../docs/phones.html" in html  # links between pages


def test_chinese_pages_in_the_toc_and_the_language_switch(tiny_site):
    _, site = tiny_site
    home = (site / "index.html").read_text(encoding="utf-8")
    captions = re.findall(r'<span class="caption-text">([^<]*)</span>', home)
    assert captions == ["Part I: Signals", "Reference", "中文版", "第一部分：信号"]
    assert "课程首页" in home and "术语表 · Glossary" in home
    assert _switch(site, "notebooks/01_tiny.html") == "notebooks/zh/01_tiny.html"
    assert _switch(site, "notebooks/zh/01_tiny.html") == "notebooks/01_tiny.html"
    assert _switch(site, "index.html") == "zh.html" and _switch(site, "zh.html") == "index.html"
    assert _switch(site, "docs/phones.html") is None  # no counterpart, no switch
    assert _switch(site, "docs/glossary.html") is None
    zh_home = (site / "zh.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN"' in zh_home and "一段介绍" in zh_home and "不在首页上" not in zh_home
    assert "第一部分：信号" in zh_home and 'href="notebooks/zh/01_tiny.html"' in zh_home  # its course map
    assert 'href="docs/glossary.html"' in zh_home and "README.md" not in zh_home
    assert '<html lang="en"' in (site / "index.html").read_text(encoding="utf-8")


def _copy_of_the_tiny_course(root: Path, tmp_path: Path) -> Path:
    """A fresh tiny course with the tiny site's executed copies."""
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    _tiny_course(fresh)
    shutil.copytree(root / "build/executed", fresh / "build/executed")
    return fresh


def test_chinese_code_that_differs_from_the_english_is_refused(tiny_site, tmp_path):
    fresh = _copy_of_the_tiny_course(tiny_site[0], tmp_path)
    path = fresh / "notebooks/zh/01_tiny.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].source = nb.cells[2].source.replace("np.arange(10)", "np.arange(12)")
    nbformat.write(nb, path)
    message = (
        r"notebooks/zh/01_tiny.ipynb: the code of cell 2 differs from cell 2 of notebooks/01_tiny.ipynb"
        r"[\s\S]*python -m speechlm course check"
    )
    for allow_missing in (False, True):
        with pytest.raises(build.EditionMismatchError, match=message):
            build.prepare_source(fresh, allow_missing=allow_missing)
    nb.cells.pop(2)
    nbformat.write(nb, path)
    with pytest.raises(build.EditionMismatchError, match=r"it has 3 cells, notebooks/01_tiny\.ipynb has 4"):
        build.prepare_source(fresh)


def test_a_chinese_notebook_the_suite_ran_shows_its_own_outputs(tiny_site, tmp_path):
    fresh = _copy_of_the_tiny_course(tiny_site[0], tmp_path)
    own = build.with_outputs(
        fresh / "notebooks/zh/01_tiny.ipynb", fresh / "build/executed/notebooks/01_tiny.ipynb"
    )
    (stream,) = [output for output in own.cells[2].outputs if output.output_type == "stream"]
    stream.text = "HEADLINE: 一张图\n"
    own.metadata[STATUS_KEY] = {"complete": True, "problems": {}}
    (fresh / "build/executed/notebooks/zh").mkdir()
    nbformat.write(own, fresh / "build/executed/notebooks/zh/01_tiny.ipynb")
    source, plan = build.prepare_source(fresh)
    assert plan.outputs["notebooks/zh/01_tiny.ipynb"] == "notebooks/zh/01_tiny.ipynb"
    assert "一张图" in (source / "notebooks/zh/01_tiny.ipynb").read_text(encoding="utf-8")
    own.metadata[STATUS_KEY] = {"complete": False, "problems": {"cell 2": "failed"}}  # then the English
    nbformat.write(own, fresh / "build/executed/notebooks/zh/01_tiny.ipynb")
    _, plan = build.prepare_source(fresh)
    assert plan.outputs["notebooks/zh/01_tiny.ipynb"] == "notebooks/01_tiny.ipynb"
