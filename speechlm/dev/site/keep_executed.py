"""A pytest plugin that keeps every notebook nbval executes, outputs included.

The suite executes each notebook and solution once with nbval; the course
website (:mod:`speechlm.dev.site`) is built from those runs instead of executing
anything a second time. With this plugin loaded (``pytest_plugins =
["speechlm.dev.site.keep_executed"]`` in ``conftest.py``), a notebook whose cells
all ran is written, source cells plus the outputs nbval collected, to
``build/executed/<notebooks|solutions>/<name>.ipynb``; a notebook with a
failed cell (or cells not run) is written too, marked incomplete in its
metadata, so that the site build can say which ones to fix.

The kernels nbval starts get matplotlib's inline backend (the repository's
conftest sets ``MPLBACKEND=Agg`` for the test process, and under Agg a kernel
keeps no figures): ``SPEECHLM_KERNEL_MPLBACKEND`` overrides it, and an empty
value leaves the kernels' backend alone.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import nbformat
import pytest

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
KERNEL_BACKEND_ENV = "SPEECHLM_KERNEL_MPLBACKEND"
EXECUTED_DIR = Path("build") / "executed"
STATUS_KEY = "speechlm_executed"  # notebook metadata written with each copy


def _is_nbval_cell(item) -> bool:
    return hasattr(item, "cell_num") and hasattr(item, "cell") and str(item.fspath).endswith(".ipynb")


class KeepExecuted:
    """Collects each nbval cell's outputs and writes the notebook when its last cell is done."""

    def __init__(self, root: Path):
        self.root = root
        self.outputs: dict[Path, dict[int, tuple[list, str]]] = {}

    def target(self, source: Path) -> Path:
        rel = source.resolve().relative_to(self.root)
        return self.root / EXECUTED_DIR / rel

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item):
        # nbval starts a notebook's kernel while setting up its first cell: give that kernel
        # the inline backend for the moment of its start only, leaving this process on Agg.
        backend = os.environ.get(KERNEL_BACKEND_ENV, INLINE_BACKEND)
        if not (_is_nbval_cell(item) and backend):
            yield
            return
        saved = os.environ.get("MPLBACKEND")
        os.environ["MPLBACKEND"] = backend
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop("MPLBACKEND", None)
            else:
                os.environ["MPLBACKEND"] = saved

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        if not _is_nbval_cell(item):
            return
        report = outcome.get_result()
        cells = self.outputs.setdefault(Path(str(item.fspath)), {})
        if report.when == "call" or (report.when == "setup" and not report.passed):
            state = "passed" if report.passed else ("skipped" if report.skipped else "failed")
            cells[item.cell_num] = (list(item.test_outputs or []), state)

    def pytest_runtest_teardown(self, item, nextitem):
        if not _is_nbval_cell(item):
            return
        path = Path(str(item.fspath))
        if nextitem is not None and Path(str(nextitem.fspath)) == path:
            return
        self.write(item.parent.nb, path)

    def write(self, source_nb, path: Path) -> Path | None:
        """Write ``path``'s source cells with the outputs collected for them."""
        cells = self.outputs.pop(path, {})
        try:
            target = self.target(path)
        except ValueError:  # a notebook outside the repository: not part of the course
            return None
        nb = copy.deepcopy(source_nb)
        code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
        states = []
        for number, cell in enumerate(code_cells):
            outputs, state = cells.get(number, ([], "not run"))
            cell.outputs = [nbformat.from_dict(dict(output)) for output in outputs]
            for output in cell.outputs:
                if output.output_type == "execute_result":
                    output.setdefault("execution_count", number + 1)
                    output.setdefault("metadata", {})
                elif output.output_type == "display_data":
                    output.setdefault("metadata", {})
            cell.execution_count = number + 1 if state == "passed" else None
            states.append(state)
        # A cell marked NBVAL_SKIP is skipped on purpose: its page shows it without output.
        problems = {f"cell {n}": s for n, s in enumerate(states) if s not in ("passed", "skipped")}
        nb.metadata[STATUS_KEY] = {"complete": not problems, "problems": problems}
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        nbformat.write(nb, partial)
        partial.replace(target)
        return target


def pytest_configure(config):
    if not config.pluginmanager.has_plugin("speechlm-keep-executed"):
        plugin = KeepExecuted(Path(str(config.rootpath)).resolve())
        config.pluginmanager.register(plugin, "speechlm-keep-executed")
