"""A learner's answer made comparable: torch tensors as NumPy, arguments copied so that an answer
cannot change the next case, a comparison that raises turned into a failed case (used by
:func:`speechlm.exercises.check`)."""

from __future__ import annotations

import copy
import sys
import traceback
from collections.abc import Callable
from typing import Any

from speechlm.exercises.comparisons import _mismatch, describe, expected_kind
from speechlm.exercises.language import say

__all__ = ["compare_safely", "copy_args", "describe_args", "from_torch"]


def compare_safely(compare: Callable[[Any, Any], str | None], got: Any, expected: Any) -> str | None:
    """``compare(got, expected)`` on the answer with torch tensors made NumPy; a comparison that
    raises (on a value no checker foresaw) is a wrong answer, described by type and shape."""
    try:
        return compare(from_torch(got), expected)
    except Exception as exc:
        reason = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return _mismatch(
            expected_kind(expected),
            describe(got),
            f", which could not be compared with it ({reason})",
            f"，无法与之比较（{reason}）",
        )


def from_torch(value: Any) -> Any:
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
        return type(value)(from_torch(item) for item in value)
    if type(value) is dict:
        return {key: from_torch(item) for key, item in value.items()}
    return value


def describe_args(args: tuple) -> str:
    """The case's arguments, briefly: shapes and a few values."""
    return say(", ", "，").join(describe(arg, brief=True) for arg in args)


def copy_args(args: tuple) -> tuple:
    """Copy the arguments (arrays, and lists of them) so that a function that edits them in place
    cannot change the next case or the reference."""
    return copy.deepcopy(args)
