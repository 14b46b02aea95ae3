"""The course as data: the notebooks of ``notebooks/course.toml``, their measured timings, the repository.

:func:`load_course` reads ``pyproject.toml`` (the repository's address, for the install line and
the Colab and Binder links), ``notebooks/course.toml`` (one :class:`NotebookMeta` per notebook) and
``notebooks/timings.json`` (what ``python -m speechlm course time`` measured, see
:mod:`speechlm.dev.timing`); :mod:`speechlm.dev.headers` writes from it and
:mod:`speechlm.dev.checks` checks against it.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["MEMORY_BUDGET_MB", "Course", "NotebookMeta", "find_root", "load_course", "peak_mb"]

MEMORY_BUDGET_MB = 1536  # one notebook's kernel and workers, leaving room for the server on Binder


@dataclass
class NotebookMeta:
    """One row of ``notebooks/course.toml``."""

    file: str
    title: str
    part: str
    topic: str
    summary: str
    objectives: list[str]
    prerequisites: list[str] = field(default_factory=list)
    cold: str = ""  # what its first run from an empty cache trains, shown beside the cold run time
    # The Chinese edition's header and course map (notebooks/zh/, README.zh.md): the fields above in Chinese.
    title_zh: str = ""
    summary_zh: str = ""
    topic_zh: str = ""
    objectives_zh: list[str] = field(default_factory=list)
    cold_zh: str = ""

    @property
    def number(self) -> str:
        return self.file[:2]

    @property
    def solutions_file(self) -> str:
        return self.file.replace(".ipynb", "_solutions.ipynb")


@dataclass
class Course:
    """The repository's notebooks, their metadata and their measured timings."""

    root: Path
    repository: str
    notebooks: list[NotebookMeta]
    timings: dict[str, dict]

    @property
    def notebooks_dir(self) -> Path:
        return self.root / "notebooks"

    @property
    def solutions_dir(self) -> Path:
        return self.root / "solutions"

    @property
    def zh_notebooks_dir(self) -> Path:
        """The Chinese edition's notebooks (same file names as the English ones)."""
        return self.notebooks_dir / "zh"

    @property
    def zh_solutions_dir(self) -> Path:
        return self.solutions_dir / "zh"

    def existing(self) -> list[NotebookMeta]:
        """Entries whose notebook exists (the others are plans)."""
        return [m for m in self.notebooks if (self.notebooks_dir / m.file).exists()]

    def meta_for(self, number: str) -> NotebookMeta | None:
        return next((m for m in self.notebooks if m.number == number), None)

    def github_path(self) -> str:
        """``owner/name`` of the repository on GitHub."""
        match = re.match(r"https://github\.com/([^/]+/[^/]+?)(?:\.git)?/?$", self.repository)
        if not match:
            raise ValueError(f"project.urls.Repository must be a GitHub URL, got {self.repository!r}")
        return match.group(1)

    def colab_url(self, rel_path: str) -> str:
        return f"https://colab.research.google.com/github/{self.github_path()}/blob/main/{rel_path}"

    def binder_url(self, rel_path: str) -> str:
        return f"https://mybinder.org/v2/gh/{self.github_path()}/HEAD?labpath={rel_path}"

    def install_source(self) -> str:
        return f"git+{self.repository.rstrip('/')}.git"


def find_root(start: Path | None = None) -> Path:
    """The repository root: the nearest folder above ``start`` with
    ``pyproject.toml`` and ``notebooks/course.toml``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").exists() and (folder / "notebooks" / "course.toml").exists():
            return folder
    raise FileNotFoundError(
        f"no course repository (pyproject.toml + notebooks/course.toml) at or above {here}; "
        "run this command inside a checkout of the course"
    )


def load_course(root: Path | None = None) -> Course:
    """Read ``pyproject.toml``, ``notebooks/course.toml`` and ``notebooks/timings.json``."""
    root = find_root(root)
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    try:
        repository = pyproject["project"]["urls"]["Repository"]
    except KeyError:
        raise KeyError("pyproject.toml has no [project.urls] Repository; the setup cells need it") from None
    table = tomllib.loads((root / "notebooks" / "course.toml").read_text())
    notebooks = []
    for row in table.get("notebook", []):
        try:
            notebooks.append(NotebookMeta(**row))
        except TypeError as exc:
            raise ValueError(f"notebooks/course.toml: bad entry {row.get('file', row)!r}: {exc}") from None
    timings_path = root / "notebooks" / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    for entry in timings.values():  # records before cold/warm were told apart were warm runs
        if "seconds" in entry:
            entry.setdefault("warm_s", entry.pop("seconds"))
    return Course(root, repository, notebooks, timings)


def peak_mb(timing: dict) -> float | None:
    """The highest peak memory recorded for a notebook, cold or warm (MB, kernel plus workers, PSS)."""
    peaks = [timing[key] for key in ("cold_peak_mb", "warm_peak_mb") if key in timing]
    return max(peaks) if peaks else None
