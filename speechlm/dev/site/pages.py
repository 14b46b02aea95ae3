"""The pages of the site's source tree: notebooks as pages, Markdown with its links fixed, the home page.

The source tree mirrors the repository, so a link between two site pages keeps
its relative form; a link to any other file of the repository goes to GitHub.
"""

from __future__ import annotations

import json
import posixpath
import re

import nbformat

from speechlm.dev.headers import course_map_rows

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")
HOW_TO_EXECUTE = (
    "run the test suite first; it keeps what it executes in build/executed "
    "(all of it: `.venv/bin/python -m pytest`; only the notebooks: "
    "`.venv/bin/python -m pytest notebooks solutions`; one: `.venv/bin/python -m pytest {rel}`)"
)
_LINK = re.compile(r"(?<!\!)(\[[^\]]*\])\(([^)\s]+)\)")
_BADGES = re.compile(r"\[!\[([^\]]*)\]\([^)]*\)\]\(([^)\s]+)\)")


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


def placeholder_notebook(source, rel: str, why: str, site_pages: set[str], repository: str, *, run: str):
    """The unexecuted notebook with a warning on top (only with ``allow_missing``); ``run`` is the
    notebook whose run would give the page its outputs (a Chinese page's English notebook)."""
    nb = site_notebook(nbformat.read(source, as_version=4), rel, site_pages, repository)
    how = HOW_TO_EXECUTE.format(rel=run)
    if rel.startswith(("notebooks/zh/", "solutions/zh/")):
        text = f"本页显示的是没有输出的笔记本：{why}。要看到输出，请 {how}，然后重新构建网站。"
    else:
        text = (
            f"This page shows the notebook without its outputs: {why}. "
            f"To see them, {how}, then build the site again."
        )
    note = nbformat.v4.new_markdown_cell(f":::{{warning}}\n{text}\n:::")
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


def toctree(caption: str, entries: list[str]) -> str:
    """A hidden toctree (the sidebar's part ``caption``); an entry is a page's repository-relative
    path, or ``Title <docname>``."""
    docnames = "\n".join(entry.removesuffix(".ipynb") for entry in entries)
    return f":::{{toctree}}\n:caption: {caption}\n:hidden:\n\n{docnames}\n:::"


def home_page(course, plan, toctrees: list[str]) -> str:
    """The home page: what the course is, its map in course order, how to run it, and the site's
    table of contents (``toctrees``, the sidebar)."""
    readme = (course.root / "README.md").read_text()
    intro = readme_sections(readme, [])
    how_to_run = readme_sections(readme, ["Quick start", "Colab, Binder and laptops"]).removeprefix(intro)
    title = readme.splitlines()[0].removeprefix("# ").strip()

    def solutions(meta) -> str:
        sol = f"solutions/{meta.solutions_file}"
        return f"[solutions]({sol})" if sol in plan.solutions else "-"

    rows = course_map_rows(course, "solutions", solutions)
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
