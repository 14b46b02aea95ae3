"""Describing a value in a checker's message: "an array of shape (3,) and dtype float64, values [1, 2,
3]", "a single number (float)" (notebook 00), in English and in Chinese
(:func:`speechlm.exercises.language.say` picks the current language). Used by
:mod:`speechlm.exercises.comparisons` and :func:`speechlm.exercises.check`.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from speechlm.exercises.language import say

__all__ = ["describe", "expected_kind"]

_SHORT = reprlib.Repr()
_SHORT.maxstring = 40
_SHORT.maxother = 60
_SHORT.maxlist = _SHORT.maxtuple = 6
_SHORT.maxdict = 4
_SHORT.maxlevel = 3

_ONCE_ONLY = "a generator (or iterator), which can be read only once: return a list, e.g. list(...)"
# Python's types in Chinese, for the messages in Chinese ("整数 3", "含 2 个元素的列表").
_TYPE_ZH = {
    "int": "整数",
    "float": "浮点数",
    "complex": "复数",
    "str": "字符串",
    "bytes": "字节串",
    "list": "列表",
    "tuple": "元组",
    "dict": "字典",
    "set": "集合",
}
_ONCE_ONLY_ZH = "一个生成器（或迭代器），它只能读取一次：请返回列表，例如 list(...)"


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
    return say(f"{n} item" if n == 1 else f"{n} items", f"{n} 个元素")


def describe(value: Any, brief: bool = False) -> str:
    """A short description of any value, with its type, shape and a few of its values
    (``brief``: fewer of them, for the arguments of a case).

    Never raises: an object that cannot even be printed is described by its type.
    """
    try:
        if value is None:
            return "None"
        if _is_bool(value):
            return say(f"the bool {bool(value)}", f"布尔值 {bool(value)}")
        if isinstance(value, np.generic):
            return say(f"the {value.dtype} {value.item()!r}", f"{value.dtype} 值 {value.item()!r}")
        name = type(value).__name__
        name_zh = _TYPE_ZH.get(name, name)
        if isinstance(value, int | float | complex):
            return say(f"the {name} {value!r}", f"{name_zh} {value!r}")
        if isinstance(value, str | bytes):
            return say(f"the {name} {_SHORT.repr(value)}", f"{name_zh} {_SHORT.repr(value)}")
        if isinstance(value, np.ndarray):
            if value.ndim == 0:
                return say(
                    f"a 0-d array of dtype {value.dtype} holding {value.item()!r}",
                    f"dtype 为 {value.dtype} 的 0 维数组，其值为 {value.item()!r}",
                )
            if brief:
                values = _values(value, edgeitems=2)
                return say(
                    f"an array {value.shape} of {value.dtype} {values}",
                    f"数组 {value.shape}，{value.dtype}，{values}",
                )
            return say(
                f"an array of shape {value.shape} and dtype {value.dtype}, values {_values(value)}",
                f"形状为 {value.shape}、dtype 为 {value.dtype} 的数组，值为 {_values(value)}",
            )
        if type(value).__module__.startswith("torch") and hasattr(value, "shape"):
            shape = tuple(value.shape)
            return say(
                f"a torch tensor of shape {shape} and dtype {value.dtype}",
                f"形状为 {shape}、dtype 为 {value.dtype} 的 torch 张量",
            )
        if isinstance(value, list | tuple | dict | set):
            items = _items(len(value))
            return say(
                f"a {name} of {items}, {_SHORT.repr(value)}",
                f"含 {items}的{_TYPE_ZH.get(name, ' ' + name)}：{_SHORT.repr(value)}",
            )
        if isinstance(value, Iterator):
            return say(_ONCE_ONLY, _ONCE_ONLY_ZH)
        return say(f"an object of type {name}", f"{name} 类型的对象")
    except Exception:
        return say(f"an object of type {type(value).__name__}", f"{type(value).__name__} 类型的对象")


def expected_kind(expected: Any) -> str:
    """What kind of answer ``expected`` is, in words ("a list of 4 ints", "an int")."""
    return say(*_kind(expected))


# a list's or tuple's items by kind, in English (plural) and Chinese
_ITEMS = {"int": ("ints", "整数"), "string": ("strings", "字符串"), "list": ("lists", "列表"),
          "tuple": ("tuples", "元组")}  # fmt: skip


def _kind(expected: Any) -> tuple[str, str]:
    """:func:`expected_kind` in English and in Chinese."""
    if _is_bool(expected):
        return "a bool (True or False)", "布尔值（True 或 False）"
    if _is_int(expected):
        return "an int", "整数（int）"
    if _is_real(expected):
        return "a single number (float)", "单个数（float）"
    if isinstance(expected, complex | np.complexfloating):
        return "a single complex number", "单个复数"
    if isinstance(expected, str):
        return "a string", "字符串"
    if isinstance(expected, np.ndarray):
        return (
            f"an array of shape {expected.shape} and dtype {expected.dtype}",
            f"形状为 {expected.shape}、dtype 为 {expected.dtype} 的数组",
        )
    n = len(expected) if isinstance(expected, dict | list | tuple) else 0
    if isinstance(expected, dict):
        return f"a dict of {n} item" + ("" if n == 1 else "s"), f"含 {n} 个元素的字典"
    name = type(expected).__name__
    if isinstance(expected, list | tuple):
        kinds = {_kind(item)[0].split(" ")[1] for item in expected}
        plural, zh = _ITEMS.get(kinds.pop() if len(kinds) == 1 else "", ("items", "元素"))
        en = f"a {name} of {n} {plural[:-1] if n == 1 else plural}"
        return en, f"含 {n} 个{zh}的{_TYPE_ZH.get(name, ' ' + name)}"
    return f"an object of type {name}", f"{name} 类型的对象"
