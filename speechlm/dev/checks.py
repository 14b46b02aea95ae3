"""``python -m speechlm course check``: every way a notebook breaks the conventions of CONTRIBUTING.md.

Names (``NN_snake_case.ipynb``), an entry in ``notebooks/course.toml``, the size limit, a current
generated header and setup preamble (:mod:`speechlm.dev.headers`), one setup cell and no imports
elsewhere, no stored outputs; for the whole course also a current README course map, and no recorded
peak memory over the budget (:data:`speechlm.dev.course.MEMORY_BUDGET_MB`); then the Chinese edition's
sync check (:mod:`speechlm.dev.zh_sync`) and the glossary (:mod:`speechlm.dev.glossary`).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat

from speechlm.dev.course import MEMORY_BUDGET_MB, Course, peak_mb
from speechlm.dev.headers import course_map_markdown, header_markdown, replace_course_map, setup_preamble

__all__ = ["check_course", "check_notebook"]

NAME_RE = re.compile(r"^(\d\d)_[a-z0-9]+(?:_[a-z0-9]+)*\.ipynb$")
SOLUTION_RE = re.compile(r"^(\d\d)_[a-z0-9]+(?:_[a-z0-9]+)*_solutions\.ipynb$")
MAX_NOTEBOOK_BYTES = 200_000


def _imports_in(source: str) -> list[str]:
    """Top-level import statements in a code cell (IPython magics ignored)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return []
    return [ast.unparse(node) for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]


def check_notebook(course: Course, path: Path, *, solutions: bool = False) -> list[str]:
    """Every way ``path`` breaks the conventions (an empty list when it is fine)."""
    problems: list[str] = []
    name = path.name
    pattern = SOLUTION_RE if solutions else NAME_RE
    match = pattern.match(name)
    if not match:
        kind = "NN_snake_case_solutions.ipynb" if solutions else "NN_snake_case.ipynb"
        return [f"{name}: the name must look like {kind} (two-digit prefix, lower-case snake_case)"]
    number = match.group(1)
    meta = course.meta_for(number)
    if meta is None:
        return [f"{name}: notebook {number} has no entry in notebooks/course.toml"]
    expected_file = meta.solutions_file if solutions else meta.file
    if name != expected_file:
        problems.append(f"{name}: notebooks/course.toml names notebook {number} {expected_file!r}")
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        problems.append(f"{name}: {size:,} bytes is over the {MAX_NOTEBOOK_BYTES:,}-byte limit")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # a corrupt notebook is a problem to report, not a crash
        return [*problems, f"{name}: not a readable notebook ({exc})"]
    cells = nb.cells
    if not cells or cells[0].cell_type != "markdown" or "header" not in cells[0].metadata.get("tags", []):
        problems.append(f"{name}: the first cell must be the generated markdown header (tag 'header')")
    elif cells[0].source != header_markdown(course, meta, solutions=solutions):
        problems.append(
            f"{name}: the header cell is stale or edited by hand; run `python -m speechlm course headers`"
        )
    setup_cells = [i for i, c in enumerate(cells) if "setup" in c.metadata.get("tags", [])]
    if len(setup_cells) != 1:
        problems.append(f"{name}: needs exactly one cell tagged 'setup', found {len(setup_cells)}")
    else:
        index = setup_cells[0]
        cell = cells[index]
        first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), None)
        if cell.cell_type != "code" or index != first_code:
            problems.append(f"{name}: the setup cell must be the first code cell")
        preamble = setup_preamble(course.install_source())
        if not cell.source.startswith(preamble):
            problems.append(
                f"{name}: the setup cell's preamble is stale or edited;"
                " run `python -m speechlm course headers`"
            )
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"{name}: cell {index} has stored outputs; clear them before committing")
        if cell.get("execution_count") is not None:
            problems.append(f"{name}: cell {index} has an execution count; clear outputs before committing")
        if "setup" not in cell.metadata.get("tags", []):
            imports = _imports_in(cell.source)
            if imports:
                problems.append(
                    f"{name}: cell {index} imports ({imports[0]}); move imports to the setup cell"
                )
    return problems


def check_course(course: Course) -> list[str]:
    """Problems with every notebook, every solutions notebook and the README map, the Chinese
    edition and the glossary."""
    from speechlm.dev.glossary import glossary_problems
    from speechlm.dev.zh_sync import check_zh_edition

    problems: list[str] = []
    files = [m.file for m in course.notebooks]
    for duplicate in {f for f in files if files.count(f) > 1}:
        problems.append(f"notebooks/course.toml lists {duplicate} twice")
    for path in sorted(course.notebooks_dir.glob("*.ipynb")):
        problems += check_notebook(course, path)
    if course.solutions_dir.exists():
        for path in sorted(course.solutions_dir.glob("*.ipynb")):
            problems += check_notebook(course, path, solutions=True)
            if not (course.notebooks_dir / path.name.replace("_solutions", "")).exists():
                problems.append(f"{path.name}: there is no notebook it solves")
    for rel, timing in sorted(course.timings.items()):
        peak = peak_mb(timing)
        if peak is not None and peak > MEMORY_BUDGET_MB and (course.root / rel).exists():
            problems.append(
                f"{rel}: peak memory {peak:,.0f} MB is over the {MEMORY_BUDGET_MB:,} MB budget (Binder's "
                "2 GB minus the Jupyter server); stream batches, use smaller dtypes or one worker, free "
                "what a cell no longer needs, then measure again"
            )
    stray = [p.name for p in course.root.glob("*.ipynb")]
    problems += [f"{name}: notebooks belong in notebooks/ or solutions/" for name in stray]
    readme = course.root / "README.md"
    if readme.exists():
        text = readme.read_text()
        try:
            if replace_course_map(text, course_map_markdown(course)) != text:
                problems.append("README.md: the course map is stale; run `python -m speechlm course headers`")
        except ValueError as exc:
            problems.append(f"README.md: {exc}")
    return problems + check_zh_edition(course) + glossary_problems(course)
