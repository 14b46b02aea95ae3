"""The course's glossary: ``docs/glossary.toml``, rendered to ``docs/glossary.md`` and enforced in Chinese.

``docs/glossary.toml`` holds one ``[[term]]`` table per term: ``en`` (the English term), ``zh`` (its
rendering in the Chinese edition), ``definition`` (one line, in Chinese) and ``notebook`` (the
two-digit number of the notebook that introduces it). :func:`write_glossary` (part of ``python -m
speechlm course headers``) renders it as one table ordered by notebook; :func:`glossary_problems`
checks the file and that the rendering is current.

The glossary rule of the sync check (:func:`missing_terms`), for a Chinese markdown cell and the
English cell it translates:

1. Terms whose ``en`` has fewer than :data:`MIN_LETTERS` letters (``CTC``, ``WER``) are skipped:
   as words they are too short to match without false hits.
2. The English cell is read without its code (fenced blocks and inline code), math (``$...$``,
   ``$$...$$``), HTML tags, link targets and URLs, and without the italic spans (``*...*``,
   ``_..._``) and link texts (``[...]``) that the Chinese cell repeats verbatim: titles kept in
   English, as in a citation.
3. A term occurs in it where its ``en`` matches as whole words, ignoring case: the words of ``en``
   separated by any whitespace (a line break too), optionally followed by a plural ``s`` or ``es``,
   with no letter, digit, underscore or hyphen directly before or after.
4. Longer terms are matched first and the text they match is removed, so ``attention`` is not
   counted again inside ``multi-head attention``.
5. Such a term must appear in the Chinese cell as one of its renderings: ``zh``, or each of the
   alternatives it lists separated by ``/`` ``、`` ``；`` or ``;``, each without a trailing
   parenthesis; compared ignoring whitespace and the case of Latin letters.
6. A cell may exempt terms by listing their ``en`` in its metadata ``speechlm_zh.glossary_exempt``
   (a deliberate other rendering in that one place).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from speechlm.dev.course import Course, tomllib

__all__ = [
    "GLOSSARY_MD",
    "GLOSSARY_TOML",
    "MIN_LETTERS",
    "Term",
    "glossary_markdown",
    "glossary_problems",
    "load_glossary",
    "missing_terms",
    "write_glossary",
]

GLOSSARY_TOML = Path("docs") / "glossary.toml"
GLOSSARY_MD = Path("docs") / "glossary.md"
MIN_LETTERS = 4
FIELDS = ("en", "zh", "definition", "notebook")

_NOT_PROSE = re.compile(
    r"```.*?```"  # fenced code
    r"|`[^`\n]*`"  # inline code
    r"|\$\$.*?\$\$"  # display math
    r"|\$[^$\n]+\$"  # inline math
    r"|<[^>\n]+>"  # HTML tags
    r"|\]\([^)\s]*\)"  # link targets
    r"|https?://\S+",  # bare URLs
    re.DOTALL,
)
_TITLES = re.compile(r"\*([^*\n]+)\*|(?<!\w)_([^_\n]+)_(?!\w)|\[([^\]\n]+)\]")
_ALTERNATIVES = re.compile(r"\s*[/／、；;]\s*")
_TRAILING_PARENTHESIS = re.compile(r"\s*[（(][^（()）]*[)）]\s*$")


@dataclass(frozen=True)
class Term:
    """One ``[[term]]`` of ``docs/glossary.toml``."""

    en: str
    zh: str
    definition: str
    notebook: str

    @property
    def pattern(self) -> re.Pattern:
        """The whole-word, case-insensitive pattern of ``en`` (rule 3 of the module's docstring)."""
        words = r"\s+".join(re.escape(word) for word in self.en.split())
        return re.compile(rf"(?<![\w-]){words}(?:e?s)?(?![\w-])", re.IGNORECASE)

    @property
    def renderings(self) -> list[str]:
        """The accepted Chinese renderings, normalised (rule 5)."""
        parts = [_TRAILING_PARENTHESIS.sub("", part) for part in _ALTERNATIVES.split(self.zh)]
        return [_normalise(part) for part in parts if part.strip()]


def _normalise(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def prose(markdown: str) -> str:
    """A markdown cell's text without code, math, HTML tags, link targets and URLs (rule 2)."""
    return _NOT_PROSE.sub(" ", markdown)


def load_glossary(root: Path) -> tuple[list[Term], list[str]]:
    """The terms of ``docs/glossary.toml`` under ``root`` and what is wrong with its entries
    (``[], []`` when there is no glossary)."""
    path = root / GLOSSARY_TOML
    if not path.exists():
        return [], []
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        return [], [f"{GLOSSARY_TOML}: not valid TOML ({exc})"]
    terms, problems = [], []
    for index, row in enumerate(table.get("term", []), start=1):
        missing = [key for key in FIELDS if not isinstance(row.get(key), str) or not row[key].strip()]
        if missing:
            problems.append(
                f"{GLOSSARY_TOML}: term {index} ({row.get('en', '?')!r}) lacks {', '.join(missing)}"
            )
            continue
        terms.append(Term(*(row[key].strip() for key in FIELDS)))
    return terms, problems


def missing_terms(english: str, chinese: str, terms: list[Term], exempt: list[str] = ()) -> list[Term]:
    """The glossary terms that the English markdown ``english`` uses and its translation ``chinese``
    does not render as the glossary does (the rules of the module's docstring)."""

    def title_kept(match: re.Match) -> str:
        return " " if next(g for g in match.groups() if g is not None) in chinese else match.group(0)

    text = _TITLES.sub(title_kept, prose(english))
    found = []
    for term in sorted(terms, key=lambda t: len(t.en), reverse=True):
        if sum(ch.isalpha() for ch in term.en) < MIN_LETTERS:
            continue
        text, count = term.pattern.subn("\0", text)
        if count:
            found.append(term)
    skip = {e.lower() for e in exempt}
    zh = _normalise(chinese)
    return [t for t in found if t.en.lower() not in skip and not any(r and r in zh for r in t.renderings)]


def glossary_markdown(course: Course, terms: list[Term]) -> str:
    """``docs/glossary.md``: one table, ordered by the notebook that introduces each term."""
    rows = [
        "# 术语表 · Glossary",
        "",
        "<!-- generated by `python -m speechlm course headers` from docs/glossary.toml: edit that file -->",
        "",
        "课程术语的中英对照，按首次引入该术语的笔记本排序。中文版笔记本（`notebooks/zh/`）统一采用这里的"
        "译法：`python -m speechlm course check` 会指出英文原文用了某个术语、译文却没有用它的译法的单元。",
        "",
        "The course's terms in English and Chinese, ordered by the notebook that introduces them (its "
        "number, as in the course map of README.md); the Chinese notebooks use these renderings, and "
        "`python -m speechlm course check` enforces them.",
        "",
        "| 笔记本 | English | 中文 | 定义 |",
        "|---|---|---|---|",
    ]
    order = {meta.number: index for index, meta in enumerate(course.notebooks)}
    for term in sorted(terms, key=lambda t: order.get(t.notebook, len(order))):
        cells = [term.notebook, term.en, term.zh, term.definition]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def write_glossary(course: Course) -> Path | None:
    """Render ``docs/glossary.md`` from ``docs/glossary.toml``; the path when it changed."""
    terms, _ = load_glossary(course.root)
    if not (course.root / GLOSSARY_TOML).exists():
        return None
    path = course.root / GLOSSARY_MD
    text = glossary_markdown(course, terms)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return None
    path.write_text(text, encoding="utf-8")
    return path


def glossary_problems(course: Course) -> list[str]:
    """What is wrong with ``docs/glossary.toml`` (missing fields, a notebook number not in the course,
    a term listed twice) and whether ``docs/glossary.md`` renders it as it is now."""
    terms, problems = load_glossary(course.root)
    if not (course.root / GLOSSARY_TOML).exists():
        return problems
    numbers = {meta.number for meta in course.notebooks}
    seen: set[str] = set()
    for term in terms:
        if term.notebook not in numbers:
            problems.append(
                f"{GLOSSARY_TOML}: {term.en!r} names notebook {term.notebook!r}, not a two-digit notebook "
                "number of notebooks/course.toml"
            )
        if term.en.lower() in seen:
            problems.append(f"{GLOSSARY_TOML}: {term.en!r} is listed twice")
        seen.add(term.en.lower())
    md = course.root / GLOSSARY_MD
    if not md.exists() or md.read_text(encoding="utf-8") != glossary_markdown(course, terms):
        problems.append(f"{GLOSSARY_MD}: stale or edited by hand; run `python -m speechlm course headers`")
    return problems
