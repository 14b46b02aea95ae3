"""Checks of a built site: links and anchors, page weight, and what a browser shows.

The static checks read the HTML files; :func:`inspect_page` asks a headless
Chromium (:mod:`speechlm.dev.site.browser`) what a page really renders: figures,
audio that can play, typeset math, JavaScript errors.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

from speechlm.dev.site.sphinx_conf import SWITCH_CLASS

MAX_PAGE_BYTES = 5_000_000
MAX_SITE_BYTES = 150_000_000
SKIPPED_DIRS = ("_static", "_sources", "_images", "_sphinx_design_static")


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []  # href/src values
        self.images: list[str] = []
        self.switch: str | None = None  # where the language switch links

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag in ("a", "link") and attrs.get("href"):
            self.links.append(attrs["href"])
            if tag == "a" and SWITCH_CLASS in (attrs.get("class") or "").split():
                self.switch = attrs["href"]
        if tag in ("img", "script", "source", "audio") and attrs.get("src"):
            self.links.append(attrs["src"])
            if tag == "img":
                self.images.append(attrs["src"])


def _parse(path: Path) -> _Links:
    return _parse_version(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _parse_version(path: Path, mtime_ns: int) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(errors="replace"))
    return parser


def pages(site: Path) -> list[Path]:
    """Every HTML page of the site (Sphinx's own included), theme assets left out."""
    return sorted(p for p in site.rglob("*.html") if not any(part in SKIPPED_DIRS for part in p.parts))


def link_problems(site: Path) -> list[str]:
    """Every internal link, image or script source whose file or anchor does not exist."""
    problems = []
    for page in pages(site):
        for link in _parse(page).links:
            if (
                link.startswith(("data:", "mailto:", "javascript:"))
                or urlsplit(link).scheme
                or link.startswith("//")
            ):
                continue
            target, anchor = urldefrag(link)
            path = (page.parent / unquote(urlsplit(target).path)).resolve() if target else page
            if path.is_dir():
                path = path / "index.html"
            rel = page.relative_to(site)
            if not path.exists():
                problems.append(f"{rel}: {link} does not exist")
            elif anchor and path.suffix == ".html" and unquote(anchor) not in _parse(path).ids:
                problems.append(f"{rel}: {link}: no element with id {anchor!r}")
    return problems


def language_switch(site: Path, page: Path) -> str | None:
    """The page (site-relative, e.g. ``notebooks/zh/03_mfcc.html``) that ``page``'s language
    switch links to, or None where it has none."""
    href = _parse(page).switch
    if href is None:
        return None
    target = (page.parent / unquote(urlsplit(href).path)).resolve()
    return target.relative_to(site.resolve()).as_posix()


def page_weight(site: Path, page: Path) -> int:
    """Bytes of a page with the images it shows (shared theme files not counted)."""
    total = page.stat().st_size
    for src in set(_parse(page).images):
        if not urlsplit(src).scheme and not src.startswith("//"):
            image = (page.parent / unquote(urlsplit(src).path)).resolve()
            if image.is_file() and site.resolve() in image.parents and "_static" not in image.parts:
                total += image.stat().st_size
        elif src.startswith("data:"):
            total += len(src)
    return total


def site_bytes(site: Path) -> int:
    return sum(p.stat().st_size for p in site.rglob("*") if p.is_file())


def expected_figures(site: Path) -> dict[str, int]:
    """``{"notebooks/03_mfcc.html": 5, ...}``: image outputs of each executed notebook."""
    manifest = json.loads((site / "_figures.json").read_text())
    return {rel.removesuffix(".ipynb") + ".html": count for rel, count in manifest.items()}


@contextlib.contextmanager
def serve(site: Path):
    """Serve ``site`` on a free local port; yields the base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


# Runs in the page: waits for MathJax, lets every audio element load its metadata
# (decoding it with Web Audio when the element cannot tell), and reports what is shown.
INSPECT_JS = r"""
(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const audios = [...document.querySelectorAll('audio')];
  const audio = await Promise.all(audios.map(async (a) => {
    const source = a.currentSrc || a.src || (a.querySelector('source') || {}).src || '';
    const type = (a.querySelector('source') || {}).type || 'audio/wav';
    if (a.readyState < 1) {
      a.load();
      await new Promise((resolve) => {
        a.addEventListener('loadedmetadata', resolve, {once: true});
        a.addEventListener('error', resolve, {once: true});
        setTimeout(resolve, 5000);
      });
    }
    let decoded = 0;
    try {
      const bytes = await (await fetch(source)).arrayBuffer();
      const buffer = await new OfflineAudioContext(1, 1, 16000).decodeAudioData(bytes);
      decoded = buffer.duration;
    } catch (e) { decoded = -1; }
    return {canPlay: a.canPlayType(type), readyState: a.readyState, duration: a.duration,
            error: a.error ? a.error.code : null, decoded: decoded, type: type};
  }));
  const figures = [...document.querySelectorAll('.cell_output img, .output img')];
  const verbatim = 'pre, code, script, style, textarea, mjx-container, .highlight, .cell_output';
  const main = document.querySelector('main') || document.body;
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT, {acceptNode: (n) =>
    n.parentElement.closest(verbatim) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  let text = '';
  while (walker.nextNode()) text += walker.currentNode.nodeValue;
  const languageSwitch = document.querySelector('a.SWITCH_CLASS');
  return {
    lang: document.documentElement.lang,
    cjk: /[\u3400-\u9fff]/.test(text),
    languageSwitch: languageSwitch ? languageSwitch.href : null,
    figures: figures.length,
    brokenFigures: figures.filter((img) => !(img.complete && img.naturalWidth > 0))
      .map((img) => img.src.slice(0, 80)),
    audio: audio,
    math: document.querySelectorAll('mjx-container').length,
    proseText: text,
  };
})()
""".replace("SWITCH_CLASS", SWITCH_CLASS)


def raw_math(text: str) -> list[str]:
    """TeX left untypeset in a page's prose: ``$...$``, ``\\(...\\)``, ``\\frac`` and the like."""
    import re

    found = re.findall(r"\$\$?[^$\n]{1,80}?\$\$?|\\\(|\\\)|\\\[|\\\]|\\(?:frac|sum|mathbf|begin)\b", text)
    return found[:5]


def inspect_page(browser, url: str) -> dict:
    """Load ``url`` and report its figures, audio, math, language (``lang``, ``cjk``: whether its prose
    has Chinese, ``languageSwitch``: the URL its switch links to), JavaScript errors and failed local
    requests."""
    browser.goto(url)
    report = browser.evaluate(INSPECT_JS)
    report["rawMath"] = raw_math(report.pop("proseText"))
    report["errors"] = browser.errors()
    local = urlsplit(url).netloc
    report["failedLocal"] = [
        r
        for r in browser.failed_requests()
        if (local in r or not urlsplit(r).scheme) and not r.endswith("/favicon.ico")  # asked by the browser
    ]
    return report
