"""An exercise and the result of checking it (the records of :mod:`speechlm.exercises`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CheckResult", "Exercise"]


@dataclass(frozen=True)
class Exercise:
    """One exercise.

    ``cases(rng)`` yields tuples of positional arguments for the learner's
    function; ``reference`` computes the expected answer from the same
    arguments; ``compare(got, expected)`` returns ``None`` when they agree, or
    a short message saying what was expected and what came back, for any
    ``got`` (default: :func:`allclose`; see ``speechlm.exercises.comparisons``).
    It sees a torch answer as NumPy; should it raise, :func:`check` reports a
    failed case instead. ``hints`` are graded, at least two: a nudge first,
    then the idea (the maths or the reasoning), in prose, never the code.
    ``prompt_zh`` and ``hints_zh`` are the Chinese edition's prompt and hints (both or neither,
    as many hints as ``hints``), printed when the language is ``"zh"``.
    """

    id: str
    prompt: str
    reference: Callable[..., Any]
    cases: Callable[[np.random.Generator], Iterable[tuple]]
    hints: tuple[str, ...]
    compare: Callable[[Any, Any], str | None] = field(default=None)  # type: ignore[assignment]
    seed: int = 1234
    prompt_zh: str | None = None
    hints_zh: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.hints, str) or len(self.hints) < 2:
            raise ValueError(
                f"exercise {self.id!r}: hints must be a sequence of at least two strings, a nudge first "
                f"and then the idea, got {self.hints!r}"
            )
        if not all(isinstance(h, str) and h.strip() for h in self.hints):
            raise ValueError(f"exercise {self.id!r}: every hint must be a non-empty string")
        object.__setattr__(self, "hints", tuple(h.strip() for h in self.hints))
        if (self.prompt_zh is None) != (self.hints_zh is None):
            raise ValueError(
                f"exercise {self.id!r}: give both prompt_zh and hints_zh (the Chinese prompt and hints), "
                "or neither"
            )
        if self.prompt_zh is None:
            return
        if not isinstance(self.prompt_zh, str) or not self.prompt_zh.strip():
            raise ValueError(f"exercise {self.id!r}: prompt_zh must be a non-empty string")
        if isinstance(self.hints_zh, str) or len(self.hints_zh) != len(self.hints):
            raise ValueError(
                f"exercise {self.id!r}: hints_zh must translate the {len(self.hints)} hints one by one, "
                f"got {self.hints_zh!r}"
            )
        if not all(isinstance(h, str) and h.strip() for h in self.hints_zh):
            raise ValueError(f"exercise {self.id!r}: every hint in hints_zh must be a non-empty string")
        object.__setattr__(self, "hints_zh", tuple(h.strip() for h in self.hints_zh))


@dataclass
class CheckResult:
    """The outcome of :func:`check`; truthy when every hidden case passed."""

    exercise: str
    passed: int
    total: int
    message: str

    def __bool__(self) -> bool:
        return self.total > 0 and self.passed == self.total

    def __repr__(self) -> str:
        return f"CheckResult({self.exercise!r}, passed={self.passed}/{self.total})"
