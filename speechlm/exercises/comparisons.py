"""How the exercise checkers compare a learner's answer with the expected one (notebook 00).

Every comparison returns ``None`` when the answer is right, or one line that
says what was expected and what came back ("expected a single number (float),
got an array of shape (3,) and dtype float64, values [1, 2, 3]"); none of them
raises, whatever the learner's function returned. :func:`~speechlm.exercises.describe.describe` (in
:mod:`speechlm.exercises.describe`) writes the short description of a value that these messages (and
:func:`speechlm.exercises.check`) use. Each message is written out in English and in Chinese
(:func:`speechlm.exercises.language.say` picks the one of the current language).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from speechlm.exercises.describe import _SHORT, _is_bool, _is_int, _is_real, _item, describe, expected_kind
from speechlm.exercises.language import say

__all__ = ["allclose", "describe", "equal", "expected_kind"]


def _spaced(text: str) -> str:
    """``text`` after a Chinese word: with a space before it unless it starts with a CJK character."""
    return text if text[:1] >= "\u2e80" else f" {text}"


def _mismatch(want: str, got: str, en_tail: str = "", zh_tail: str = "") -> str:
    """ "expected <want>, got <got>" (then ``en_tail``), or its Chinese (then ``zh_tail``)."""
    return say(
        f"expected {want}, got {got}{en_tail}", f"应为{_spaced(want)}，实际得到{_spaced(got)}{zh_tail}"
    )


_NOT_NUMBERS = (", which is not a number or an array of numbers", "，它既不是数，也不是数的数组")


def _as_number_array(got: Any, want: str, complex_ok: bool) -> tuple[np.ndarray | None, str | None]:
    """``got`` as a float (or complex) array, or ``None`` and what is wrong with it."""
    if isinstance(got, str | bytes | dict | set) or isinstance(got, Iterator):
        return None, _mismatch(want, describe(got))
    try:
        array = np.asarray(got)
    except Exception:
        return None, _mismatch(want, describe(got), *_NOT_NUMBERS)
    if array.dtype.kind == "c" and not complex_ok:
        came = describe(got)
        return None, say(
            f"expected {want} with real values, got complex values ({came}): take .real",
            f"应为实数值的{want}，实际得到复数值（{came}）：取 .real",
        )
    if array.dtype.kind not in "biufc":
        try:
            if array.dtype.kind in "USVMm":
                raise TypeError(array.dtype)
            array = array.astype(complex if complex_ok else float)
        except Exception:
            return None, _mismatch(want, describe(got), *_NOT_NUMBERS)
    return array, None


def allclose(rtol: float = 1e-5, atol: float = 1e-8) -> Callable[[Any, Any], str | None]:
    """A comparison for numbers and arrays (real or complex): same shape, values within tolerance.

    A 0-d array or a NumPy scalar counts as a number, a list of numbers as an
    array; a string, a dict, a generator or complex values for a real answer
    are wrong answers, with a message saying so.
    """

    def compare(got: Any, expected: Any) -> str | None:
        exp = np.asarray(expected)
        complex_ok = exp.dtype.kind == "c"
        exp = exp.astype(complex if complex_ok else float)
        if exp.ndim == 0:
            want = say("a single number (float)", "单个数（float）")
        else:
            want = say(f"an array of shape {exp.shape}", f"形状为 {exp.shape} 的数组")
        got_arr, problem = _as_number_array(got, want, complex_ok)
        if problem is not None:
            return problem
        if exp.ndim == 0 and got_arr.ndim > 0:
            if got_arr.size == 1:
                fix = say("take it out with .item()", "用 .item() 把它取出来")
            else:
                fix = say("is a sum or a mean missing?", "是不是漏了求和或求平均？")
            return _mismatch(want, describe(got_arr), f": {fix}", f"：{fix}")
        if exp.ndim > 0 and got_arr.ndim == 0:
            number = got_arr.item()
            return say(
                f"expected {want}, got a single number ({number!r}): return one value per element",
                f"应为{want}，实际得到单个数（{number!r}）：每个元素都要返回一个值",
            )
        if got_arr.shape != exp.shape:
            transposed = got_arr.shape == exp.shape[::-1]
            return say(
                f"expected shape {exp.shape}, got shape {got_arr.shape}"
                + ("; is it transposed?" * transposed),
                f"应为形状 {exp.shape}，实际得到形状 {got_arr.shape}" + ("；是不是转置了？" * transposed),
            )
        bad_kind = np.isfinite(exp) & ~np.isfinite(got_arr)
        if bad_kind.any() and exp.ndim == 0:
            return say(
                f"expected the finite number {exp.item()!r}, got {got_arr.item()!r}",
                f"应为有限数 {exp.item()!r}，实际得到 {got_arr.item()!r}",
            )
        if bad_kind.any():
            index = tuple(int(i) for i in np.argwhere(bad_kind)[0])
            bad, e, g = int(bad_kind.sum()), _item(exp, index), _item(got_arr, index)
            return say(
                f"got NaN or inf at {bad} of {exp.size} positions where the expected values "
                f"are finite (first at index {index}: expected {e!r}, got {g!r})",
                f"{exp.size} 个位置中有 {bad} 个得到 NaN 或 inf，而这些位置的期望值都是有限数"
                f"（第一个在索引 {index}：应为 {e!r}，实际得到 {g!r}）",
            )
        close = np.isclose(got_arr, exp, rtol=rtol, atol=atol, equal_nan=True)
        if close.all():
            return None
        with np.errstate(invalid="ignore"):
            err = float(np.max(np.where(close, 0.0, np.nan_to_num(np.abs(got_arr - exp), nan=np.inf))))
        index = tuple(int(i) for i in np.argwhere(~close)[0])
        if exp.ndim > 0:
            wrong, e, g = int((~close).sum()), _item(exp, index), _item(got_arr, index)
            where_en = (
                f" at {wrong} of {exp.size} positions; first at index {index}: expected {e!r}, got {g!r}"
            )
            where_zh = (
                f"：{exp.size} 个位置中有 {wrong} 个不同；第一个在索引 {index}：应为 {e!r}，实际得到 {g!r}"
            )
        else:
            e, g = exp.item(), got_arr.item()
            where_en, where_zh = f": expected {e!r}, got {g!r}", f"：应为 {e!r}，实际得到 {g!r}"
        message = say(
            f"values differ from the expected ones (max abs difference {err:.3g}){where_en}",
            f"数值与期望值不同（最大绝对误差 {err:.3g}）{where_zh}",
        )
        if got_arr.dtype in (np.float16, np.float32, np.complex64):
            message += say(
                f" (your answer is {got_arr.dtype}; compute in float64 for this tolerance)",
                f"（你的答案是 {got_arr.dtype}；要达到这个容差，请用 float64 计算）",
            )
        return message

    return compare


def _equal_arrays(got: Any, expected: np.ndarray) -> str | None:
    want = expected_kind(expected)
    if isinstance(got, str | bytes | dict | set) or isinstance(got, Iterator):
        return _mismatch(want, describe(got))
    try:
        array = np.asarray(got)
    except Exception:
        return _mismatch(want, describe(got))
    if array.dtype.kind not in "biufc":
        return _mismatch(want, describe(got))
    if array.shape != expected.shape:
        shape = expected.shape
        return _mismatch(say(f"an array of shape {shape}", f"形状为 {shape} 的数组"), describe(got))
    if expected.dtype.kind == "b" and array.dtype.kind != "b":
        return say(
            f"expected a bool array, got dtype {array.dtype}: use a comparison or .astype(bool)",
            f"应为布尔数组，实际得到 dtype {array.dtype}：请用比较运算或 .astype(bool)",
        )
    if expected.dtype.kind in "iu" and array.dtype.kind not in "iu":
        return say(
            f"expected an integer array, got dtype {array.dtype}: use .astype(int)",
            f"应为整数数组，实际得到 dtype {array.dtype}：请用 .astype(int)",
        )
    wrong = array != expected
    if not np.any(wrong):
        return None
    index = tuple(int(i) for i in np.argwhere(wrong)[0])
    count, e, g = int(np.sum(wrong)), _item(expected, index), _item(array, index)
    return say(
        f"{count} of {expected.size} values differ; first at index {index}: expected {e!r}, got {g!r}",
        f"{expected.size} 个值中有 {count} 个不同；第一个在索引 {index}：应为 {e!r}，实际得到 {g!r}",
    )


def _equal(got: Any, expected: Any, where: str) -> str | None:
    """``equal`` for the part ``where`` ("", "[0]", "[0][1]", "['key']") of the answer."""
    at = say(f"at {where}: ", f"在 {where} 处：") if where else ""
    if isinstance(expected, np.ndarray):
        problem = _equal_arrays(got, expected)
        return None if problem is None else at + problem
    want = expected_kind(expected)
    if isinstance(expected, list | tuple):
        items = list(got) if isinstance(got, np.ndarray) and got.ndim > 0 else got
        if not isinstance(items, list | tuple) or len(items) != len(expected):
            return at + _mismatch(want, describe(got))
        for index, (item, item_expected) in enumerate(zip(items, expected, strict=True)):
            problem = _equal(item, item_expected, f"{where}[{index}]")
            if problem is not None:
                return problem
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return at + _mismatch(want, describe(got))
        if set(got) != set(expected):
            keys, came = sorted(map(repr, expected)), sorted(map(repr, got))
            return at + say(f"expected the keys {keys}, got {came}", f"应为键 {keys}，实际得到 {came}")
        for key, item_expected in expected.items():
            problem = _equal(got[key], item_expected, f"{where}[{key!r}]")
            if problem is not None:
                return problem
        return None
    if isinstance(got, np.ndarray) and got.ndim == 0:
        got = got[()]
    if _is_bool(expected):
        ok_type = _is_bool(got)
    elif _is_int(expected):
        ok_type = _is_int(got)
        if not ok_type and _is_real(got) and math.isfinite(got) and float(got).is_integer():
            fix = (": use // (integer division) or int(...)", "：请用 //（整除）或 int(...)")
            return at + _mismatch(want, describe(got), *fix)
    elif isinstance(expected, str):
        ok_type = isinstance(got, str)
    else:
        ok_type = True
    if not ok_type:
        return at + _mismatch(want, describe(got))
    try:
        same = bool(got == expected)
    except Exception:
        same = False
    return None if same else at + _mismatch(_SHORT.repr(expected), describe(got))


def equal(got: Any, expected: Any) -> str | None:
    """A comparison for exact answers: ints, strings, bool or int arrays, and lists, tuples and dicts of them.

    Lists and tuples are compared item by item and stand in for each other (a
    1-D array also stands for a list); an int must be an int (a NumPy integer
    counts, a float does not), a bool array must have dtype bool. A wrong item
    is named by its index, followed by the whole answer and the expected one.
    """
    problem = _equal(got, expected, "")
    if problem is not None and problem.startswith(("at [", "在 [")):
        whole, came = _SHORT.repr(expected), describe(got)
        problem += say(
            f" (the whole answer: expected {whole}, got {came})",
            f"（整个答案：应为 {whole}，实际得到{_spaced(came)}）",
        )
    return problem
