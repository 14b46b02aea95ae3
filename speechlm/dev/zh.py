"""The Chinese edition's generated parts: headers, setup preambles, ``README.zh.md``'s map, new notebooks.

A Chinese notebook (``notebooks/zh/NN_topic.ipynb``, ``solutions/zh/NN_topic_solutions.ipynb``)
has the English notebook's cells, in order, each carrying ``metadata.speechlm_zh.en_sha``, the
:func:`en_sha` of the English cell it translates. Its header cell and the preamble of its setup cell
are generated, in Chinese, from the ``*_zh`` fields of ``notebooks/course.toml`` (and its
``[parts_zh]`` table) and the English notebook's measured timings (``notebooks/timings.json``): the
same run time, peak memory and headline. The preamble passes ``language="zh"`` to
``speechlm.setup``, the one declared difference in code (:func:`speechlm.dev.headers.setup_preamble`).

:func:`write_zh` (part of ``python -m speechlm course headers``) writes those cells and the course
map of ``README.zh.md``; :func:`new_zh_notebook` (``python -m speechlm course zh-new NN``) starts a
translation as a copy of the English notebook. The sync check is :mod:`speechlm.dev.zh_sync`.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import nbformat

from speechlm.dev.course import MEMORY_BUDGET_MB, Course, NotebookMeta, peak_mb
from speechlm.dev.headers import (
    IMPORTS_MARKER,
    _format_minutes,
    _time_text,
    part_caption,
    replace_course_map,
    setup_preamble,
)

__all__ = [
    "ASSUMED_SKILLS_ZH",
    "README_ZH",
    "ZH_KEY",
    "course_map_markdown_zh",
    "en_path_of",
    "en_sha",
    "has_cjk",
    "header_markdown_zh",
    "new_zh_notebook",
    "write_zh",
    "zh_path",
]

ZH_KEY = "speechlm_zh"  # cell metadata: {"en_sha": the en_sha of the English cell it translates}
README_ZH = "README.zh.md"
CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
ASSUMED_SKILLS_ZH = (
    "Python 与 NumPy；线性代数（向量、矩阵、点积）；导数与链式法则；基础概率（分布、似然）；"
    "亲手训练过一个小型 PyTorch 模型"
)
MEASURED_ZH = "由 `python -m speechlm course time` 在双核 CPU 上实测"


def en_sha(source: str) -> str:
    """The hash that a Chinese cell records of the English cell it translates: the first 16 hex digits
    of the SHA-256 of the English cell's source (UTF-8)."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds a Chinese character (a CJK unified ideograph)."""
    return CJK_RE.search(text) is not None


def zh_path(course: Course, meta: NotebookMeta, *, solutions: bool = False) -> Path:
    """Where the Chinese edition of a notebook (or of its solutions notebook) lives."""
    if solutions:
        return course.zh_solutions_dir / meta.solutions_file
    return course.zh_notebooks_dir / meta.file


def en_path_of(zh_notebook: Path) -> Path:
    """The English notebook that ``notebooks/zh/X.ipynb`` (or ``solutions/zh/X.ipynb``) translates."""
    return zh_notebook.parent.parent / zh_notebook.name


def _title_zh(meta: NotebookMeta) -> str:
    return meta.title_zh or meta.title


def header_markdown_zh(course: Course, meta: NotebookMeta, *, solutions: bool = False) -> str:
    """The header cell of a Chinese notebook (or solutions notebook): the English header's content
    from the ``*_zh`` fields, with the English notebook's measured run time and peak memory."""
    rel = f"solutions/zh/{meta.solutions_file}" if solutions else f"notebooks/zh/{meta.file}"
    en_file = meta.solutions_file if solutions else meta.file
    timing = course.timings.get(f"solutions/{en_file}" if solutions else f"notebooks/{en_file}", {})
    badges = (
        "[![在 Colab 中打开](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"({course.colab_url(rel)}) "
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({course.binder_url(rel)})"
    )
    english = f"英文原版：[`{en_file}`](../{en_file})"
    run_time = _time_text(timing, "" if solutions else meta.cold_zh, zh=True)
    peak = peak_mb(timing)
    memory = "" if peak is None else f"**峰值内存：** {peak:,.0f} MB（内核及其工作进程）。"
    if solutions:
        return "\n".join(
            [
                f"# {meta.number} · 习题解答：{_title_zh(meta)}",
                "",
                badges,
                "",
                english,
                "",
                f"`notebooks/zh/{meta.file}` 中练习的参考解答。请先自己动手：每个解答都由与笔记本中"
                "相同的检查器检验。",
                "",
                f"**运行时间：** {run_time}（{MEASURED_ZH}）。{memory}",
            ]
        )
    prereq = "、".join(f"`{p}`" for p in meta.prerequisites)
    prereq = f"笔记本 {prereq}" if prereq else ASSUMED_SKILLS_ZH
    return "\n".join(
        [
            f"# {meta.number} · {_title_zh(meta)}",
            "",
            badges,
            "",
            english,
            "",
            meta.summary_zh or meta.summary,
            "",
            "**学习目标。** 学完本笔记本，你将能够：",
            "",
            *[f"- {objective}" for objective in (meta.objectives_zh or meta.objectives)],
            "",
            f"**先修：** {prereq}。**所属部分：** {part_caption(course, meta.part, zh=True)}。"
            f"**运行时间：** {run_time}（{MEASURED_ZH}）。{memory}",
        ]
    )


def course_map_markdown_zh(course: Course) -> str:
    """``README.zh.md``'s course map: :func:`speechlm.dev.headers.course_map_markdown` in Chinese,
    from the same timings, linking each notebook's Chinese edition where it exists (else the English
    notebook, marked 英文版); the headlines stay as the notebooks print them."""
    rows = [
        "| # | 笔记本 | 主题 | CPU 时间 | 峰值内存 | 实测结果（笔记本输出原文） | 打开 |",
        "|---|---|---|---|---|---|---|",
    ]
    part = None
    for meta in course.existing():
        if meta.part != part:
            part = meta.part
            rows.append(f"| | **{part_caption(course, part, zh=True)}** | | | | | |")
        translated = zh_path(course, meta).exists()
        rel = f"notebooks/zh/{meta.file}" if translated else f"notebooks/{meta.file}"
        title = f"[{_title_zh(meta)}]({rel})" + ("" if translated else "（英文版）")
        timing = course.timings.get(f"notebooks/{meta.file}", {})
        headline = timing.get("headline", "尚未测量").replace("|", "\\|")
        peak = peak_mb(timing)
        memory = "尚未测量" if peak is None else f"{peak:,.0f} MB"
        links = f"[Colab]({course.colab_url(rel)}) · [Binder]({course.binder_url(rel)})"
        cells = [meta.number, title, meta.topic_zh or meta.topic, _time_text(timing, meta.cold_zh, zh=True)]
        rows.append("| " + " | ".join([*cells, memory, headline, links]) + " |")
    timings = [course.timings.get(f"notebooks/{m.file}", {}) for m in course.existing()]
    total = f"有缓存时 {_format_minutes(sum(t.get('warm_s', 0.0) for t in timings), zh=True)}"
    if any("cold_s" in t for t in timings):
        total += f"，首次运行（空缓存）{_format_minutes(sum(t.get('cold_s', 0.0) for t in timings), zh=True)}"
    rows += ["", f"各笔记本实测 CPU 时间合计：{total}。"]
    peaks = [(peak_mb(t), m.number) for t, m in zip(timings, course.existing(), strict=True)]
    peaks = [(peak, number) for peak, number in peaks if peak is not None]
    if peaks:
        highest, number = max(peaks)
        rows[-1] += (
            f"峰值内存最高为 {highest:,.0f} MB（笔记本 {number}；一个内核及其工作进程的预算是 "
            f"{MEMORY_BUDGET_MB:,} MB，这样每个笔记本都能在 Binder 的 2 GB 内存中运行）。"
        )
    return "\n".join(rows)


def _generated_cell(cell_type: str, source: str, tag: str, english_source: str | None):
    make = nbformat.v4.new_markdown_cell if cell_type == "markdown" else nbformat.v4.new_code_cell
    cell = make(source)
    cell.metadata["tags"] = [tag]
    if english_source is not None:
        cell.metadata[ZH_KEY] = {"en_sha": en_sha(english_source)}
    return cell


def _tagged(nb, tag: str) -> int | None:
    return next((i for i, c in enumerate(nb.cells) if tag in c.get("metadata", {}).get("tags", [])), None)


def apply_generated_cells_zh(course: Course, meta: NotebookMeta, *, solutions: bool) -> bool:
    """Rewrite the header cell and the setup cell of one Chinese notebook: the header in Chinese, the
    setup cell as the Chinese preamble above the English notebook's own code below
    :data:`~speechlm.dev.headers.IMPORTS_MARKER`, each recording the English cell's :func:`en_sha`.
    Returns whether the file changed."""
    path = zh_path(course, meta, solutions=solutions)
    english = nbformat.read(en_path_of(path), as_version=4)
    nb = nbformat.read(path, as_version=4)
    original = nbformat.writes(nb)
    en_header = english.cells[0].source if _tagged(english, "header") == 0 else None
    header = _generated_cell(
        "markdown", header_markdown_zh(course, meta, solutions=solutions), "header", en_header
    )
    if nb.cells and _tagged(nb, "header") == 0:
        nb.cells[0] = header
    else:
        nb.cells.insert(0, header)
    index, en_index = _tagged(nb, "setup"), _tagged(english, "setup")
    if index is not None:
        source = (english.cells[en_index] if en_index is not None else nb.cells[index]).source
        body = source.split(IMPORTS_MARKER, 1)[1].lstrip("\n") if IMPORTS_MARKER in source else source
        preamble = setup_preamble(course.install_source(), language="zh")
        en_source = english.cells[en_index].source if en_index is not None else None
        nb.cells[index] = _generated_cell("code", f"{preamble}\n{body.rstrip()}", "setup", en_source)
    return _write_if_changed(nb, path, original)


def _write_if_changed(nb, path: Path, original: str | None = None) -> bool:
    for cell in nb.cells:  # nbformat's new ids would churn the diff: keep them stable
        cell.pop("id", None)
    nb.nbformat_minor = 4
    updated = nbformat.writes(nb)
    if updated == original:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(updated + ("" if updated.endswith("\n") else "\n"), encoding="utf-8")
    return True


def write_zh(course: Course) -> list[Path]:
    """The generated cells of every Chinese notebook and the course map of ``README.zh.md``
    (between the same markers as ``README.md``'s); the files that changed."""
    changed = []
    for meta in course.existing():
        for solutions in (False, True):
            path = zh_path(course, meta, solutions=solutions)
            if path.exists() and en_path_of(path).exists():
                if apply_generated_cells_zh(course, meta, solutions=solutions):
                    changed.append(path)
    readme = course.root / README_ZH
    if readme.exists():
        text = readme.read_text(encoding="utf-8")
        new = replace_course_map(text, course_map_markdown_zh(course))
        if new != text:
            readme.write_text(new, encoding="utf-8")
            changed.append(readme)
    return changed


def new_zh_notebook(course: Course, number: str) -> list[Path]:
    """Start the Chinese edition of notebook ``number`` (``python -m speechlm course zh-new NN``):
    ``notebooks/zh/`` (and ``solutions/zh/``) copies of the English notebook (and its solutions), every
    cell recording its English cell's :func:`en_sha`, the header and setup preamble already in Chinese
    and the markdown cells still English, for a translator to translate one by one (the sync check
    lists them as untranslated until then). Refuses to overwrite a Chinese notebook."""
    meta = course.meta_for(number)
    if meta is None or not (course.notebooks_dir / meta.file).exists():
        known = ", ".join(m.number for m in course.existing())
        raise ValueError(f"no notebook {number!r} in notebooks/course.toml with a file; known: {known}")
    pairs = [(course.notebooks_dir / meta.file, zh_path(course, meta), False)]
    solutions = course.solutions_dir / meta.solutions_file
    if solutions.exists():
        pairs.append((solutions, zh_path(course, meta, solutions=True), True))
    for _, path, _ in pairs:
        if path.exists():
            raise FileExistsError(
                f"{path.relative_to(course.root)} exists already; `python -m speechlm course zh-stale` "
                "lists what in it needs translating again"
            )
    created = []
    for english, path, is_solutions in pairs:
        nb = nbformat.read(english, as_version=4)
        for cell in nb.cells:
            cell.metadata[ZH_KEY] = {"en_sha": en_sha(cell.source)}
        _write_if_changed(nb, path)
        apply_generated_cells_zh(course, meta, solutions=is_solutions)
        created.append(path)
    return created
