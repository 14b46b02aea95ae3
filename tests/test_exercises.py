import numpy as np
import pytest

from speechlm import exercises


@pytest.fixture(autouse=True)
def fresh_hints(monkeypatch):
    """Every test starts a session in which no hint has been shown."""
    monkeypatch.setattr(exercises, "_HINTS_SHOWN", {})


def _right(power):
    return 10 * np.log10(np.maximum(power, 1e-10))


def test_a_correct_solution_passes(capsys):
    result = exercises.check("00.db", _right)
    assert result
    assert result.passed == result.total > 0
    assert "[pass]" in capsys.readouterr().out


def test_a_wrong_solution_fails_with_the_first_hint(capsys):
    result = exercises.check("00.db", lambda p: 20 * np.log10(np.maximum(p, 1e-10)))
    assert not result
    out = capsys.readouterr().out
    assert "[fail]" in out and "max abs difference" in out
    assert f"Hint 1 of 2: {exercises.get('00.db').hints[0]}" in out and 'exercises.hint("00.db")' in out


def test_an_unfinished_stub_reports_instead_of_raising(capsys):
    def stub(power):
        raise NotImplementedError

    assert not exercises.check("00.db", stub)
    out = capsys.readouterr().out
    assert "not yet" in out and "Hint" not in out

    def returns_nothing(power): ...

    assert not exercises.check("00.db", returns_nothing)
    out = capsys.readouterr().out
    assert "not yet: the function returned nothing" in out and "Hint" not in out


def test_errors_in_learner_code_are_reported(capsys):
    assert not exercises.check("00.db", lambda p: p.nonexistent)
    assert "AttributeError" in capsys.readouterr().out


def test_wrong_shape_is_named():
    assert "shape" in exercises.check("00.db", lambda p: np.zeros(2), verbose=False).message


def test_cases_cannot_be_changed_by_the_learner():
    def mutating(power):
        out = _right(power)
        power[...] = -1.0
        return out

    assert exercises.check("00.db", mutating, verbose=False)


def test_unknown_ids_and_non_functions_get_clear_errors():
    with pytest.raises(KeyError, match="known exercises"):
        exercises.check("99.nope", _right)
    with pytest.raises(TypeError, match="needs a function"):
        exercises.check("00.db", 3)


def test_every_registered_exercise_has_cases_its_reference_passes():
    ids = exercises.list_exercises()
    assert "00.db" in ids
    for exercise_id in ids:
        ex = exercises.get(exercise_id)
        assert len(ex.hints) >= 2 and ex.prompt.strip()
        assert exercises.check(exercise_id, ex.reference, verbose=False), exercise_id


def test_every_notebook_with_exercises_has_at_least_three_or_is_the_welcome():
    numbers = {i.split(".")[0] for i in exercises.list_exercises()}
    for number in numbers - {"00"}:
        assert len(exercises.list_exercises(number)) >= 3, number


def _checked_functions(folder: str) -> dict[str, set[str]]:
    """{exercise id: names of the functions passed to ``exercises.check``} in a folder's notebooks,
    each name also defined with ``def`` in the same notebook."""
    import json
    import re
    from pathlib import Path

    found: dict[str, set[str]] = {}
    for path in sorted((Path(__file__).resolve().parents[1] / folder).glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        for exercise_id, name in re.findall(r"exercises\.check\(\s*\"([\d.\w]+)\",\s*(\w+)", source):
            assert re.search(rf"^def {name}\(", source, re.M), f"{path.name}: {name} checked, never defined"
            found.setdefault(exercise_id, set()).add(name)
    return found


def test_statement_stub_and_solution_name_the_same_function():
    """What the prompt asks the learner to write is what the notebook's stub defines and the
    solution fills in, for every exercise."""
    stubs, solutions = _checked_functions("notebooks"), _checked_functions("solutions")
    assert set(stubs) == set(solutions) == set(exercises.list_exercises())
    for exercise_id in exercises.list_exercises():
        (stub,) = stubs[exercise_id]
        assert solutions[exercise_id] == {stub}, (exercise_id, stub, solutions[exercise_id])
        assert f"`{stub}(" in exercises.get(exercise_id).prompt, (exercise_id, stub)
