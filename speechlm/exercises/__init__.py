"""Exercises with automatic checkers and graded hints (the mechanism; introduced in notebook 00).

Each exercise has an id (``"03.lifter"``: notebook number, then a short name),
a prompt, a reference solution kept in the package, hidden test cases drawn
from a seeded generator, and graded hints: a nudge first, then the idea (the
maths or the reasoning), never the code. A notebook shows the prompt, the
learner writes a function, and :func:`check` runs it on the hidden cases::

    from speechlm import exercises
    exercises.show("00.db")
    def power_to_db(power): ...
    exercises.check("00.db", power_to_db)
    exercises.hint("00.db")  # the next hint, one more per call

Nothing is given away before an attempt: an unfinished function (one that
raises ``NotImplementedError`` or returns ``None`` or ``...``) prints one
``[fail] ... not yet`` line and no hint. A real attempt that fails prints a
``[fail]`` line that names the failing case's input, what was expected and
what came back, then the first hint and how to ask for the next one;
:func:`hint` prints the hints one by one, on request (it keeps count per
exercise for the session). ``check`` never raises because of the learner's
code: a function that raises, and any returned value that is not the answer
(a string for a number, an array for a number, a generator, an object whose
``==`` raises...) is a failed case; the returned :class:`CheckResult` is
falsy. Worked solutions live in ``solutions/``, where the tests assert that
every check passes.

PyTorch answers count: a tensor (also one that requires grad, or on a GPU) is
detached, moved to the CPU and compared as the NumPy array it holds (a 0-d
tensor as a number), also inside a returned list, tuple or dict. So a learner
who writes an exercise in torch passes when the values are right; a float32
answer to a check with a float64 tolerance fails with a note about the dtype.

The exercises themselves are registered by the modules ``speechlm.exercises.nbNN``
(one per notebook), imported on first use.
"""

from __future__ import annotations

import copy
import importlib
import pkgutil
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from speechlm.exercises.comparisons import allclose, describe, equal, expected_kind

__all__ = [
    "CheckResult",
    "Exercise",
    "allclose",
    "check",
    "describe",
    "equal",
    "hint",
    "list_exercises",
    "register",
    "show",
]

_REGISTRY: dict[str, Exercise] = {}
_LOADED = False
# How many hints of each exercise this session has shown (a failed attempt shows the first).
_HINTS_SHOWN: dict[str, int] = {}


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
    """

    id: str
    prompt: str
    reference: Callable[..., Any]
    cases: Callable[[np.random.Generator], Iterable[tuple]]
    hints: tuple[str, ...]
    compare: Callable[[Any, Any], str | None] = field(default=None)  # type: ignore[assignment]
    seed: int = 1234

    def __post_init__(self) -> None:
        if isinstance(self.hints, str) or len(self.hints) < 2:
            raise ValueError(
                f"exercise {self.id!r}: hints must be a sequence of at least two strings, a nudge first "
                f"and then the idea, got {self.hints!r}"
            )
        if not all(isinstance(h, str) and h.strip() for h in self.hints):
            raise ValueError(f"exercise {self.id!r}: every hint must be a non-empty string")
        object.__setattr__(self, "hints", tuple(h.strip() for h in self.hints))


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


def _ask_for_more(ex: Exercise) -> str:
    shown = _HINTS_SHOWN.get(ex.id, 0)
    if shown < len(ex.hints):
        return f'(More help: exercises.hint("{ex.id}") shows hint {shown + 1} of {len(ex.hints)}.)'
    number = ex.id.split(".")[0]
    return f"(All {len(ex.hints)} hints are shown; the worked solution is in solutions/{number}_*.ipynb.)"


def hint(exercise_id: str) -> None:
    """Print the next hint of an exercise: the first on the first call (unless a failed
    :func:`check` has shown it already), then one more per call, then where the solution is."""
    ex = get(exercise_id)
    shown = _HINTS_SHOWN.get(ex.id, 0)
    if shown < len(ex.hints):
        _HINTS_SHOWN[ex.id] = shown + 1
        print(f"Hint {shown + 1} of {len(ex.hints)} for {ex.id}: {ex.hints[shown]}")
    print(_ask_for_more(ex))


def check(exercise_id: str, fn: Callable[..., Any], *, verbose: bool = True) -> CheckResult:
    """Run ``fn`` on the exercise's hidden cases and report pass or fail.

    Stops at the first failing case and prints what differed, for which input,
    then the first hint (and how to ask for the next: :func:`hint`); an
    unfinished ``fn`` (``NotImplementedError``, or returning ``None`` or
    ``...``) gets a short "not yet" line and no hint. Returns a
    :class:`CheckResult` (truthy when all cases pass). Raises only for the
    caller's mistakes (an unknown id, ``fn`` not callable), never for what
    ``fn`` does or returns.
    """
    ex = get(exercise_id)
    if not callable(fn):
        raise TypeError(f"check({exercise_id!r}, fn) needs a function, got {type(fn).__name__}")
    compare = ex.compare or allclose()
    cases = list(ex.cases(np.random.default_rng(ex.seed)))
    passed = 0
    message = ""
    attempted = True
    for index, args in enumerate(cases, start=1):
        expected = ex.reference(*_copy_args(args))
        where = f"case {index}/{len(cases)}"
        try:
            got = fn(*_copy_args(args))
        except NotImplementedError:
            message = "not yet: the function raises NotImplementedError; fill it in and run the check again."
            attempted = False
            break
        except Exception as exc:  # the learner's code: report, never crash the notebook
            error = traceback.format_exception_only(type(exc), exc)[-1].strip()
            message = f"{where} raised {error}, for the input ({_describe_args(args)})"
            break
        if got is None or got is Ellipsis:
            what = "nothing" if got is None else "... (Ellipsis)"
            message = f"not yet: the function returned {what} ({where}); it must return its answer."
            attempted = False
            break
        problem = _compare_safely(compare, got, expected)
        if problem is not None:
            message = f"{where} failed for the input ({_describe_args(args)}): {problem}"
            break
        passed += 1
    result = CheckResult(ex.id, passed, len(cases), message)
    if verbose:
        if result:
            print(f"[pass] {ex.id}: all {len(cases)} hidden cases passed.")
        elif not attempted:
            print(f'[fail] {ex.id}: {message} (Stuck? exercises.hint("{ex.id}") gives a hint.)')
        else:
            _HINTS_SHOWN[ex.id] = max(1, _HINTS_SHOWN.get(ex.id, 0))
            print(f"[fail] {ex.id}: {message}\nHint 1 of {len(ex.hints)}: {ex.hints[0]}\n{_ask_for_more(ex)}")
    return result


def _compare_safely(compare: Callable[[Any, Any], str | None], got: Any, expected: Any) -> str | None:
    """``compare(got, expected)`` on the answer with torch tensors made NumPy; a comparison that
    raises (on a value no checker foresaw) is a wrong answer, described by type and shape."""
    try:
        return compare(_from_torch(got), expected)
    except Exception as exc:
        reason = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return (
            f"expected {expected_kind(expected)}, got {describe(got)}, "
            f"which could not be compared with it ({reason})"
        )


def _from_torch(value: Any) -> Any:
    """Torch tensors in ``value`` (also inside lists, tuples and dicts) as NumPy arrays:
    detached, on the CPU, bfloat16 as float32; a 0-d tensor as a NumPy scalar."""
    torch = sys.modules.get("torch")
    if torch is None:  # the learner cannot have returned a tensor
        return value
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().resolve_conj().resolve_neg()
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.float()
        array = tensor.numpy()
        return array[()] if array.ndim == 0 else array
    if type(value) in (list, tuple):
        return type(value)(_from_torch(item) for item in value)
    if type(value) is dict:
        return {key: _from_torch(item) for key, item in value.items()}
    return value


def _describe_args(args: tuple) -> str:
    """The case's arguments, briefly: shapes and a few values."""
    return ", ".join(describe(arg, brief=True) for arg in args)


def _copy_args(args: tuple) -> tuple:
    """Copy the arguments (arrays, and lists of them) so that a function that edits them in place
    cannot change the next case or the reference."""
    return copy.deepcopy(args)
