"""The language the exercises speak: English or Simplified Chinese (the Chinese edition, ``notebooks/zh/``).

``speechlm.setup(language="zh")`` (the setup cell of every Chinese notebook) calls
:func:`set_language`; from then on :func:`speechlm.exercises.show`, ``check`` and ``hint`` print an
exercise's ``prompt_zh`` and ``hints_zh`` and the checker's own phrases in Chinese. :func:`say` picks
one of the two wordings of a message, so that every English message stays written out in full next
to its Chinese one.
"""

from __future__ import annotations

__all__ = ["LANGUAGES", "get_language", "say", "set_language"]

LANGUAGES = ("en", "zh")
_current = {"language": "en"}


def set_language(language: str) -> None:
    """Make the exercises speak ``language``: ``"en"`` (English) or ``"zh"`` (Simplified Chinese)."""
    if language not in LANGUAGES:
        raise ValueError(
            f"language must be 'en' (English) or 'zh' (Simplified Chinese, the notebooks in notebooks/zh/), "
            f"got {language!r}"
        )
    _current["language"] = language


def get_language() -> str:
    """The language set by :func:`set_language` (``"en"`` until then)."""
    return _current["language"]


def say(en: str, zh: str) -> str:
    """``en`` or ``zh``, whichever the current language is."""
    return zh if _current["language"] == "zh" else en
