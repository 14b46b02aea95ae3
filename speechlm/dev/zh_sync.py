"""The Chinese edition stays in step with the English: the sync check and ``course zh-stale``.

:func:`check_zh_notebook` (part of ``python -m speechlm course check``) compares each Chinese
notebook (``notebooks/zh/X.ipynb``, ``solutions/zh/X.ipynb``) with the English notebook of the same
name and fails, naming the notebook and the cell, when

a. the number of cells differs (a cell was added or removed on one side: the cells are aligned by
   their hashes to say which), or a cell's type differs from the English cell's at its position;
b. a cell's ``metadata.speechlm_zh.en_sha`` is missing or is not the :func:`~speechlm.dev.zh.en_sha`
   of the English cell's current source: the English changed after the translation was written
   (stale: translate it again, then record the new hash);
c. a code cell's source differs from the English cell's, except the setup cell's generated preamble
   (above ``# --- notebook imports (edit below) ---``, which passes ``language="zh"``, the one
   declared difference); the header cell or the setup preamble is not what ``python -m speechlm
   course headers`` writes; a cell's other metadata (its tags, which steer the tests and the site)
   differs from the English cell's, or the notebook's metadata from the English notebook's;
d. a markdown cell (other than the header) is untranslated: it holds no Chinese character, or it is
   the English cell unchanged, while the English cell has prose (:func:`speechlm.dev.glossary.prose`
   with a word of two letters or more);
e. a translated markdown cell does not use the glossary's rendering of a term its English cell uses
   (the rule of :mod:`speechlm.dev.glossary`);

and also for a stored output or execution count, a Chinese notebook over the size limit or without
an English notebook, an entry of ``notebooks/course.toml`` without its Chinese fields (once there is a
Chinese edition), a stale course
map in ``README.zh.md``, or a command of ``README.zh.md`` that is not ``README.md``'s.
:func:`stale_cells` (``python -m speechlm course zh-stale``) lists what needs translating.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from pathlib import Path

import nbformat

from speechlm.dev.course import Course, NotebookMeta
from speechlm.dev.glossary import Term, load_glossary, missing_terms, prose
from speechlm.dev.headers import IMPORTS_MARKER, _course_table, replace_course_map, setup_preamble
from speechlm.dev.zh import (
    README_ZH,
    ZH_KEY,
    course_map_markdown_zh,
    en_path_of,
    en_sha,
    has_cjk,
    header_markdown_zh,
)

__all__ = ["check_zh_edition", "check_zh_notebook", "readme_command", "stale_cells"]

HEADERS = "python -m speechlm course headers"
_NUMBER = re.compile(r"^(\d\d)_")
_PROSE_WORD = re.compile(r"[A-Za-z]{2,}")


def readme_command(text: str, name: str) -> str | None:
    """The command in the ```` ```bash ```` block after ``<!-- {name} -->`` (``open-command``,
    ``test-command``) of a README."""
    match = re.search(rf"<!-- {re.escape(name)} -->\n```bash\n(.+?)\n```", text)
    return match.group(1) if match else None


def _zh_meta(cell) -> dict:
    return cell.get("metadata", {}).get(ZH_KEY, {}) or {}


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def _todo(cell) -> str:
    """How to bring a stale cell up to date."""
    if {"header", "setup"} & set(_tags(cell)):
        return f"run `{HEADERS}`, which writes it"
    return "copy it" if cell.cell_type == "code" else "translate it again"


def _untranslated(zh_source: str, en_source: str) -> bool:
    """Rule (d): the English cell has prose and its Chinese cell has no Chinese or is unchanged."""
    has_prose = _PROSE_WORD.search(prose(en_source)) is not None
    return has_prose and (not has_cjk(zh_source) or zh_source == en_source)


def _first_line(source: str) -> str:
    line = next((line for line in source.splitlines() if line.strip()), "")
    return line if len(line) <= 70 else line[:67] + "..."


def _align(zh_cells: list, en_cells: list) -> list[tuple[str, int | None, int | None]]:
    """Pair the Chinese cells with the English ones by their recorded hashes: ``("ok", i, j)``,
    ``("stale", i, j)``, ``("missing", None, j)`` (an English cell with no translation) and
    ``("removed", i, None)`` (a Chinese cell whose English cell is gone)."""
    zh_keys = [_zh_meta(c).get("en_sha") or f"none {i}" for i, c in enumerate(zh_cells)]
    en_keys = [en_sha(c.source) for c in en_cells]
    pairs = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, zh_keys, en_keys, autojunk=False).get_opcodes():
        if tag == "equal":
            pairs += [("ok", i, j) for i, j in zip(range(i1, i2), range(j1, j2), strict=True)]
            continue
        common = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        pairs += [("stale", i1 + k, j1 + k) for k in range(common)]
        pairs += [("removed", i, None) for i in range(i1 + common, i2)]
        pairs += [("missing", None, j) for j in range(j1 + common, j2)]
    return pairs


def _read_pair(course: Course, path: Path) -> tuple[str, Path, object, object, list[str]]:
    rel = path.relative_to(course.root).as_posix()
    english = en_path_of(path)
    en_rel = english.relative_to(course.root).as_posix()
    if not english.exists():
        return rel, english, None, None, [f"{rel}: there is no English notebook {en_rel} that it translates"]
    try:
        return rel, english, nbformat.read(path, as_version=4), nbformat.read(english, as_version=4), []
    except Exception as exc:  # a corrupt notebook is a problem to report, not a crash
        return rel, english, None, None, [f"{rel}: not a readable notebook, or {en_rel} is not ({exc})"]


def _meta_for(course: Course, path: Path) -> NotebookMeta | None:
    match = _NUMBER.match(path.name)
    return course.meta_for(match.group(1)) if match else None


def check_zh_notebook(course: Course, path: Path, terms: list[Term], *, solutions: bool = False) -> list[str]:
    """Every way the Chinese notebook ``path`` is out of step with its English notebook (rules a-e)."""
    from speechlm.dev.checks import MAX_NOTEBOOK_BYTES

    rel, english, nb, en, problems = _read_pair(course, path)
    meta = _meta_for(course, path)
    if nb is None or meta is None:
        return problems  # no English notebook, or one whose own check reports it
    en_rel = english.relative_to(course.root).as_posix()
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        problems.append(f"{rel}: {path.stat().st_size:,} bytes is over the {MAX_NOTEBOOK_BYTES:,}-byte limit")
    if nb.metadata != en.metadata:
        problems.append(f"{rel}: the notebook's metadata differs from {en_rel}'s; copy it")
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            problems.append(f"{rel}: cell {index} has stored outputs or an execution count; clear them")
    if len(nb.cells) != len(en.cells):
        counts = f"{len(nb.cells)} cells, {en_rel} has {len(en.cells)}"
        for kind, i, j in _align(nb.cells, en.cells):
            if kind == "missing":
                problems.append(
                    f"{rel}: {counts}: English cell {j} ({en.cells[j].cell_type}) has no translation "
                    f"(added in English?): {_first_line(en.cells[j].source)!r}"
                )
            elif kind == "removed":
                problems.append(
                    f"{rel}: {counts}: cell {i} translates no English cell (removed in English, or added "
                    "here?); the editions must have the same cells"
                )
        return problems
    preamble = setup_preamble(course.install_source(), language="zh")
    for index, (cell, en_cell) in enumerate(zip(nb.cells, en.cells, strict=True)):
        where = f"{rel}: cell {index}"
        if cell.cell_type != en_cell.cell_type:
            problems.append(
                f"{where} is a {cell.cell_type} cell, English cell {index} a {en_cell.cell_type} cell"
            )
            continue
        own = {key: value for key, value in cell.metadata.items() if key != ZH_KEY}
        if own != dict(en_cell.metadata):
            problems.append(f"{where}: its metadata (tags) differs from English cell {index}'s; copy it")
        recorded, current = _zh_meta(cell).get("en_sha"), en_sha(en_cell.source)
        if index == 0 and "header" in _tags(cell):
            header = header_markdown_zh(course, meta, solutions=solutions)
            if cell.source != header or recorded != current:
                problems.append(f"{where}: the header cell is stale or edited by hand; run `{HEADERS}`")
            continue
        if recorded is None:
            problems.append(
                f"{where} has no metadata {ZH_KEY}.en_sha, the hash of the English cell it translates: "
                f"set it to {current!r} once it translates English cell {index}"
            )
        elif recorded != current:
            todo = _todo(cell)
            problems.append(
                f"{where} is stale: English cell {index} changed after it was translated ({ZH_KEY}.en_sha "
                f"{recorded!r}, English now {current!r}); {todo}, then set en_sha to {current!r}"
            )
        if cell.cell_type == "code":
            problems += _code_problems(where, cell, en_cell, preamble)
        elif _untranslated(cell.source, en_cell.source):
            problems.append(f"{where} is not translated: {_first_line(en_cell.source)!r}")
        else:
            exempt = _zh_meta(cell).get("glossary_exempt", [])
            for term in missing_terms(en_cell.source, cell.source, terms, exempt):
                problems.append(
                    f"{where} does not use the glossary's rendering of {term.en!r}, {term.zh!r} "
                    "(docs/glossary.toml), which its English cell uses"
                )
    return problems


def _code_problems(where: str, cell, en_cell, preamble: str) -> list[str]:
    """Rule (c) for one code cell: the English code, and in the setup cell the Chinese preamble."""
    if "setup" not in _tags(cell):
        return (
            [] if cell.source == en_cell.source else [f"{where}: code differs from the English cell; copy it"]
        )
    problems = []
    if not cell.source.startswith(preamble):
        problems.append(f"{where}: the setup cell's preamble is stale or edited; run `{HEADERS}`")
    body, en_body = (source.split(IMPORTS_MARKER, 1)[-1] for source in (cell.source, en_cell.source))
    if body != en_body:
        problems.append(
            f"{where}: the setup cell's code below {IMPORTS_MARKER!r} differs from the English; copy it"
        )
    return problems


def _zh_notebooks(course: Course) -> list[tuple[Path, bool]]:
    found = []
    for folder, solutions in ((course.zh_notebooks_dir, False), (course.zh_solutions_dir, True)):
        if folder.exists():
            found += [(path, solutions) for path in sorted(folder.glob("*.ipynb"))]
    return found


def _course_toml_problems(course: Course) -> list[str]:
    """Once the course has a Chinese edition (``README.zh.md`` or ``notebooks/zh/``), every notebook of
    the course map needs its Chinese fields, and every part a Chinese title."""
    problems = []
    if not (course.root / README_ZH).exists() and not course.zh_notebooks_dir.exists():
        return problems
    parts_zh = _course_table(course).get("parts_zh", {})
    for meta in course.existing():
        where = f"notebooks/course.toml: notebook {meta.number}"
        for key in ("title_zh", "summary_zh", "topic_zh"):
            if not has_cjk(getattr(meta, key)):
                problems.append(f"{where} needs {key}, in Chinese")
        if len(meta.objectives_zh) != len(meta.objectives) or not all(map(has_cjk, meta.objectives_zh)):
            problems.append(f"{where} needs objectives_zh: its {len(meta.objectives)} objectives in Chinese")
        if bool(meta.cold) != bool(meta.cold_zh):
            problems.append(f"{where}: cold_zh must translate cold (both or neither)")
        if meta.part not in parts_zh:
            problems.append(f"notebooks/course.toml: part {meta.part!r} needs a title in [parts_zh]")
    return sorted(set(problems), key=problems.index)


def check_zh_edition(course: Course) -> list[str]:
    """The sync check of every Chinese notebook, the Chinese fields of ``notebooks/course.toml`` and
    ``README.zh.md`` (its course map current, its two commands those of ``README.md``)."""
    terms, _ = load_glossary(course.root)  # the glossary's own problems are glossary.glossary_problems'
    problems = _course_toml_problems(course)
    for path, solutions in _zh_notebooks(course):
        problems += check_zh_notebook(course, path, terms, solutions=solutions)
    readme_zh = course.root / README_ZH
    if not readme_zh.exists():
        return problems
    text = readme_zh.read_text(encoding="utf-8")
    try:
        if replace_course_map(text, course_map_markdown_zh(course)) != text:
            problems.append(f"{README_ZH}: the course map is stale; run `{HEADERS}`")
    except ValueError as exc:
        problems.append(f"{README_ZH}: {exc}")
    readme = course.root / "README.md"
    english = readme.read_text(encoding="utf-8") if readme.exists() else ""
    for name in ("open-command", "test-command"):
        if readme_command(text, name) != readme_command(english, name):
            problems.append(f"{README_ZH}: the <!-- {name} --> block must be README.md's, unchanged")
    return problems


def stale_cells(course: Course, numbers: list[str] | None = None) -> list[str]:
    """What needs translating (``python -m speechlm course zh-stale``): one line per stale,
    untranslated, missing or orphaned cell of each Chinese notebook (of ``numbers`` only, if given),
    then the notebooks with no Chinese edition yet."""
    lines = []
    for path, _ in _zh_notebooks(course):
        if numbers and path.name[:2] not in numbers:
            continue
        rel, _, nb, en, problems = _read_pair(course, path)
        if nb is None:
            lines += problems
            continue
        for kind, i, j in (
            _align(nb.cells, en.cells) if len(nb.cells) != len(en.cells) else _by_position(nb, en)
        ):
            cell = nb.cells[i] if i is not None else None
            where = f"{rel} cell {i} ({cell.cell_type})" if cell is not None else rel
            if kind == "missing":
                line = f"English cell {j} ({en.cells[j].cell_type}) has no translation; add one"
            elif kind == "removed":
                line = "translates an English cell that no longer exists; delete it"
            elif kind == "stale" and {"header", "setup"} & set(_tags(cell)):
                line = f"stale, English cell {j} changed; {_todo(cell)}"
            elif kind == "stale":
                sha = en_sha(en.cells[j].source)
                line = f"stale, English cell {j} changed; {_todo(cell)}, then set en_sha to {sha!r}"
            elif (
                cell.cell_type == "markdown"
                and "header" not in _tags(cell)
                and _untranslated(cell.source, en.cells[j].source)
            ):
                line = "not translated yet"
            else:
                continue
            english = _first_line(en.cells[j].source) if j is not None else ""
            lines.append(f"{where}: {line}" + (f": {english!r}" if english else ""))
    for meta in course.existing():
        if numbers and meta.number not in numbers:
            continue
        if not (course.zh_notebooks_dir / meta.file).exists():
            lines.append(
                f"notebooks/{meta.file}: no Chinese edition yet; `python -m speechlm course zh-new "
                f"{meta.number}` starts one"
            )
    return lines


def _by_position(nb, en) -> list[tuple[str, int, int]]:
    """Cells paired by position (the editions have as many cells): ``ok`` or ``stale``."""
    return [
        ("ok" if _zh_meta(cell).get("en_sha") == en_sha(en_cell.source) else "stale", index, index)
        for index, (cell, en_cell) in enumerate(zip(nb.cells, en.cells, strict=True))
    ]
