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

In Chinese (``speechlm.setup(language="zh")``, the setup cell of every notebook in
``notebooks/zh/``, or :func:`set_language`) the same functions print an exercise's ``prompt_zh`` and
``hints_zh`` and the checker's own phrases in Chinese, and point to ``solutions/zh/``; an exercise
not translated yet is shown in English, with a note saying so the first time.

The exercises themselves are registered by the modules ``speechlm.exercises.nbNN``
(one per notebook), imported on first use.
"""

from __future__ import annotations

import importlib
import pkgutil
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from speechlm.exercises.answers import compare_safely, copy_args, describe_args
from speechlm.exercises.comparisons import allclose, describe, equal
from speechlm.exercises.exercise import CheckResult, Exercise
from speechlm.exercises.language import LANGUAGES, get_language, say, set_language

__all__ = [
    "LANGUAGES",
    "CheckResult",
    "Exercise",
    "allclose",
    "check",
    "describe",
    "equal",
    "get_language",
    "hint",
    "list_exercises",
    "register",
    "set_language",
    "show",
]

_REGISTRY: dict[str, Exercise] = {}
_LOADED = False
# How many hints of each exercise this session has shown (a failed attempt shows the first).
_HINTS_SHOWN: dict[str, int] = {}
# Exercises shown in English in a Chinese session (no translation yet): the note is printed once.
_FALLBACK_NOTED: set[str] = set()


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


def _prompt_and_hints(ex: Exercise) -> tuple[str, tuple[str, ...]]:
    """The exercise's prompt and hints in the current language: in Chinese, its translation, or
    the English with a note (the first time only) where it has none yet."""
    if get_language() != "zh":
        return ex.prompt.strip(), ex.hints
    if ex.prompt_zh is not None:
        return ex.prompt_zh.strip(), ex.hints_zh
    if ex.id in _FALLBACK_NOTED:
        return ex.prompt.strip(), ex.hints
    _FALLBACK_NOTED.add(ex.id)
    print(f"（练习 {ex.id} 还没有中文版，下面用英文原文。）")
    return ex.prompt.strip(), ex.hints


def show(exercise_id: str) -> None:
    """Print an exercise's prompt."""
    ex = get(exercise_id)
    prompt, _ = _prompt_and_hints(ex)
    print(say(f"Exercise {ex.id}\n{prompt}", f"练习 {ex.id}\n{prompt}"))


def _ask_for_more(ex: Exercise) -> str:
    shown = _HINTS_SHOWN.get(ex.id, 0)
    total = len(ex.hints)
    if shown < total:
        return say(
            f'(More help: exercises.hint("{ex.id}") shows hint {shown + 1} of {total}.)',
            f'（更多帮助：exercises.hint("{ex.id}") 显示第 {shown + 1} 条提示，共 {total} 条。）',
        )
    number = ex.id.split(".")[0]
    return say(
        f"(All {total} hints are shown; the worked solution is in solutions/{number}_*.ipynb.)",
        f"（{total} 条提示已全部显示；参考解答在 solutions/zh/{number}_*.ipynb 中。）",
    )


def hint(exercise_id: str) -> None:
    """Print the next hint of an exercise: the first on the first call (unless a failed
    :func:`check` has shown it already), then one more per call, then where the solution is."""
    ex = get(exercise_id)
    shown = _HINTS_SHOWN.get(ex.id, 0)
    if shown < len(ex.hints):
        _, hints = _prompt_and_hints(ex)
        _HINTS_SHOWN[ex.id] = shown + 1
        total = len(hints)
        print(
            say(
                f"Hint {shown + 1} of {total} for {ex.id}: {hints[shown]}",
                f"{ex.id} 的提示 {shown + 1}/{total}：{hints[shown]}",
            )
        )
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
        expected = ex.reference(*copy_args(args))
        where = say(f"case {index}/{len(cases)}", f"第 {index}/{len(cases)} 个用例")
        try:
            got = fn(*copy_args(args))
        except NotImplementedError:
            message = say(
                "not yet: the function raises NotImplementedError; fill it in and run the check again.",
                "还没完成：函数抛出了 NotImplementedError；把它写完，再运行一次检查。",
            )
            attempted = False
            break
        except Exception as exc:  # the learner's code: report, never crash the notebook
            error = traceback.format_exception_only(type(exc), exc)[-1].strip()
            inputs = describe_args(args)
            message = say(
                f"{where} raised {error}, for the input ({inputs})",
                f"{where}抛出了 {error}，输入为（{inputs}）",
            )
            break
        if got is None or got is Ellipsis:
            what = say("nothing", "None（没有返回值）") if got is None else "... (Ellipsis)"
            message = say(
                f"not yet: the function returned {what} ({where}); it must return its answer.",
                f"还没完成：函数返回了 {what}（{where}）；它必须返回答案。",
            )
            attempted = False
            break
        problem = compare_safely(compare, got, expected)
        if problem is not None:
            inputs = describe_args(args)
            message = say(
                f"{where} failed for the input ({inputs}): {problem}",
                f"{where}未通过，输入为（{inputs}）：{problem}",
            )
            break
        passed += 1
    result = CheckResult(ex.id, passed, len(cases), message)
    if verbose:
        _report(ex, result, message, attempted)
    return result


def _report(ex: Exercise, result: CheckResult, message: str, attempted: bool) -> None:
    """Print the outcome of :func:`check`: a ``[pass]`` line, or a ``[fail]`` line with, after a real
    attempt, the first hint and how to ask for the next."""
    if result:
        print(
            say(
                f"[pass] {ex.id}: all {result.total} hidden cases passed.",
                f"[通过] {ex.id}：全部 {result.total} 个隐藏用例都通过了。",
            )
        )
    elif not attempted:
        print(
            say(
                f'[fail] {ex.id}: {message} (Stuck? exercises.hint("{ex.id}") gives a hint.)',
                f'[未通过] {ex.id}：{message}（卡住了？exercises.hint("{ex.id}") 会给你一条提示。）',
            )
        )
    else:
        _, hints = _prompt_and_hints(ex)
        _HINTS_SHOWN[ex.id] = max(1, _HINTS_SHOWN.get(ex.id, 0))
        first = say(f"Hint 1 of {len(hints)}: {hints[0]}", f"提示 1/{len(hints)}：{hints[0]}")
        print(
            say(f"[fail] {ex.id}: {message}", f"[未通过] {ex.id}：{message}")
            + f"\n{first}\n{_ask_for_more(ex)}"
        )
