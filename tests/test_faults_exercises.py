"""Issue 16, fault class 10 (and issue 18): ``exercises.check`` turns any return value into a ``[fail]`` line.

Table-driven: every registered exercise gets every wrong answer of ``WRONG_ANSWERS`` (and the
answers derived from its reference in ``DERIVED_ANSWERS``: a list for an array, an array for a
number, a number for an array, a transposed or shape-changed answer, a small offset, NaN, a tensor
that requires grad); none may raise, pass silently or fail without saying what was expected and what
came back. ``None`` is an unfinished function: a "not yet" line without a hint.
"""

import numpy as np
import pytest
import torch

from speechlm import exercises
from speechlm.exercises import Exercise


class _EqRaises:
    def __eq__(self, other):
        raise RuntimeError("__eq__ exploded")

    __hash__ = object.__hash__


class _BoolRaises:
    def __eq__(self, other):
        return self

    def __bool__(self):
        raise RuntimeError("__bool__ exploded")

    __hash__ = object.__hash__


class _ArrayRaises:
    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("__array__ exploded")

    def __len__(self):
        raise RuntimeError("__len__ exploded")

    def __iter__(self):
        raise RuntimeError("__iter__ exploded")

    def __float__(self):
        raise RuntimeError("__float__ exploded")

    def __repr__(self):
        raise RuntimeError("__repr__ exploded")


def _constant(value_factory):
    return lambda *args: value_factory()


WRONG_ANSWERS = {
    "None": _constant(lambda: None),
    "a float scalar": _constant(lambda: 1.5),
    "a bool": _constant(lambda: True),
    "a complex scalar": _constant(lambda: 1 + 2j),
    "an array": _constant(lambda: np.arange(3.0) - 7.25),
    "a list": _constant(lambda: [7, -1, 3]),
    "a string": _constant(lambda: "abc"),
    "a dict": _constant(lambda: {"a": 1}),
    "a tuple of the wrong length": _constant(lambda: (1, 2, 3)),
    "NaN": _constant(lambda: float("nan")),
    "inf": _constant(lambda: float("inf")),
    "a tensor": _constant(lambda: torch.tensor([1.5, -2.5])),
    "a tensor that requires grad": _constant(lambda: torch.tensor([1.5, -2.5], requires_grad=True) * 2),
    "a tensor of the wrong dtype": _constant(lambda: torch.tensor([1, 2, 3], dtype=torch.int8)),
    "a generator": _constant(lambda: (x for x in range(3))),
    "an object whose __eq__ raises": _constant(_EqRaises),
    "an object whose __bool__ raises": _constant(_BoolRaises),
    "an object whose __array__ raises": _constant(_ArrayRaises),
}


def _perturb(value):
    """The reference answer plus a small error, of the same type and shape."""
    if isinstance(value, bool | np.bool_):
        return not value
    if isinstance(value, int | np.integer):
        return value + 1
    if isinstance(value, float | np.floating | complex | np.complexfloating):
        return value + 1e-3 * (1 + abs(value)) if np.isfinite(value) else 0.5
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, np.ndarray):
        if value.size == 0:
            return np.zeros(1, dtype=value.dtype)
        out = value.copy()
        flat = out.reshape(-1)
        finite = np.flatnonzero(np.isfinite(flat)) if value.dtype.kind in "fc" else [0]
        i = finite[0] if len(finite) else 0
        flat[i] = _perturb(flat[i]) if len(finite) else 0.5
        return out
    if isinstance(value, list | tuple):
        return type(value)([_perturb(value[0]), *value[1:]]) if value else type(value)([1])
    if isinstance(value, dict):
        first = next(iter(value))
        return {**value, first: _perturb(value[first])}
    raise AssertionError(f"no perturbation for {type(value).__name__}")


def _numeric(value) -> bool:
    return isinstance(value, np.ndarray | float | int | np.number) and not isinstance(value, bool)


def _as_tensor(value, requires_grad=False):
    tensor = torch.as_tensor(np.asarray(value))
    return tensor.requires_grad_() if requires_grad and tensor.is_floating_point() else tensor


def _plus_error_as_tensor(reference):
    def fn(*args):
        wrong = _perturb(reference(*args))
        return _as_tensor(wrong, requires_grad=True) if _numeric(wrong) else wrong

    return fn


def _with_nan(reference):
    def fn(*args):
        answer = reference(*args)
        if isinstance(answer, np.ndarray) and answer.dtype.kind == "f" and answer.size:
            answer = answer.copy()
            answer.reshape(-1)[0] = np.nan
            return answer
        return float("nan") if _numeric(answer) else _perturb(answer)

    return fn


def _raises(*args):
    raise ValueError("boom from the learner")


def _shape_changed(value):
    """The answer with another shape: transposed where that changes it, else one item short (or one more)."""
    if isinstance(value, np.ndarray) and value.ndim >= 2 and value.shape != value.shape[::-1]:
        return value.T
    if isinstance(value, np.ndarray) and value.ndim >= 1:
        return value[:-1] if len(value) > 1 else np.concatenate([value, value])
    if isinstance(value, list | tuple):
        return type(value)(value[:-1] if len(value) > 1 else [*value, *value, 0])
    if isinstance(value, dict):
        return dict(list(value.items())[:-1]) if len(value) > 1 else {**value, "extra": 0}
    return [value, value]


def _as_list_for_an_array(value):
    """An array answer as a (wrong-shaped) list; any other answer as a list of two copies."""
    if isinstance(value, np.ndarray):
        return _shape_changed(value).tolist()
    return [value, value]


def _array_for_a_number(value):
    """A number answer as an array of three copies; any other answer as an array of another shape."""
    if _numeric(value) and np.ndim(value) == 0:
        return np.full(3, value)
    return np.full(7, 0.5)


def _number_for_an_array(value):
    """An array or list answer as its first item (a number); any other answer as the number 0.5."""
    if isinstance(value, np.ndarray) and value.size:
        return value.reshape(-1)[0].item()
    if isinstance(value, list | tuple) and value:
        return value[0] if not isinstance(value[0], list | tuple | np.ndarray) else 0.5
    return 0.5 if not _numeric(value) else value + 0.5


DERIVED_ANSWERS = {
    "the reference as a list of another shape": lambda ex: (
        lambda *args: _as_list_for_an_array(ex.reference(*args))
    ),
    "the reference as an array, where it is a number": lambda ex: (
        lambda *args: _array_for_a_number(ex.reference(*args))
    ),
    "a number where the reference is an array": lambda ex: (
        lambda *args: _number_for_an_array(ex.reference(*args))
    ),
    "the reference transposed or of another shape": lambda ex: (
        lambda *args: _shape_changed(ex.reference(*args))
    ),
    "the reference plus a small error": lambda ex: lambda *args: _perturb(ex.reference(*args)),
    "the reference plus a small error, as a tensor that requires grad": lambda ex: _plus_error_as_tensor(
        ex.reference
    ),
    "the reference with a NaN": lambda ex: _with_nan(ex.reference),
    "a function with the wrong number of parameters": lambda ex: lambda: 0,
    "a function that raises": lambda ex: _raises,
}

VALUE_FAULTS = {name for name in DERIVED_ANSWERS if name.startswith(("the reference", "a number"))}

ALL_ANSWERS = [(name, lambda ex, make=make: make) for name, make in WRONG_ANSWERS.items()] + list(
    DERIVED_ANSWERS.items()
)


@pytest.mark.parametrize(("fault", "make"), ALL_ANSWERS, ids=[name for name, _ in ALL_ANSWERS])
def test_every_exercise_reports_a_wrong_answer_as_fail_and_never_raises(fault, make, capsys):
    ids = exercises.list_exercises()
    assert len(ids) >= 60
    problems = []
    for exercise_id in ids:
        ex = exercises.get(exercise_id)
        try:
            result = exercises.check(exercise_id, make(ex))
        except Exception as exc:  # the defect this test exists for
            problems.append(f"{exercise_id}: check raised {type(exc).__name__}: {exc}")
            continue
        out = capsys.readouterr().out
        if result:
            problems.append(f"{exercise_id}: {fault} passed")
        elif fault == "None":
            if not out.startswith(f"[fail] {exercise_id}: not yet: ") or "Hint" in out:
                problems.append(f"{exercise_id}: None is not reported as 'not yet' without a hint: {out!r}")
        elif not (out.startswith(f"[fail] {exercise_id}: ") and "\nHint 1 of " in out):
            problems.append(f"{exercise_id}: output not in the [fail] format: {out!r}")
        elif len(result.message) < 20 or result.message not in out:
            problems.append(f"{exercise_id}: no feedback: {result.message!r}")
        elif fault in WRONG_ANSWERS or fault in VALUE_FAULTS:
            # a wrong value is described: what was expected, what came back, for which input
            if "failed for the input (" not in result.message or "expected" not in result.message:
                problems.append(f"{exercise_id}: feedback does not say what was expected: {result.message!r}")
            if "exploded" in result.message and "could not be compared" not in result.message:
                problems.append(f"{exercise_id}: only the exception's text: {result.message!r}")
        elif "raised TypeError" not in result.message and "raised ValueError: boom" not in result.message:
            problems.append(f"{exercise_id}: the learner's exception is not reported: {result.message!r}")
    assert not problems, "\n".join(problems)


def _as_torch_answer(reference, requires_grad):
    def fn(*args):
        answer = reference(*args)
        return _as_tensor(answer, requires_grad) if _numeric(answer) else answer

    return fn


@pytest.mark.parametrize("requires_grad", [False, True], ids=["tensor", "tensor that requires grad"])
def test_every_reference_passes_also_as_a_torch_tensor(requires_grad):
    failed = []
    for exercise_id in exercises.list_exercises():
        ex = exercises.get(exercise_id)
        assert exercises.check(exercise_id, ex.reference, verbose=False), exercise_id
        result = exercises.check(exercise_id, _as_torch_answer(ex.reference, requires_grad), verbose=False)
        if not result:
            failed.append(f"{exercise_id}: {result.message}")
    assert not failed, "\n".join(failed)


def test_an_array_for_a_number_and_a_number_for_an_array_are_named():
    snr = exercises.check("00.snr", lambda clean, noisy: np.array([1.0, 2.0, 3.0]), verbose=False)
    assert "expected a single number (float), got an array of shape (3,)" in snr.message
    assert "is a sum or a mean missing?" in snr.message
    assert "failed for the input (an array (1600,) of float64 [" in snr.message
    db = exercises.check("00.db", lambda power: 3.0, verbose=False)
    assert "expected an array of shape (3,), got a single number (3.0)" in db.message


def test_a_tensor_that_requires_grad_is_detached_and_compared():
    def power_to_db(power):
        p = torch.tensor(power, requires_grad=True)
        return 10 * torch.log10(torch.clamp(p, min=1e-10))

    assert exercises.check("00.db", power_to_db, verbose=False)
    float32 = exercises.check("02.autocorrelation", lambda x, lag: torch.zeros(lag + 1), verbose=False)
    assert "values differ" in float32.message and "float32" in float32.message
    near = exercises.check(
        "02.step_up",
        lambda k: torch.tensor(exercises.get("02.step_up").reference(k), dtype=torch.float32),
        verbose=False,
    )
    assert not near and "compute in float64" in near.message


def test_phone_durations_given_a_list_or_a_string(capsys):
    assert not exercises.check("00.phone_durations", lambda phones: [p for p, _, _ in phones])
    assert (
        "expected a dict from phone to mean duration in seconds, got a list of 5 items"
        in capsys.readouterr().out
    )
    assert not exercises.check("00.phone_durations", lambda phones: "sil")
    assert "got the str 'sil'" in capsys.readouterr().out
    wrong_value = exercises.check(
        "00.phone_durations", lambda phones: {p: "0.1" for p, _, _ in phones}, verbose=False
    )
    assert "mean duration of" in wrong_value.message and "got the str '0.1'" in wrong_value.message


def test_strings_and_floats_no_longer_pass_for_ints():
    # "552" used to pass 10.dedup (the old check ran int() over its characters)
    as_string = exercises.check(
        "10.dedup", lambda ids: "".join(str(i) for i in ids[:1]) + "25", verbose=False
    )
    assert not as_string and "expected a list of 3 ints, got the str '525'" in as_string.message
    frame_count = exercises.get("01.frame_count").reference
    as_float = exercises.check("01.frame_count", lambda *args: float(frame_count(*args)), verbose=False)
    assert not as_float and "expected an int, got the float 98.0" in as_float.message
    assert "use // (integer division) or int(...)" in as_float.message


def test_a_mask_of_the_wrong_dtype_says_so():
    ones = exercises.check("09.causal_mask", lambda t: np.tril(np.ones((t, t), dtype=int)), verbose=False)
    assert not ones and "expected a bool array, got dtype int64" in ones.message


def test_a_comparison_that_raises_is_a_failed_case(monkeypatch, capsys):
    def fragile(got, expected):
        return None if got[0] == expected else "differs"

    ex = Exercise(
        "99.fragile",
        "Return x.",
        lambda x: x,
        lambda rng: [(2,)],
        ("Return it.", "Return x."),
        compare=fragile,
    )
    monkeypatch.setitem(exercises._REGISTRY, ex.id, ex)
    result = exercises.check(ex.id, lambda x: x)
    out = capsys.readouterr().out
    assert not result and out.startswith("[fail] 99.fragile: case 1/1 failed for the input (the int 2)")
    assert "expected an int, got the int 2, which could not be compared with it (TypeError:" in out


def test_a_learner_that_raises_is_reported_with_the_last_traceback_line():
    result = exercises.check("00.db", _raises, verbose=False)
    assert result.message == (
        "case 1/3 raised ValueError: boom from the learner, "
        "for the input (an array (3,) of float64 [  1.,  10., 100.])"
    )


def test_a_function_that_edits_a_list_argument_cannot_change_the_next_case():
    def popping(words, time_s):
        answer = exercises.get("00.word_at").reference(words, time_s)
        words.clear()
        return answer

    assert exercises.check("00.word_at", popping, verbose=False)
