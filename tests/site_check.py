"""The built course website, checked in headless Chromium (run after the suite and the site build),
in both languages: every Chinese page is in Chinese, and each language switch leads to the same page
in the other language, whose switch leads back.

    .venv/bin/python -m pytest tests/site_check.py

Not collected by a plain ``pytest`` (its name does not start with ``test_``):
the site exists only after the suite has executed the notebooks and
``python -m speechlm.dev.site build`` has built it. Screenshots go to
``build/site-artifacts/``; ``SPEECHLM_SITE`` points at another built site.
"""

import os
from pathlib import Path

import pytest

from speechlm.dev.site import browser as site_browser
from speechlm.dev.site import check

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("SPEECHLM_SITE", ROOT / "build" / "site"))
ARTIFACTS = ROOT / "build" / "site-artifacts"
# Screenshots saved by the browser test: page -> (file name, scrolled to its first figure?)
SCREENSHOTS = {
    "index.html": ("home", False),
    "notebooks/00_welcome.html": ("00_welcome", False),
    "notebooks/03_mfcc.html": ("03_mfcc", True),
    "notebooks/12_ctc_finetuning.html": ("12_ctc_finetuning", True),
    "zh.html": ("zh_home", False),
    "notebooks/zh/03_mfcc.html": ("zh_03_mfcc", True),
}

if not (SITE / "index.html").exists():
    pytest.skip(
        f"no site at {SITE}: build it with `.venv/bin/python -m speechlm.dev.site build`",
        allow_module_level=True,
    )

PAGES = [p.relative_to(SITE).as_posix() for p in check.pages(SITE)]
CHINESE = [page for page in PAGES if page == "zh.html" or page.startswith(("notebooks/zh/", "solutions/zh/"))]
SWITCHES = {page: check.language_switch(SITE, SITE / page) for page in PAGES}


@pytest.fixture(scope="module")
def site_url():
    with check.serve(SITE) as url:
        yield url


@pytest.fixture(scope="module")
def chromium():
    if site_browser.find_chromium() is None:
        pytest.skip(site_browser.INSTALL_HINT)
    with site_browser.Browser() as browser:
        yield browser


def test_every_internal_link_and_anchor_resolves():
    assert check.link_problems(SITE) == []


def test_page_weight():
    weights = {page.relative_to(SITE).as_posix(): check.page_weight(SITE, page) for page in check.pages(SITE)}
    heavy = {page: size for page, size in weights.items() if size > check.MAX_PAGE_BYTES}
    assert not heavy, f"pages over {check.MAX_PAGE_BYTES:,} bytes: {heavy}"
    assert check.site_bytes(SITE) < check.MAX_SITE_BYTES


def test_every_notebook_has_a_page():
    assert set(check.expected_figures(SITE)) <= set(PAGES)


def test_language_switches_lead_both_ways():
    assert CHINESE, "the site has no Chinese pages"
    for page in CHINESE:
        other = SWITCHES[page]
        assert other is not None and other not in CHINESE, f"{page}: no switch to an English page"
        assert SWITCHES[other] == page, f"{page} switches to {other}, whose switch leads to {SWITCHES[other]}"
    for page, other in SWITCHES.items():
        assert other is None or SWITCHES.get(other) == page, f"{page}'s switch to {other} does not lead back"


@pytest.mark.parametrize("page", PAGES)
def test_page_in_browser(chromium, site_url, page):
    report = check.inspect_page(chromium, site_url + page)
    assert report["errors"] == [], "JavaScript errors"
    assert report["failedLocal"] == [], "files of the site that did not load"
    expected = check.expected_figures(SITE).get(page)
    if expected is not None:
        assert report["figures"] == expected, (
            "rendered figures differ from the executed notebook's image outputs"
        )
    assert report["brokenFigures"] == []
    for number, audio in enumerate(report["audio"]):
        assert audio["canPlay"] and audio["error"] is None, f"audio {number} cannot play: {audio}"
        assert audio["readyState"] >= 1 and audio["duration"] > 0, f"audio {number} did not load: {audio}"
        assert audio["decoded"] > 0, f"audio {number} does not decode: {audio}"
    assert report["rawMath"] == [], "TeX left untypeset"
    if page in CHINESE:
        assert report["lang"] == "zh-CN" and report["cjk"], "a Chinese page without Chinese prose"
    switch = SWITCHES[page]
    assert report["languageSwitch"] == (switch and site_url + switch), "the language switch"
    if page in SCREENSHOTS:
        name, at_figure = SCREENSHOTS[page]
        chromium.evaluate(
            "(document.querySelector('.cell_output img') || document.body).scrollIntoView()"
            if at_figure
            else "window.scrollTo(0, 0)"
        )
        chromium.screenshot(ARTIFACTS / "screenshots" / f"{name}.png")


def test_a_chinese_page_and_its_switch(chromium, site_url):
    page = "notebooks/zh/03_mfcc.html" if "notebooks/zh/03_mfcc.html" in PAGES else CHINESE[0]
    chinese = check.inspect_page(chromium, site_url + page)
    assert chinese["lang"] == "zh-CN" and chinese["cjk"] and chinese["errors"] == []
    english = check.inspect_page(chromium, chinese["languageSwitch"])  # follow the switch
    assert english["errors"] == [] and english["failedLocal"] == [] and english["lang"] == "en"
    assert english["figures"] == chinese["figures"], "the Chinese page shows the English outputs"
    assert english["languageSwitch"] == site_url + page


@pytest.mark.parametrize("word", ["Levinson", "CTC"])
def test_search_finds(chromium, site_url, word):
    chromium.goto(f"{site_url}search.html?q={word}")
    found = chromium.evaluate(
        """new Promise((resolve) => {
             const start = Date.now();
             const poll = () => {
               const hits = document.querySelectorAll('#search-results li');
               if (hits.length || Date.now() - start > 20000) resolve([...hits].map((li) => li.innerText));
               else setTimeout(poll, 200);
             };
             poll();
           })"""
    )
    assert found, f"the search page finds nothing for {word!r}"
    assert chromium.errors() == []
