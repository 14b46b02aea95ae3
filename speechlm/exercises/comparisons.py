"""How the exercise checkers compare a learner's answer with the expected one (notebook 00).

Every comparison returns ``None`` when the answer is right, or one line that
says what was expected and what came back ("expected a single number (float),
got an array of shape (3,) and dtype float64, values [1, 2, 3]"); none of them
raises, whatever the learner's function returned. :func:`describe` writes the
short description of a value that these messages (and
:func:`speechlm.exercises.check`) use.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = ["allclose", "describe", "equal", "expected_kind"]

_SHORT = reprlib.Repr()
_SHORT.maxstring = 40
_SHORT.maxother = 60
_SHORT.maxlist = _SHORT.maxtuple = 6
_SHORT.maxdict = 4
_SHORT.maxlevel = 3

_ONCE_ONLY = "a generator (or iterator), which can be read only once: return a list, e.g. list(...)"


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not _is_bool(value)


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not _is_bool(value)


def _values(array: np.ndarray, edgeitems: int = 3) -> str:
    return np.array2string(
        array.ravel(),
        threshold=2 * edgeitems,
        edgeitems=edgeitems,
        precision=4,
        separator=", ",
        max_line_width=1000,
    )


def _item(array: np.ndarray, index: tuple) -> Any:
    return array[index].item()


def _items(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n} items"


def describe(value: Any, brief: bool = False) -> str:
    """A short description of any value, with its type, shape and a few of its values
    (``brief``: fewer of them, for the arguments of a case).

    Never raises: an object that cannot even be printed is described by its type.
    """
    try:
        if value is None:
            return "None"
        if _is_bool(value):
            return f"the bool {bool(value)}"
        if isinstance(value, np.generic):
            return f"the {value.dtype} {value.item()!r}"
        if isinstance(value, int | float | complex):
            return f"the {type(value).__name__} {value!r}"
        if isinstance(value, str | bytes):
            return f"the {type(value).__name__} {_SHORT.repr(value)}"
        if isinstance(value, np.ndarray):
            if value.ndim == 0:
                return f"a 0-d array of dtype {value.dtype} holding {value.item()!r}"
            if brief:
                return f"an array {value.shape} of {value.dtype} {_values(value, edgeitems=2)}"
            return f"an array of shape {value.shape} and dtype {value.dtype}, values {_values(value)}"
        if type(value).__module__.startswith("torch") and hasattr(value, "shape"):
            return f"a torch tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
        if isinstance(value, list | tuple | dict | set):
            return f"a {type(value).__name__} of {_items(len(value))}, {_SHORT.repr(value)}"
        if isinstance(value, Iterator):
            return _ONCE_ONLY
        return f"an object of type {type(value).__name__}"
    except Exception:
        return f"an object of type {type(value).__name__}"


def expected_kind(expected: Any) -> str:
    """What kind of answer ``expected`` is, in words ("a list of 4 ints", "an int")."""
    if _is_bool(expected):
        return "a bool (True or False)"
    if _is_int(expected):
        return "an int"
    if _is_real(expected):
        return "a single number (float)"
    if isinstance(expected, complex | np.complexfloating):
        return "a single complex number"
    if isinstance(expected, str):
        return "a string"
    if isinstance(expected, np.ndarray):
        return f"an array of shape {expected.shape} and dtype {expected.dtype}"
    if isinstance(expected, dict):
        return f"a dict of {_items(len(expected))}"
    if isinstance(expected, list | tuple):
        kinds = {expected_kind(item).split(" ")[1] for item in expected}
        items = {"int": "ints", "string": "strings", "list": "lists", "tuple": "tuples"}.get(
            kinds.pop() if len(kinds) == 1 else "", "items"
        )
        return f"a {type(expected).__name__} of {len(expected)} {items[:-1] if len(expected) == 1 else items}"
    return f"an object of type {type(expected).__name__}"


def _as_number_array(got: Any, want: str, complex_ok: bool) -> tuple[np.ndarray | None, str | None]:
    """``got`` as a float (or complex) array, or ``None`` and what is wrong with it."""
    if isinstance(got, str | bytes | dict | set) or isinstance(got, Iterator):
        return None, f"expected {want}, got {describe(got)}"
    try:
        array = np.asarray(got)
    except Exception:
        return None, f"expected {want}, got {describe(got)}, which is not a number or an array of numbers"
    if array.dtype.kind == "c" and not complex_ok:
        return None, f"expected {want} with real values, got complex values ({describe(got)}): take .real"
    if array.dtype.kind not in "biufc":
        try:
            if array.dtype.kind in "USVMm":
                raise TypeError(array.dtype)
            array = array.astype(complex if complex_ok else float)
        except Exception:
            return None, f"expected {want}, got {describe(got)}, which is not a number or an array of numbers"
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
        want = "a single number (float)" if exp.ndim == 0 else f"an array of shape {exp.shape}"
        got_arr, problem = _as_number_array(got, want, complex_ok)
        if problem is not None:
            return problem
        if exp.ndim == 0 and got_arr.ndim > 0:
            fix = "take it out with .item()" if got_arr.size == 1 else "is a sum or a mean missing?"
            return f"expected {want}, got {describe(got_arr)}: {fix}"
        if exp.ndim > 0 and got_arr.ndim == 0:
            return f"expected {want}, got a single number ({got_arr.item()!r}): return one value per element"
        if got_arr.shape != exp.shape:
            hint = "; is it transposed?" if got_arr.shape == exp.shape[::-1] else ""
            return f"expected shape {exp.shape}, got shape {got_arr.shape}{hint}"
        bad_kind = np.isfinite(exp) & ~np.isfinite(got_arr)
        if bad_kind.any() and exp.ndim == 0:
            return f"expected the finite number {exp.item()!r}, got {got_arr.item()!r}"
        if bad_kind.any():
            index = tuple(int(i) for i in np.argwhere(bad_kind)[0])
            return (
                f"got NaN or inf at {int(bad_kind.sum())} of {exp.size} positions where the expected values "
                f"are finite (first at index {index}: expected {_item(exp, index)!r}, "
                f"got {_item(got_arr, index)!r})"
            )
        close = np.isclose(got_arr, exp, rtol=rtol, atol=atol, equal_nan=True)
        if close.all():
            return None
        with np.errstate(invalid="ignore"):
            err = float(np.max(np.where(close, 0.0, np.nan_to_num(np.abs(got_arr - exp), nan=np.inf))))
        index = tuple(int(i) for i in np.argwhere(~close)[0])
        message = f"values differ from the expected ones (max abs difference {err:.3g})"
        if exp.ndim > 0:
            message += (
                f" at {int((~close).sum())} of {exp.size} positions; first at index {index}: "
                f"expected {_item(exp, index)!r}, got {_item(got_arr, index)!r}"
            )
        else:
            message += f": expected {exp.item()!r}, got {got_arr.item()!r}"
        if got_arr.dtype in (np.float16, np.float32, np.complex64):
            message += f" (your answer is {got_arr.dtype}; compute in float64 for this tolerance)"
        return message

    return compare


def _equal_arrays(got: Any, expected: np.ndarray) -> str | None:
    want = expected_kind(expected)
    if isinstance(got, str | bytes | dict | set) or isinstance(got, Iterator):
        return f"expected {want}, got {describe(got)}"
    try:
        array = np.asarray(got)
    except Exception:
        return f"expected {want}, got {describe(got)}"
    if array.dtype.kind not in "biufc":
        return f"expected {want}, got {describe(got)}"
    if array.shape != expected.shape:
        return f"expected an array of shape {expected.shape}, got {describe(got)}"
    if expected.dtype.kind == "b" and array.dtype.kind != "b":
        return f"expected a bool array, got dtype {array.dtype}: use a comparison or .astype(bool)"
    if expected.dtype.kind in "iu" and array.dtype.kind not in "iu":
        return f"expected an integer array, got dtype {array.dtype}: use .astype(int)"
    wrong = array != expected
    if not np.any(wrong):
        return None
    index = tuple(int(i) for i in np.argwhere(wrong)[0])
    return (
        f"{int(np.sum(wrong))} of {expected.size} values differ; first at index {index}: "
        f"expected {_item(expected, index)!r}, got {_item(array, index)!r}"
    )


def _equal(got: Any, expected: Any, where: str) -> str | None:
    """``equal`` for the part ``where`` ("", "[0]", "[0][1]", "['key']") of the answer."""
    at = f"at {where}: " if where else ""
    if isinstance(expected, np.ndarray):
        problem = _equal_arrays(got, expected)
        return None if problem is None else at + problem
    want = expected_kind(expected)
    if isinstance(expected, list | tuple):
        items = list(got) if isinstance(got, np.ndarray) and got.ndim > 0 else got
        if not isinstance(items, list | tuple) or len(items) != len(expected):
            return f"{at}expected {want}, got {describe(got)}"
        for index, (item, item_expected) in enumerate(zip(items, expected, strict=True)):
            problem = _equal(item, item_expected, f"{where}[{index}]")
            if problem is not None:
                return problem
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"{at}expected {want}, got {describe(got)}"
        if set(got) != set(expected):
            return f"{at}expected the keys {sorted(map(repr, expected))}, got {sorted(map(repr, got))}"
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
            return f"{at}expected {want}, got {describe(got)}: use // (integer division) or int(...)"
    elif isinstance(expected, str):
        ok_type = isinstance(got, str)
    else:
        ok_type = True
    if not ok_type:
        return f"{at}expected {want}, got {describe(got)}"
    try:
        same = bool(got == expected)
    except Exception:
        same = False
    return None if same else f"{at}expected {_SHORT.repr(expected)}, got {describe(got)}"


def equal(got: Any, expected: Any) -> str | None:
    """A comparison for exact answers: ints, strings, bool or int arrays, and lists, tuples and dicts of them.

    Lists and tuples are compared item by item and stand in for each other (a
    1-D array also stands for a list); an int must be an int (a NumPy integer
    counts, a float does not), a bool array must have dtype bool. A wrong item
    is named by its index, followed by the whole answer and the expected one.
    """
    problem = _equal(got, expected, "")
    if problem is not None and problem.startswith("at ["):
        problem += f" (the whole answer: expected {_SHORT.repr(expected)}, got {describe(got)})"
    return problem
