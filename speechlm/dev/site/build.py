"""Build the course website from the notebooks the test suite executed.

The site's source tree (``build/site-src``) mirrors the repository: every
notebook and solution as the suite executed it (``build/executed``, written
by :mod:`speechlm.dev.site.keep_executed`), ``benchmarks/README.md``,
``data/README.md``, ``docs/phones.md`` and a home page made from the README's
introduction and the course map of ``notebooks/course.toml``. Sphinx with
MyST-NB (execution off: nothing is executed again), the book theme and an
offline MathJax turns it into static HTML in ``build/site``.
"""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from speechlm.dev import course as course_mod
from speechlm.dev.headers import course_map_rows, part_caption
from speechlm.dev.site.keep_executed import EXECUTED_DIR, STATUS_KEY

SOURCE_DIR = Path("build") / "site-src"
SITE_DIR = Path("build") / "site"
MARKDOWN_PAGES = ("benchmarks/README.md", "data/README.md", "docs/phones.md")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")
HOW_TO_EXECUTE = (
    "run the test suite first; it keeps what it executes in build/executed "
    "(all of it: `.venv/bin/python -m pytest`; only the notebooks: "
    "`.venv/bin/python -m pytest notebooks solutions`; one: `.venv/bin/python -m pytest {rel}`)"
)
_LINK = re.compile(r"(?<!\!)(\[[^\]]*\])\(([^)\s]+)\)")
_BADGES = re.compile(r"\[!\[([^\]]*)\]\([^)]*\)\]\(([^)\s]+)\)")


class MissingExecutedError(RuntimeError):
    """Some notebook has no complete, current executed copy to build its page from."""


@dataclass
class SitePlan:
    """What the site shows, in course order, and which pages lack executed outputs."""

    parts: list[tuple[str, list[str]]]  # (caption, [repository-relative notebook paths])
    solutions: list[str]
    markdown: list[str]
    missing: dict[str, str] = field(default_factory=dict)  # path -> why it has no executed copy

    @property
    def notebooks(self) -> list[str]:
        return [rel for _, rels in self.parts for rel in rels] + self.solutions


def plan_site(course: course_mod.Course, executed: Path) -> SitePlan:
    """The pages in course order, and why each notebook without a usable executed copy lacks one."""
    parts: dict[str, list[str]] = {}
    solutions = []
    for meta in course.existing():
        parts.setdefault(meta.part, []).append(f"notebooks/{meta.file}")
        if (course.solutions_dir / meta.solutions_file).exists():
            solutions.append(f"solutions/{meta.solutions_file}")
    plan = SitePlan(
        parts=[(part_caption(course, part), rels) for part, rels in parts.items()],
        solutions=solutions,
        markdown=[rel for rel in MARKDOWN_PAGES if (course.root / rel).exists()],
    )
    for rel in plan.notebooks:
        why = _executed_problem(course.root / rel, executed / rel)
        if why:
            plan.missing[rel] = why
    return plan


def _executed_problem(source: Path, executed: Path) -> str | None:
    if not executed.exists():
        return "not executed yet"
    nb = nbformat.read(executed, as_version=4)
    status = nb.metadata.get(STATUS_KEY, {})
    if not status.get("complete", False):
        problems = ", ".join(f"{cell} {state}" for cell, state in status.get("problems", {}).items())
        return f"its last run did not pass ({problems or 'no status recorded'})"
    if _code(nbformat.read(source, as_version=4)) != _code(nb):
        return "its code changed after it was executed"
    return None


def _code(nb) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def with_outputs(source: Path, executed: Path):
    """The current notebook (its Markdown may be newer, e.g. regenerated headers) with the
    outputs of its executed copy, whose code cells are the same."""
    nb = nbformat.read(source, as_version=4)
    ran = [cell for cell in nbformat.read(executed, as_version=4).cells if cell.cell_type == "code"]
    for cell, done in zip((c for c in nb.cells if c.cell_type == "code"), ran, strict=True):
        cell.outputs, cell.execution_count = done.outputs, done.execution_count
    return nb


# --------------------------------------------------------------------------- source tree


def rewrite_links(text: str, page_rel: str, site_pages: set[str], repository: str) -> str:
    """Point Markdown links at site pages where there is one, else at the repository on GitHub.

    ``page_rel`` is the repository-relative path of the page the text comes
    from; the site's source tree mirrors the repository, so a link between two
    site pages keeps its relative form.
    """
    text = _BADGES.sub(lambda m: f"[{m.group(1)}]({m.group(2)})", text)

    def fix(match: re.Match) -> str:
        label, target = match.groups()
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            return match.group(0)
        path, _, anchor = target.partition("#")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(page_rel), path))
        if resolved in site_pages:
            return match.group(0)
        kind = "tree" if "." not in posixpath.basename(resolved) else "blob"
        url = f"{repository.rstrip('/')}/{kind}/main/{resolved}" + (f"#{anchor}" if anchor else "")
        return f"{label}({url})"

    return _LINK.sub(fix, text)


def site_notebook(nb, rel: str, site_pages: set[str], repository: str):
    """The page version of an executed notebook: links fixed, progress-bar widgets left out."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = rewrite_links(cell.source, rel, site_pages, repository)
        elif cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if WIDGET_MIME not in o.get("data", {})]
    nb.metadata.pop("widgets", None)
    nb.metadata.setdefault("language_info", {"name": "python"})  # the code cells' highlighting
    return nb


def placeholder_notebook(source: Path, rel: str, why: str, site_pages: set[str], repository: str):
    """The unexecuted notebook with a warning on top (only with ``allow_missing``)."""
    nb = site_notebook(nbformat.read(source, as_version=4), rel, site_pages, repository)
    note = nbformat.v4.new_markdown_cell(
        ":::{warning}\nThis page shows the notebook without its outputs: "
        f"{why}. To see them, {HOW_TO_EXECUTE.format(rel=rel)}, then build the site again.\n:::"
    )
    note.pop("id", None)  # the course's notebooks are nbformat 4.4, without cell ids
    nb.cells.insert(1, note)
    return nb


def image_count(nb) -> int:
    """How many figures a notebook's outputs hold (what its page must show)."""
    return sum(
        1
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if any(mime in output.get("data", {}) for mime in IMAGE_MIMES)
    )


def readme_sections(readme: str, titles: list[str]) -> str:
    """The README's introduction (up to its first ``##``) and the named ``##`` sections."""
    chunks = re.split(r"(?m)^(?=## )", readme)
    intro = re.sub(r"(?m)\A# .*\n", "", chunks[0]).strip()
    picked = [c.strip() for c in chunks[1:] if c.splitlines()[0][3:].strip() in titles]
    return "\n\n".join([intro, *picked])


def home_page(course: course_mod.Course, plan: SitePlan) -> str:
    """The home page: what the course is, its map in course order, how to run it."""
    readme = (course.root / "README.md").read_text()
    intro = readme_sections(readme, [])
    how_to_run = readme_sections(readme, ["Quick start", "Colab, Binder and laptops"]).removeprefix(intro)
    title = readme.splitlines()[0].removeprefix("# ").strip()

    def solutions(meta) -> str:
        sol = f"solutions/{meta.solutions_file}"
        return f"[solutions]({sol})" if sol in plan.solutions else "-"

    rows = course_map_rows(course, "solutions", solutions)
    toctrees = []
    for caption, rels in [*plan.parts, ("Solutions", plan.solutions), ("Reference", plan.markdown)]:
        entries = "\n".join(rel.removesuffix(".ipynb") for rel in rels)
        toctrees.append(f":::{{toctree}}\n:caption: {caption}\n:hidden:\n\n{entries}\n:::")
    body = "\n\n".join(
        [
            f"# {title}",
            intro,
            "## Course map",
            "Every page shows the notebook as the test suite last executed it, outputs included; "
            "its top bar opens it in Colab or Binder, or downloads it.",
            "\n".join(rows),
            how_to_run.strip(),
            *toctrees,
        ]
    )
    pages = {*plan.notebooks, *plan.markdown}
    return rewrite_links(body, "README.md", pages, course.repository) + "\n"


SPHINX_CONF = """\
# Generated by speechlm.dev.site.build: edit speechlm/dev/site/build.py instead.
import importlib

project = {title!r}
author = "the speechlm course"
extensions = ["myst_nb"]
exclude_patterns = ["_build"]
nb_execution_mode = "off"
nb_merge_streams = True
nb_output_stderr = "show"
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
myst_dmath_double_inline = True  # `$$...$$` inside a paragraph or list item, as Jupyter renders it
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "misc.highlighting_failure"]
html_theme = "sphinx_book_theme"
html_title = {title!r}
html_copy_source = True
html_last_updated_fmt = None
html_context = {{"default_mode": "auto"}}  # light or dark as the reader's system prefers
html_theme_options = {{
    "repository_url": {repository!r},
    "repository_branch": "main",
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": True,
    "launch_buttons": {{"binderhub_url": "https://mybinder.org", "colab_url": "https://colab.research.google.com"}},
    "show_navbar_depth": 1,
    "home_page_in_toc": True,
}}


def setup(app):
    # MathJax from the sphinx-mathjax-offline package (no CDN); that extension predates
    # Sphinx's parallel-read flag, so it is set up here and declared safe (it only copies files).
    importlib.import_module("sphinx-mathjax-offline").setup(app)
    return {{"parallel_read_safe": True, "parallel_write_safe": True}}
"""


def prepare_source(root: Path, *, allow_missing: bool = False) -> tuple[Path, SitePlan]:
    """Write the site's source tree into ``build/site-src`` (removed and made anew)."""
    course = course_mod.load_course(root)
    executed = course.root / EXECUTED_DIR
    plan = plan_site(course, executed)
    if plan.missing and not allow_missing:
        lines = [f"  {rel}: {why}" for rel, why in list(plan.missing.items())[:8]]
        if len(plan.missing) > 8:
            lines.append(f"  and {len(plan.missing) - 8} more")
        raise MissingExecutedError(
            f"{len(plan.missing)} notebook(s) have no executed copy to build a page from:\n"
            + "\n".join(lines)
            + f"\nTo make them, {HOW_TO_EXECUTE.format(rel=next(iter(plan.missing)))}; "
            "or pass --allow-missing to show those pages without outputs."
        )
    source = course.root / SOURCE_DIR
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    pages = {*plan.notebooks, *plan.markdown}
    for rel in plan.notebooks:
        target = source / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel in plan.missing:
            nb = placeholder_notebook(course.root / rel, rel, plan.missing[rel], pages, course.repository)
        else:
            nb = site_notebook(with_outputs(course.root / rel, executed / rel), rel, pages, course.repository)
        nbformat.write(nb, target)
    for rel in plan.markdown:
        target = source / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rewrite_links((course.root / rel).read_text(), rel, pages, course.repository))
    (source / "index.md").write_text(home_page(course, plan))
    title = (course.root / "README.md").read_text().splitlines()[0].removeprefix("# ").strip()
    (source / "conf.py").write_text(SPHINX_CONF.format(title=title, repository=course.repository))
    return source, plan


def build_site(root: Path | None = None, *, allow_missing: bool = False, quiet: bool = True) -> Path:
    """Build the HTML site into ``build/site`` and return its ``index.html``.

    Raises :class:`MissingExecutedError` (saying how to make them) when a
    notebook has no current executed copy, unless ``allow_missing``.
    """
    from sphinx.cmd.build import build_main

    root = course_mod.find_root(root)
    start = time.perf_counter()
    source, plan = prepare_source(root, allow_missing=allow_missing)
    out = root / SITE_DIR
    shutil.rmtree(out, ignore_errors=True)
    args = ["-b", "html", "-j", "auto", "-n", "-W", "--keep-going", str(source), str(out)]
    with warnings.catch_warnings():  # the themes' notes to themselves about Sphinx 11
        warnings.filterwarnings("ignore", message=".*is deprecated. Check CHANGES for Sphinx API")
        status = build_main([*args, "-q"] if quiet else args)
    if status != 0:
        raise RuntimeError(f"sphinx-build failed (exit status {status}); its warnings are above")
    (out / ".nojekyll").touch()
    manifest = {rel: image_count(nbformat.read(source / rel, as_version=4)) for rel in plan.notebooks}
    (out / "_figures.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(
        f"site: {len(plan.notebooks) + len(plan.markdown) + 1} pages in {time.perf_counter() - start:.0f} s"
    )
    return out / "index.html"
