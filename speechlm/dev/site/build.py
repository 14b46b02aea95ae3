"""Build the course website from the notebooks the test suite executed.

The site's source tree (``build/site-src``) mirrors the repository: every
notebook and solution as the suite executed it (``build/executed``, written
by :mod:`speechlm.dev.site.keep_executed`), the Chinese edition's notebooks
with the outputs of their English notebooks (:mod:`speechlm.dev.site.zh`),
``benchmarks/README.md``, ``data/README.md``, ``docs/phones.md``,
``docs/glossary.md``, a home page made from the README's introduction and the
course map of ``notebooks/course.toml`` (:mod:`speechlm.dev.site.pages`), and
a Chinese one from ``README.zh.md``. Sphinx with MyST-NB (execution off:
nothing is executed again), the book theme and an offline MathJax
(:mod:`speechlm.dev.site.sphinx_conf`) turns it into static HTML in
``build/site``.
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from speechlm.dev import course as course_mod
from speechlm.dev.headers import part_caption
from speechlm.dev.site import zh
from speechlm.dev.site.keep_executed import EXECUTED_DIR, STATUS_KEY
from speechlm.dev.site.pages import (
    HOW_TO_EXECUTE,
    home_page,
    image_count,
    placeholder_notebook,
    rewrite_links,
    site_notebook,
    toctree,
)
from speechlm.dev.site.sphinx_conf import write_sphinx_files
from speechlm.dev.site.zh import EditionMismatchError
from speechlm.dev.zh import README_ZH

SOURCE_DIR = Path("build") / "site-src"
SITE_DIR = Path("build") / "site"
MARKDOWN_PAGES = ("benchmarks/README.md", "data/README.md", "docs/phones.md", zh.GLOSSARY)


class MissingExecutedError(RuntimeError):
    """Some notebook has no complete, current executed copy to build its page from."""


@dataclass
class SitePlan:
    """What the site shows, in course order, where each page's outputs come from, and which pages
    cannot have them."""

    parts: list[tuple[str, list[str]]]  # (caption, [repository-relative notebook paths])
    solutions: list[str]
    markdown: list[str]
    zh_parts: list[tuple[str, list[str]]] = field(default_factory=list)  # the Chinese edition's
    zh_solutions: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)  # page -> the notebook whose executed copy it shows
    missing: dict[str, str] = field(default_factory=dict)  # path -> why it has no executed copy
    out_of_sync: dict[str, str] = field(default_factory=dict)  # Chinese path -> how its code differs

    @property
    def notebooks(self) -> list[str]:
        chinese = [rel for _, rels in self.zh_parts for rel in rels] + self.zh_solutions
        return [rel for _, rels in self.parts for rel in rels] + self.solutions + chinese

    def pairs(self) -> dict[str, str]:
        """``{English docname: Chinese docname}`` for every page that has both editions."""
        notebooks = set(self.notebooks)
        return {
            zh.english_rel(rel).removesuffix(".ipynb"): rel.removesuffix(".ipynb")
            for rel in notebooks
            if zh.is_chinese(rel) and zh.english_rel(rel) in notebooks
        }


def plan_site(course: course_mod.Course, executed: Path) -> SitePlan:
    """The pages in course order, the executed copy each one's outputs come from, and why each
    notebook without a usable one lacks it."""
    parts: dict[str, list[str]] = {}
    solutions = []
    for meta in course.existing():
        parts.setdefault(meta.part, []).append(f"notebooks/{meta.file}")
        if (course.solutions_dir / meta.solutions_file).exists():
            solutions.append(f"solutions/{meta.solutions_file}")
    zh_parts, zh_solutions = zh.chinese_pages(course)
    plan = SitePlan(
        parts=[(part_caption(course, part), rels) for part, rels in parts.items()],
        solutions=solutions,
        markdown=[rel for rel in MARKDOWN_PAGES if (course.root / rel).exists()],
        zh_parts=zh_parts,
        zh_solutions=zh_solutions,
    )
    for rel in plan.notebooks:
        if zh.is_chinese(rel) and (why := zh.code_mismatch(course.root, rel)):
            plan.out_of_sync[rel] = why
            continue
        # A Chinese notebook the suite executed shows its own outputs, any other its English notebook's.
        candidates = [rel, zh.english_rel(rel)] if zh.is_chinese(rel) else [rel]
        problems = [_executed_problem(course.root / c, executed / c) for c in candidates]
        usable = [c for c, why in zip(candidates, problems, strict=True) if why is None]
        if usable:
            plan.outputs[rel] = usable[0]
        elif zh.is_chinese(rel):
            plan.missing[rel] = f"the English {candidates[1]}, whose outputs it shows: {problems[1]}"
        else:
            plan.missing[rel] = problems[0]
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
    outputs of an executed copy whose code cells are the same: its own, or, for a Chinese
    notebook, its English notebook's (the transplant, cell for cell)."""
    nb = nbformat.read(source, as_version=4)
    ran = [cell for cell in nbformat.read(executed, as_version=4).cells if cell.cell_type == "code"]
    for cell, done in zip((c for c in nb.cells if c.cell_type == "code"), ran, strict=True):
        cell.outputs, cell.execution_count = done.outputs, done.execution_count
    return nb


def _missing_message(plan: SitePlan) -> str:
    lines = [f"  {rel}: {why}" for rel, why in list(plan.missing.items())[:8]]
    if len(plan.missing) > 8:
        lines.append(f"  and {len(plan.missing) - 8} more")
    first = zh.english_rel(next(iter(plan.missing)))
    return (
        f"{len(plan.missing)} notebook(s) have no executed copy to build a page from:\n"
        + "\n".join(lines)
        + f"\nTo make them, {HOW_TO_EXECUTE.format(rel=first)}; "
        "or pass --allow-missing to show those pages without outputs."
    )


def _toctrees(plan: SitePlan, has_zh_home: bool) -> list[str]:
    """The site's table of contents (the sidebar): the English parts, solutions and reference
    pages, then the Chinese edition's (the glossary with it, where there is one)."""
    chinese = zh.chinese_toctrees(plan, has_zh_home)
    reference = [rel for rel in plan.markdown if not (chinese and rel == zh.GLOSSARY)]
    captioned = [*plan.parts, ("Solutions", plan.solutions), ("Reference", reference)]
    return [toctree(caption, rels) for caption, rels in captioned if rels] + chinese


def prepare_source(root: Path, *, allow_missing: bool = False) -> tuple[Path, SitePlan]:
    """Write the site's source tree into ``build/site-src`` (removed and made anew).

    Raises :class:`EditionMismatchError` when a Chinese notebook's code is not its English
    notebook's, and :class:`MissingExecutedError` when a page has no executed copy to show,
    unless ``allow_missing``.
    """
    course = course_mod.load_course(root)
    executed = course.root / EXECUTED_DIR
    plan = plan_site(course, executed)
    if plan.out_of_sync:
        raise EditionMismatchError(zh.mismatch_message(plan.out_of_sync))
    if plan.missing and not allow_missing:
        raise MissingExecutedError(_missing_message(plan))
    source = course.root / SOURCE_DIR
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    pages = {*plan.notebooks, *plan.markdown}
    for rel in plan.notebooks:
        target = source / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel in plan.missing:
            run = zh.english_rel(rel)
            nb = placeholder_notebook(
                course.root / rel, rel, plan.missing[rel], pages, course.repository, run=run
            )
        else:
            nb = with_outputs(course.root / rel, executed / plan.outputs[rel])
            nb = site_notebook(nb, rel, pages, course.repository)
        nbformat.write(zh.without_cjk_line_breaks(nb) if zh.is_chinese(rel) else nb, target)
    for rel in plan.markdown:
        target = source / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        text = (course.root / rel).read_text(encoding="utf-8")
        target.write_text(rewrite_links(text, rel, pages, course.repository), encoding="utf-8")
    has_zh_home = (course.root / README_ZH).exists()
    (source / "index.md").write_text(home_page(course, plan, _toctrees(plan, has_zh_home)), encoding="utf-8")
    pairs = plan.pairs()
    chinese = {rel.removesuffix(".ipynb") for rel in plan.notebooks if zh.is_chinese(rel)}
    if has_zh_home:
        (source / f"{zh.ZH_HOME}.md").write_text(zh.zh_home_page(course, plan), encoding="utf-8")
        pairs["index"] = zh.ZH_HOME
        chinese.add(zh.ZH_HOME)
    title = (course.root / "README.md").read_text().splitlines()[0].removeprefix("# ").strip()
    write_sphinx_files(source, title=title, repository=course.repository, pairs=pairs, chinese=chinese)
    return source, plan


def build_site(root: Path | None = None, *, allow_missing: bool = False, quiet: bool = True) -> Path:
    """Build the HTML site into ``build/site`` and return its ``index.html``.

    Raises :class:`MissingExecutedError` (saying how to make them) when a
    notebook has no current executed copy, unless ``allow_missing``, and
    :class:`EditionMismatchError` when a Chinese notebook's code is not its
    English notebook's.
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
    home_pages = 1 + (source / f"{zh.ZH_HOME}.md").exists()
    print(
        f"site: {len(plan.notebooks) + len(plan.markdown) + home_pages} pages "
        f"({len(plan.pairs())} in both languages) in {time.perf_counter() - start:.0f} s"
    )
    return out / "index.html"
