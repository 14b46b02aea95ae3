"""speechlm.responsible.course_models builds the course's models at the sizes their notebooks use (issue 17).

course_models copies the sizes that only a notebook cell writes down (``GPTConfig(...)``,
``CNNClassifier(...)``, ...). Each check parses the notebook's code cells with ``ast``, finds the call
that builds the model (the call of that function in the value assigned to a given name), resolves its
arguments and compares them, one by one, with those course_models passes to the same function (recorded
while it builds its models). An argument resolves if it is a literal, a name an earlier statement
assigns a literal to, ``len`` of a tokenizer trained by ``text.train_wordpiece(vocab_size=N)`` (N), or
a data-dependent expression listed in the check's stand-ins. The speech encoders' sizes live in the
recipes of speechlm.pretrained: the notebooks must load those recipes, and course_models builds them.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import operator
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from torch import nn

from speechlm import corpus, dsp, pretrained, text
from speechlm.batching import context_window
from speechlm.bert import BertConfig
from speechlm.classifiers import CNNClassifier, GRUClassifier, TransformerClassifier
from speechlm.corpus import PHONES
from speechlm.gpt import GPTConfig

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
COURSE = importlib.import_module("speechlm.responsible.course_models")  # the module, not its function
# Arguments that change neither a model's parameters nor the cost of a forward pass in eval mode.
NOT_SIZES = {"dropout", "attention_dropout"}
OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
}

StandIns = dict[str, Callable[["Notebook"], Any]]


def _called(node: ast.Call) -> str:
    """The name a call calls: ``GPTConfig`` for ``gpt.GPTConfig(...)`` and for ``GPTConfig(...)``."""
    return node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")


def _bind(function: Callable, args: tuple, kwargs: dict) -> dict[str, Any]:
    bound = inspect.signature(function).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


class Call(NamedTuple):
    """A call of ``function`` in code cell ``cell`` of ``notebook``: ``arguments`` by parameter, as
    written (``ast`` nodes) or, where the notebook leaves them out, the defaults."""

    notebook: Notebook
    cell: int
    node: ast.Call
    function: Callable
    arguments: dict[str, Any]

    def where(self) -> str:
        source = ast.get_source_segment(self.notebook.sources[self.cell], self.node)
        return f"{self.notebook.path.name}, cell {self.notebook.positions[self.cell]}: `{source}`"

    def value(self, parameter: str, stand_ins: StandIns) -> Any:
        argument = self.arguments[parameter]
        if not isinstance(argument, ast.AST):
            return argument
        return self.notebook.resolve(argument, self.cell, stand_ins, f"{self.where()}, {parameter}")


class Notebook:
    """A notebook's code cells, parsed."""

    def __init__(self, path: Path):
        self.path = path
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = [(i + 1, "".join(c["source"])) for i, c in enumerate(cells) if c["cell_type"] == "code"]
        self.positions = [position for position, _ in code]  # 1-based, markdown cells counted
        self.sources = [source for _, source in code]
        self.trees = [ast.parse(source, f"{path.name}, cell {p}") for p, source in code]

    def calls(self, function: Callable, assigned_to: str | None = None) -> list[Call]:
        """Every call of ``function`` in source order; with ``assigned_to``, only those in the value of
        an assignment to that name."""
        found = []
        for cell, tree in enumerate(self.trees):
            roots = [tree]
            if assigned_to is not None:
                roots = [
                    node.value
                    for node in ast.walk(tree)
                    if isinstance(node, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == assigned_to for t in node.targets)
                ]
            nodes = [n for root in roots for n in ast.walk(root) if isinstance(n, ast.Call)]
            for node in sorted(nodes, key=lambda n: (n.lineno, n.col_offset)):
                if _called(node) == function.__name__:
                    found.append(self._call(cell, node, function))
        return found

    def _call(self, cell: int, node: ast.Call, function: Callable) -> Call:
        keywords = {keyword.arg: keyword.value for keyword in node.keywords}
        return Call(self, cell, node, function, _bind(function, tuple(node.args), keywords))

    def call(self, function: Callable, assigned_to: str) -> Call:
        """The one call of ``function`` assigned to ``assigned_to``."""
        found = self.calls(function, assigned_to)
        assert len(found) == 1, (
            f"{self.path.name}: expected one `{assigned_to} = ...{function.__name__}(...)`, found "
            f"{len(found)}; if the notebook renamed it, update tests/test_course_models.py"
        )
        return found[0]

    def only_value(self, function: Callable, parameter: str) -> Any:
        """``parameter`` of every call of ``function``, which must all agree."""
        values = {call.value(parameter, {}) for call in self.calls(function)}
        assert len(values) == 1, f"{self.path.name}: {function.__name__}({parameter}=...) takes {values}"
        return values.pop()

    def assignment(self, name: str, cell: int, line: int) -> tuple[ast.expr, int] | None:
        """What the last top-level statement before ``line`` of code cell ``cell``, or else of an
        earlier cell, assigns to ``name``, and that statement's cell."""
        for index in range(cell, -1, -1):
            value = None
            for statement in self.trees[index].body:
                if index == cell and statement.lineno >= line:
                    break
                if isinstance(statement, ast.Assign):
                    for target in statement.targets:
                        pairs = [(target, statement.value)]
                        if isinstance(target, ast.Tuple) and isinstance(statement.value, ast.Tuple):
                            pairs = list(zip(target.elts, statement.value.elts, strict=False))
                        value = next((v for t, v in pairs if isinstance(t, ast.Name) and t.id == name), value)
            if value is not None:
                return value, index
        return None

    def resolve(self, node: ast.expr, cell: int, stand_ins: StandIns, what: str) -> Any:
        """The value of expression ``node`` of code cell ``cell``, or an AssertionError naming ``what``."""
        source = ast.unparse(node)
        if source in stand_ins:
            return stand_ins[source](self)
        try:
            return ast.literal_eval(node)
        except ValueError:
            pass
        if isinstance(node, ast.Name) and (found := self.assignment(node.id, cell, node.lineno)):
            return self.resolve(found[0], found[1], stand_ins, what)
        if isinstance(node, ast.List | ast.Tuple):
            elements = [self.resolve(element, cell, stand_ins, what) for element in node.elts]
            return elements if isinstance(node, ast.List) else tuple(elements)
        if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
            left, right = (self.resolve(side, cell, stand_ins, what) for side in (node.left, node.right))
            return OPERATORS[type(node.op)](left, right)
        if (
            isinstance(node, ast.Call)
            and _called(node) == "len"
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Name)
        ):
            found = self.assignment(node.args[0].id, cell, node.lineno)
            if found and isinstance(found[0], ast.Call) and _called(found[0]) == "train_wordpiece":
                # the notebooks' corpora are large enough to fill the vocabulary (a small one gives fewer)
                return self._call(found[1], found[0], text.train_wordpiece).value("vocab_size", stand_ins)
        raise AssertionError(
            f"{what}: cannot tell the value of `{source}`: write it as a literal or a name assigned a "
            "literal, or give the value course_models uses for it in the check's stand-ins"
        )


def stacked_mfccs(notebook: Notebook) -> int:
    """``X_train.shape[1]`` in notebook 04: ``dsp.mfcc(n_mfcc=...)`` coefficients of a frame and of its
    neighbours, ``context_window(frames, left, right)``."""
    left, right = (notebook.only_value(context_window, side) for side in ("left", "right"))
    return (left + 1 + right) * notebook.only_value(dsp.mfcc, "n_mfcc")


def every_phone(notebook: Notebook) -> int:
    """``len(phone_set)`` in notebook 04, the phones its training frames contain (39): course_models
    gives the MLP an output for every phone of the inventory instead (40), as its docstring says."""
    return len(PHONES)


def every_action(notebook: Notebook) -> int:
    """``len(classes)`` in notebook 07: the actions of its 500 training commands, which are all the
    actions of the commands task (corpus.load draws its sentences with sample_texts)."""
    return len({item["labels"]["action"] for item in corpus.sample_texts("train", 2000, tasks="commands")})


class Check(NamedTuple):
    """``notebook`` builds course model ``model`` with the call of ``function`` assigned to ``name``;
    ``stand_ins`` give what course_models uses for each data-dependent argument (by its source)."""

    model: str
    notebook: str
    name: str
    function: Callable
    stand_ins: StandIns


CHECKS = [
    Check("CNN digit classifier", "05_rnn_cnn.ipynb", "cnn", CNNClassifier, {}),
    Check("GRU digit classifier", "05_rnn_cnn.ipynb", "gru", GRUClassifier, {}),
    Check(
        "Transformer command classifier",
        "07_transformer.ipynb",
        "transformer",
        TransformerClassifier,
        {"len(classes)": every_action},
    ),
    Check("BERT (MLM + NSP heads)", "08_bert_mlm_nsp.ipynb", "cfg", BertConfig, {}),
    Check("GPT", "09_gpt.ipynb", "cfg", GPTConfig, {}),
]


def assert_same_sizes(model: str, call: Call, course: dict[str, Any], stand_ins: StandIns) -> None:
    """Every argument in ``course`` (what course_models passes for ``model``) but dropout is the
    notebook's."""
    wrong = [
        f"{parameter}={value!r} in the notebook, {parameter}={course[parameter]!r} in course_models"
        for parameter in course
        if parameter not in NOT_SIZES and (value := call.value(parameter, stand_ins)) != course[parameter]
    ]
    assert not wrong, (
        f"{call.where()}: course_models builds its {model!r} with other {call.function.__name__} sizes than "
        "the notebook: "
        + "; ".join(wrong)
        + ". Copy the notebook's into speechlm/responsible/course_models.py."
    )


@pytest.fixture(scope="module")
def built() -> tuple[dict[str, list[dict]], dict[str, nn.Module]]:
    """The arguments course_models passes to each checked function (by parameter, defaults included),
    and its models by name."""
    calls: dict[str, list[dict]] = {check.function.__name__: [] for check in CHECKS}
    with pytest.MonkeyPatch.context() as patch:
        for check in CHECKS:

            def record(*args, _function=check.function, **kwargs):
                calls[_function.__name__].append(_bind(_function, args, kwargs))
                return _function(*args, **kwargs)

            patch.setattr(COURSE, check.function.__name__, record)
        models = {m.name: m.model for m in COURSE.course_models(seconds=0.1, tokens=1)}
    return calls, models


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: f"{c.notebook[:2]}-{c.function.__name__}")
def test_sizes_are_the_notebooks(check, built):
    calls, _ = built
    (course,) = calls[check.function.__name__]
    call = Notebook(NOTEBOOKS / check.notebook).call(check.function, check.name)
    assert_same_sizes(check.model, call, course, check.stand_ins)


def test_mlp_sizes_are_notebook_04s(built):
    _, models = built
    layers = [layer for layer in models["MLP phone classifier"] if isinstance(layer, nn.Linear)]
    calls = Notebook(NOTEBOOKS / "04_backprop.ipynb").calls(nn.Linear, "torch_net")
    assert len(calls) == len(layers), f"notebook 04's torch_net has {len(calls)} linear layers"
    stand_ins = {"X_train.shape[1]": stacked_mfccs, "len(phone_set)": every_phone}
    for call, layer in zip(calls, layers, strict=True):
        sizes = {
            "in_features": layer.in_features,
            "out_features": layer.out_features,
            "bias": layer.bias is not None,
        }
        assert_same_sizes("MLP phone classifier", call, sizes, stand_ins)


def test_speech_encoders_are_the_recipes_the_notebooks_load(built):
    _, models = built
    load = Notebook(NOTEBOOKS / "11_speech_pretraining.ipynb").call(pretrained.load, "encoder")
    hubert = pretrained.RECIPES[load.value("name", {})].hubert.encoder
    assert models["HuBERT speech encoder"].config == hubert, load.where()
    load_asr = Notebook(NOTEBOOKS / "12_ctc_finetuning.ipynb").call(pretrained.load_asr, "asr")
    asr = pretrained.RECIPES[pretrained.ASR_RECIPES[load_asr.value("name", {})].encoder].hubert.encoder
    assert models["CTC speech recogniser"].encoder.config == asr, load_asr.where()


def test_a_size_changed_in_the_notebook_fails_the_check(built, tmp_path):
    """A copy of notebook 09 whose GPT is wider in time than course_models' one fails the check."""
    calls, _ = built
    check = next(c for c in CHECKS if c.function is GPTConfig)
    (course,) = calls["GPTConfig"]
    written = Notebook(NOTEBOOKS / check.notebook).call(GPTConfig, check.name).value("max_len", {})
    source = (NOTEBOOKS / check.notebook).read_text(encoding="utf-8")
    assert source.count(f"max_len={written},") == 1
    changed = tmp_path / check.notebook
    wider = course["max_len"] + 16
    changed.write_text(source.replace(f"max_len={written},", f"max_len={wider},"), encoding="utf-8")
    call = Notebook(changed).call(GPTConfig, check.name)
    expected = rf"(?s)09_gpt.ipynb, cell \d+: .*GPTConfig.*: max_len={wider} in the notebook, "
    expected += rf"max_len={course['max_len']} in course_models"
    with pytest.raises(AssertionError, match=expected):
        assert_same_sizes(check.model, call, course, check.stand_ins)


def test_token_inputs_fill_the_language_models_context():
    models = {m.name: m for m in COURSE.course_models(seconds=0.1, tokens=48)}
    for name in ("BERT (MLM + NSP heads)", "GPT"):
        (ids,) = models[name].args
        assert ids.shape == (1, 48)
        models[name].model.eval()(ids)
    with pytest.raises(ValueError, match="tokens <= 48"):
        COURSE.course_models(tokens=49)
