"""Exercises with automatic checkers (the mechanism; introduced in notebook 00).

Each exercise has an id (``"03.lifter"``: notebook number, then a short name),
a prompt, a reference solution kept in the package, hidden test cases drawn
from a seeded generator, and a hint. A notebook shows the prompt, the learner
writes a function, and :func:`check` runs it on the hidden cases::

    from speechlm import exercises
    exercises.show("00.db")
    def power_to_db(power): ...
    exercises.check("00.db", power_to_db)

``check`` never raises because of the learner's code: an unfinished function
(``...`` or ``NotImplementedError``) or a wrong answer prints what failed and
the hint, and the returned :class:`CheckResult` is falsy. Worked solutions
live in ``solutions/``, where the tests assert that every check passes.

The exercises themselves are registered by the modules ``speechlm.exercises.nbNN``
(one per notebook), imported on first use.
"""

from __future__ import annotations

import importlib
import pkgutil
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CheckResult", "Exercise", "check", "list_exercises", "register", "show"]

_REGISTRY: dict[str, Exercise] = {}
_LOADED = False


@dataclass(frozen=True)
class Exercise:
    """One exercise.

    ``cases(rng)`` yields tuples of positional arguments for the learner's
    function; ``reference`` computes the expected answer from the same
    arguments; ``compare(got, expected)`` returns ``None`` when they agree, or
    a short message saying how they differ (default: :func:`allclose`).
    """

    id: str
    prompt: str
    reference: Callable[..., Any]
    cases: Callable[[np.random.Generator], Iterable[tuple]]
    hint: str
    compare: Callable[[Any, Any], str | None] = field(default=None)  # type: ignore[assignment]
    seed: int = 1234


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


def allclose(rtol: float = 1e-5, atol: float = 1e-8) -> Callable[[Any, Any], str | None]:
    """A comparison for numbers and arrays: same shape, values within tolerance."""

    def compare(got: Any, expected: Any) -> str | None:
        try:
            got_arr = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            return f"expected a number or an array, got {type(got).__name__}"
        exp_arr = np.asarray(expected, dtype=float)
        if got_arr.shape != exp_arr.shape:
            return f"expected shape {exp_arr.shape}, got shape {got_arr.shape}"
        if not np.allclose(got_arr, exp_arr, rtol=rtol, atol=atol, equal_nan=True):
            err = float(np.max(np.abs(got_arr - exp_arr)))
            return f"values differ from the expected ones (max abs difference {err:.3g})"
        return None

    return compare


def equal(got: Any, expected: Any) -> str | None:
    """A comparison for exact answers (strings, integers, lists of them)."""
    if isinstance(expected, np.ndarray):
        return None if np.array_equal(np.asarray(got), expected) else f"expected {expected!r}, got {got!r}"
    return None if got == expected else f"expected {expected!r}, got {got!r}"


def register(exercise: Exercise) -> Exercise:
    """Add an exercise to the registry (ids are unique)."""
    if exercise.id in _REGISTRY and _REGISTRY[exercise.id] is not exercise:
        raise ValueError(f"exercise id {exercise.id!r} is registered twice")
    _REGISTRY[exercise.id] = exercise
    return exercise


def _load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("nb"):
            importlib.import_module(f"{__name__}.{module.name}")
    _LOADED = True


def get(exercise_id: str) -> Exercise:
    """Look an exercise up by id, with a helpful error for an unknown id."""
    _load_all()
    try:
        return _REGISTRY[exercise_id]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise KeyError(f"no exercise {exercise_id!r}; known exercises: {known}") from None


def list_exercises(notebook: str | None = None) -> list[str]:
    """Ids of all exercises, or of those of one notebook (``"03"``)."""
    _load_all()
    return sorted(i for i in _REGISTRY if notebook is None or i.split(".")[0] == notebook)


def show(exercise_id: str) -> None:
    """Print an exercise's prompt."""
    ex = get(exercise_id)
    print(f"Exercise {ex.id}\n{ex.prompt.strip()}")


def check(exercise_id: str, fn: Callable[..., Any], *, verbose: bool = True) -> CheckResult:
    """Run ``fn`` on the exercise's hidden cases and report pass or fail.

    Stops at the first failing case and prints what differed plus the hint.
    Returns a :class:`CheckResult` (truthy when all cases pass).
    """
    ex = get(exercise_id)
    if not callable(fn):
        raise TypeError(f"check({exercise_id!r}, fn) needs a function, got {type(fn).__name__}")
    compare = ex.compare or allclose()
    cases = list(ex.cases(np.random.default_rng(ex.seed)))
    passed = 0
    message = ""
    for index, args in enumerate(cases, start=1):
        expected = ex.reference(*_copy_args(args))
        try:
            got = fn(*_copy_args(args))
        except NotImplementedError:
            message = "not yet: the function raises NotImplementedError; fill it in and run the check again."
            break
        except Exception as exc:  # the learner's code: report, never crash the notebook
            where = traceback.format_exception_only(type(exc), exc)[-1].strip()
            message = f"case {index}/{len(cases)} raised {where}"
            break
        if got is None or got is Ellipsis:
            message = "not yet: the function returned nothing; it must return its answer."
            break
        problem = compare(got, expected)
        if problem is not None:
            message = f"case {index}/{len(cases)} failed: {problem}"
            break
        passed += 1
    result = CheckResult(ex.id, passed, len(cases), message)
    if verbose:
        if result:
            print(f"[pass] {ex.id}: all {len(cases)} hidden cases passed.")
        else:
            print(f"[fail] {ex.id}: {message}\nHint: {ex.hint.strip()}")
    return result


def _copy_args(args: tuple) -> tuple:
    """Copy array arguments so that a function that edits them in place cannot
    change the next case or the reference."""
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
