"""The Chinese edition on the website: its pages, where their outputs come from, its home page.

A Chinese notebook (``notebooks/zh/X.ipynb``, ``solutions/zh/X.ipynb``; :mod:`speechlm.dev.zh`) has
the English notebook's cells in the same order, its code cells byte-identical but for the setup
cell's generated preamble (which passes ``language="zh"``). So its page shows

- the outputs of its own executed copy, where the suite ran it (notebooks 00 and 03) and that copy
  is complete and current (the English pages' rule);
- otherwise the outputs of the English notebook's executed copy, cell for cell (the transplant:
  :func:`speechlm.dev.site.build.with_outputs` of the Chinese source and the English copy), under
  the same rule for the English copy; a page without either is reported like a missing English one.

A Chinese notebook whose code is not its English notebook's (:func:`code_mismatch`) is refused
(:class:`EditionMismatchError`): the English outputs would not be its own. ``python -m speechlm
course check`` names every such cell.

The Chinese pages get their own part of the table of contents (:func:`chinese_toctrees`: 中文版,
then the parts of ``[parts_zh]``), ``README.zh.md`` becomes the Chinese home page ``zh``
(:func:`zh_home_page`), and each page with a counterpart gets a language switch
(:mod:`speechlm.dev.site.sphinx_conf`). Chinese Markdown wrapped between two Chinese characters is
joined there (:func:`join_cjk_lines`), since a browser would show the line break as a space.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from speechlm.dev.course import Course
from speechlm.dev.headers import IMPORTS_MARKER, part_caption
from speechlm.dev.site.pages import readme_sections, rewrite_links, toctree
from speechlm.dev.zh import README_ZH, course_map_markdown_zh

ZH_HOME = "zh"  # the Chinese home page's docname (zh.md in the source tree, from README.zh.md)
GLOSSARY = "docs/glossary.md"
QUICK_START_ZH = "快速开始"
_LANGUAGE_LINE = re.compile(r"(?m)^\[English\]\(README\.md\).*\n?")  # README.zh.md's own switch
_MAP_ROW = re.compile(r"^\| (\d\d) \|")
# Chinese characters and full-width punctuation: a line break between two of them is no space.
_CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef"
_CJK_BREAK = re.compile(rf"(?<=[{_CJK}])\n[ \t]*(?=[{_CJK}])")


class EditionMismatchError(ValueError):
    """A Chinese notebook's code is not its English notebook's, so its page cannot show the English
    outputs; ``python -m speechlm course check`` names every difference."""


def is_chinese(rel: str) -> bool:
    """Whether a repository-relative path is one of the Chinese edition's notebooks."""
    return rel.startswith(("notebooks/zh/", "solutions/zh/"))


def english_rel(rel: str) -> str:
    """The English notebook of a Chinese one (``notebooks/zh/03_mfcc.ipynb``: ``notebooks/03_mfcc.ipynb``)."""
    return rel.replace("/zh/", "/", 1) if is_chinese(rel) else rel


def join_cjk_lines(markdown: str) -> str:
    """Markdown whose paragraphs are wrapped between two Chinese characters, joined there: a browser
    shows such a line break as a space, which Chinese text does not have (fenced code unchanged)."""
    chunks = re.split(r"(?m)(^```.*?^```[^\n]*$)", markdown, flags=re.DOTALL)
    return "".join(chunk if chunk.startswith("```") else _CJK_BREAK.sub("", chunk) for chunk in chunks)


def without_cjk_line_breaks(nb):
    """A Chinese notebook's page: its Markdown cells' wrapped lines joined (:func:`join_cjk_lines`)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = join_cjk_lines(cell.source)
    return nb


def chinese_pages(course: Course) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """The Chinese notebooks in course order, grouped by part (captions from ``[parts_zh]``), and
    the Chinese solutions notebooks."""
    parts: dict[str, list[str]] = {}
    solutions = []
    for meta in course.existing():
        if (course.zh_notebooks_dir / meta.file).exists():
            parts.setdefault(meta.part, []).append(f"notebooks/zh/{meta.file}")
        if (course.zh_solutions_dir / meta.solutions_file).exists():
            solutions.append(f"solutions/zh/{meta.solutions_file}")
    return [(part_caption(course, part, zh=True), rels) for part, rels in parts.items()], solutions


def _compared_code(cell) -> str:
    """A code cell's source as the editions must share it: the setup cell's below its generated
    preamble (the one declared difference: ``language="zh"``)."""
    if "setup" in cell.get("metadata", {}).get("tags", []):
        return cell.source.split(IMPORTS_MARKER, 1)[-1]
    return cell.source


def code_mismatch(root: Path, rel: str) -> str | None:
    """Why the Chinese notebook ``rel`` cannot show its English notebook's outputs, or None: its
    cells must be the English notebook's, in the same order and of the same types, and its code
    cells identical (the setup cell below its preamble)."""
    en_rel = english_rel(rel)
    if not (root / en_rel).exists():
        return f"there is no English notebook {en_rel} that it translates"
    nb, en = (nbformat.read(root / path, as_version=4) for path in (rel, en_rel))
    if len(nb.cells) != len(en.cells):
        return f"it has {len(nb.cells)} cells, {en_rel} has {len(en.cells)}"
    for index, (cell, en_cell) in enumerate(zip(nb.cells, en.cells, strict=True)):
        if cell.cell_type != en_cell.cell_type:
            kinds = f"{cell.cell_type} cell, cell {index} of {en_rel} a {en_cell.cell_type} cell"
            return f"cell {index} is a {kinds}"
        if cell.cell_type == "code" and _compared_code(cell) != _compared_code(en_cell):
            return f"the code of cell {index} differs from cell {index} of {en_rel}"
    return None


def mismatch_message(out_of_sync: dict[str, str]) -> str:
    lines = "\n".join(f"  {rel}: {why}" for rel, why in out_of_sync.items())
    return (
        f"{len(out_of_sync)} Chinese notebook(s) do not have their English notebook's code, so their pages "
        f"cannot show its outputs:\n{lines}\nCopy the English cells into them (code cells are "
        "byte-identical in both editions); `python -m speechlm course check` names every difference."
    )


def chinese_toctrees(plan, has_home: bool) -> list[str]:
    """The 中文版 part of the table of contents: the Chinese home page and the glossary, then the
    Chinese notebooks by part, then their solutions; none without Chinese pages."""
    if not (plan.zh_parts or plan.zh_solutions or has_home):
        return []
    first = [f"课程首页 <{ZH_HOME}>"] * has_home + [GLOSSARY] * (GLOSSARY in plan.markdown)
    trees = [toctree("中文版", first)] if first else []
    trees += [toctree(caption, rels) for caption, rels in plan.zh_parts]
    if plan.zh_solutions:
        trees.append(toctree("习题解答", plan.zh_solutions))
    return trees


def _with_solutions_column(table: str, solutions_cell) -> str:
    """``README.zh.md``'s course map with the solutions in its last column instead of the Colab and
    Binder links (a page's top bar has those)."""
    lines = table.splitlines()
    for index, line in enumerate(lines):
        if not line.startswith("|"):
            continue
        kept = line.rstrip().removesuffix("|").rsplit("|", 1)[0]
        if index == 0:
            cell = " 习题解答 "
        elif line.startswith("|---"):
            cell = "---"
        else:
            match = _MAP_ROW.match(line)
            cell = f" {solutions_cell(match.group(1)) if match else ''} "
        lines[index] = f"{kept}|{cell}|"
    return "\n".join(lines)


def zh_home_page(course: Course, plan) -> str:
    """The Chinese home page from ``README.zh.md``: its introduction, the Chinese course map (as
    ``README.zh.md``'s, with the solutions) and its quick start."""
    readme = (course.root / README_ZH).read_text(encoding="utf-8")
    raw_intro = readme_sections(readme, [])
    quick_start = readme_sections(readme, [QUICK_START_ZH]).removeprefix(raw_intro).strip()
    title = readme.splitlines()[0].removeprefix("# ").strip()

    def solutions(number: str) -> str:
        meta = course.meta_for(number)
        chinese, english = f"solutions/zh/{meta.solutions_file}", f"solutions/{meta.solutions_file}"
        if chinese in plan.notebooks:
            return f"[解答]({chinese})"
        return f"[解答]({english})（英文版）" if english in plan.notebooks else "-"

    body = "\n\n".join(
        [
            f"# {title}",
            _LANGUAGE_LINE.sub("", raw_intro).strip(),
            "## 课程地图",
            "每一页都显示测试最近一次执行该笔记本时的样子，包括输出；页面顶栏可以在 Colab 或 Binder "
            "中打开它，或者下载它。中文版的代码与英文版逐字节相同：测试执行过的中文笔记本显示它们自己的"
            "输出，其余的显示英文版笔记本在同一次测试中的输出（因此其中打印的文字是英文）。",
            _with_solutions_column(course_map_markdown_zh(course), solutions),
            quick_start,
        ]
    )
    pages = {*plan.notebooks, *plan.markdown}
    return join_cjk_lines(rewrite_links(body, README_ZH, pages, course.repository)) + "\n"
