"""The Chinese edition (issue 20): in sync with the English by construction, and the check proves it.

A toy course in ``tmp_path`` (one notebook, its solutions, a glossary) gets its Chinese edition from
``course zh-new`` and a translation; then each way of drifting (an English cell edited, a cell added
on one side, changed code, an untranslated cell, a glossary term rendered differently...) must fail
``course check`` naming the Chinese notebook and cell. The exercises speak Chinese after
``speechlm.setup(language="zh")``.
"""

import importlib.util
import json
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest

import speechlm
from speechlm import exercises
from speechlm.cli import main
from speechlm.dev import checks, course, glossary, headers, zh, zh_sync

ROOT = Path(__file__).resolve().parents[1]
ZH_NB = "notebooks/zh/01_toy_topic.ipynb"
ZH_SOL = "solutions/zh/01_toy_topic_solutions.ipynb"
COMMANDS = (
    "<!-- open-command -->\n```bash\necho open\n```\n\n<!-- test-command -->\n```bash\necho test\n```\n"
)
GLOSSARY = """
[[term]]
en = "sampling"
zh = "采样"
definition = "按固定的时间间隔取信号的值。"
notebook = "01"

[[term]]
en = "short-time Fourier transform"
zh = "短时傅里叶变换"
definition = "逐帧加窗后做的傅里叶变换。"
notebook = "01"

[[term]]
en = "Fourier transform"
zh = "傅里叶变换"
definition = "把信号分解为正弦分量。"
notebook = "01"

[[term]]
en = "DFT"
zh = "离散傅氏变换"
definition = "离散傅里叶变换的缩写：少于 4 个字母，不检查。"
notebook = "01"

[[term]]
en = "window"
zh = "窗函数 / 窗"
definition = "分帧后与每一帧相乘的函数。"
notebook = "01"
"""
ENGLISH_CELLS = [
    "## Sampling\n\nWe sample a signal, then take its short-time Fourier transform (a DFT per frame).",
    "x = np.arange(3)\nx.sum()",
    "Each frame is multiplied by a window; see `window_fn` and $w[n]$.",
    "$$X_k = \\sum_n x_n e^{-2 \\pi i k n / N}$$",
]
CHINESE = {
    ZH_NB: {
        2: "## 采样\n\n我们先对信号采样，再求它的短时傅里叶变换（每帧做一次 DFT）。",
        4: "每一帧都乘以一个窗函数；见 `window_fn` 和 $w[n]$。",
    },
    ZH_SOL: {2: "解答：把三个样本相加。"},
}


def _toy_course(tmp_path: Path) -> Path:
    """A course with notebook 01 and its solutions, conforming, with README.zh.md and a glossary."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for folder in ("notebooks", "solutions", "docs"):
        (tmp_path / folder).mkdir()
    (tmp_path / "notebooks" / "course.toml").write_text(
        '[parts]\nI = "Signals"\n[parts_zh]\nI = "信号"\n\n'
        '[[notebook]]\nfile = "01_toy_topic.ipynb"\ntitle = "Toy"\npart = "I"\ntopic = "toys"\n'
        'summary = "A toy."\nobjectives = ["play"]\nprerequisites = ["00"]\ncold = "trains a toy"\n'
        'title_zh = "玩具"\nsummary_zh = "一个玩具。"\ntopic_zh = "玩具"\nobjectives_zh = ["玩"]\n'
        'cold_zh = "训练一个玩具"\n',
        encoding="utf-8",
    )
    timings = {
        "notebooks/01_toy_topic.ipynb": {"warm_s": 12.0, "cold_s": 95.0, "headline": "toy accuracy 90%"}
    }
    (tmp_path / "notebooks" / "timings.json").write_text(json.dumps(timings))
    (tmp_path / "README.md").write_text(f"# Toy\n\n{COMMANDS}\n{headers.MAP_START}\n{headers.MAP_END}\n")
    readme_zh = f"# 玩具\n\n{COMMANDS}\n{headers.MAP_START}\n{headers.MAP_END}\n"
    (tmp_path / "README.zh.md").write_text(readme_zh, encoding="utf-8")
    (tmp_path / "docs" / "glossary.toml").write_text(GLOSSARY, encoding="utf-8")
    for rel, cells in (
        ("notebooks/01_toy_topic.ipynb", ENGLISH_CELLS),
        ("solutions/01_toy_topic_solutions.ipynb", ["Solution: add the three samples.", ENGLISH_CELLS[1]]),
    ):
        nb = nbformat.v4.new_notebook()
        setup = nbformat.v4.new_code_cell(f"{headers.IMPORTS_MARKER}\nimport numpy as np")
        setup.metadata["tags"] = ["setup"]
        make = {False: nbformat.v4.new_markdown_cell, True: nbformat.v4.new_code_cell}
        nb.cells = [setup, *(make[source.startswith("x =")](source) for source in cells)]
        nbformat.write(nb, tmp_path / rel)
    headers.write_headers(course.load_course(tmp_path))
    return tmp_path


def _edit(path: Path, edit) -> None:
    nb = nbformat.read(path, as_version=4)
    edit(nb)
    nbformat.write(nb, path)


def _translate(root: Path) -> None:
    """What a translator does: each markdown cell in Chinese; the hashes stay those zh-new set."""
    for rel, cells in CHINESE.items():
        _edit(root / rel, lambda nb, cells=cells: [nb.cells[i].update(source=s) for i, s in cells.items()])


def _problems(root: Path) -> list[str]:
    return checks.check_course(course.load_course(root))


@pytest.fixture
def translated(tmp_path, monkeypatch):
    """The toy course with its Chinese edition, translated and passing the check."""
    root = _toy_course(tmp_path)
    monkeypatch.chdir(root)
    assert main(["course", "zh-new", "01"]) == 0
    _translate(root)
    assert _problems(root) == []
    return root


def test_zh_new_copies_the_english_and_the_check_lists_only_the_untranslated_cells(
    tmp_path, monkeypatch, capsys
):
    root = _toy_course(tmp_path)
    monkeypatch.chdir(root)
    assert main(["course", "zh-new", "01"]) == 0
    assert f"created {ZH_NB}" in capsys.readouterr().out
    nb = nbformat.read(root / ZH_NB, as_version=4)
    english = nbformat.read(root / "notebooks/01_toy_topic.ipynb", as_version=4)
    assert [c.metadata[zh.ZH_KEY]["en_sha"] for c in nb.cells] == [zh.en_sha(c.source) for c in english.cells]
    assert nb.cells[3].source == english.cells[3].source and nb.cells[2].source == english.cells[2].source
    assert 'language="zh"' in nb.cells[1].source and nb.cells[0].source.startswith("# 01 · 玩具")
    assert "(notebooks/zh/01_toy_topic.ipynb)" in (root / "README.zh.md").read_text(encoding="utf-8")
    # Everything passes but the markdown cells with prose (cell 5 is a formula only).
    assert sorted(_problems(root)) == [
        f"{ZH_NB}: cell 2 is not translated: '## Sampling'",
        f"{ZH_NB}: cell 4 is not translated: '{ENGLISH_CELLS[2]}'",
        f"{ZH_SOL}: cell 2 is not translated: 'Solution: add the three samples.'",
    ]
    assert main(["course", "zh-new", "01"]) == 2  # never overwrites a translation
    assert "exists already" in capsys.readouterr().err


def test_headers_write_the_chinese_header_preamble_and_map_from_the_same_measurements(translated):
    c = course.load_course(translated)
    assert headers.write_headers(c) == []  # idempotent
    en_header = nbformat.read(translated / "notebooks/01_toy_topic.ipynb", as_version=4).cells[0].source
    nb = nbformat.read(translated / ZH_NB, as_version=4)
    assert "**Run time:** 12 s warm, 1.6 min cold: trains a toy" in en_header
    assert "**运行时间：** 有缓存时 12 秒，首次运行（空缓存）1.6 分钟：训练一个玩具" in nb.cells[0].source
    assert "**所属部分：** 第一部分：信号" in nb.cells[0].source and "- 玩" in nb.cells[0].source
    english_setup = nbformat.read(translated / "notebooks/01_toy_topic.ipynb", as_version=4).cells[1].source
    assert nb.cells[1].source == english_setup.replace(
        headers.setup_preamble(c.install_source()), headers.setup_preamble(c.install_source(), "zh")
    )
    assert nb.cells[1].source.count('language="zh"') == 1
    readme = (translated / "README.zh.md").read_text(encoding="utf-8")
    assert "| **第一部分：信号** |" in readme and "| toy accuracy 90% |" in readme
    assert "| 01 | [玩具](notebooks/zh/01_toy_topic.ipynb) | 玩具 | 有缓存时 12 秒" in readme


def test_editing_an_english_markdown_cell_makes_its_translation_stale(translated, capsys):
    _edit(
        translated / "notebooks/01_toy_topic.ipynb",
        lambda nb: nb.cells[4].update(source=nb.cells[4].source + " The window tapers the edges."),
    )
    problems = _problems(translated)
    assert len(problems) == 1 and problems[0].startswith(f"{ZH_NB}: cell 4 is stale: English cell 4 changed")
    assert main(["course", "check"]) == 1
    capsys.readouterr()
    assert main(["course", "zh-stale"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[-1] == "course zh-stale: 1 item(s) to translate"
    assert listed[0].startswith(
        f"{ZH_NB} cell 4 (markdown): stale, English cell 4 changed; translate it again"
    )
    # Translated again and the hash recorded: in sync again.
    new_sha = zh.en_sha(
        nbformat.read(translated / "notebooks/01_toy_topic.ipynb", as_version=4).cells[4].source
    )
    _edit(translated / ZH_NB, lambda nb: nb.cells[4].metadata[zh.ZH_KEY].update(en_sha=new_sha))
    assert _problems(translated) == []


def _set_cell(index: int, cell):
    def edit(nb):
        cell.metadata = nb.cells[index].metadata
        nb.cells[index] = cell

    return edit


ENGLISH_EDITS = {
    "a cell added in English": (
        lambda nb: nb.cells.append(nbformat.v4.new_markdown_cell("A new remark.")),
        f"{ZH_NB}: 6 cells, notebooks/01_toy_topic.ipynb has 7: English cell 6 (markdown) has no translation",
    ),
    "a cell removed in English": (
        lambda nb: nb.cells.pop(3),
        f"{ZH_NB}: 6 cells, notebooks/01_toy_topic.ipynb has 5: cell 3 translates no English cell",
    ),
}
CHINESE_EDITS = {
    "a cell added in Chinese": (
        lambda nb: nb.cells.insert(3, nbformat.v4.new_markdown_cell("多出来的说明。")),
        f"{ZH_NB}: 7 cells, notebooks/01_toy_topic.ipynb has 6: cell 3 translates no English cell",
    ),
    "a cell removed in Chinese": (
        lambda nb: nb.cells.pop(4),
        f"{ZH_NB}: 5 cells, notebooks/01_toy_topic.ipynb has 6: English cell 4 (markdown) has no translation",
    ),
    "code changed": (
        lambda nb: nb.cells[3].update(source="x = np.arange(4)\nx.sum()"),
        f"{ZH_NB}: cell 3: code differs from the English cell; copy it",
    ),
    "setup code changed": (
        lambda nb: nb.cells[1].update(source=nb.cells[1].source + "\nimport os"),
        f"{ZH_NB}: cell 1: the setup cell's code below",
    ),
    "preamble edited": (
        lambda nb: nb.cells[1].update(source=nb.cells[1].source.replace('language="zh"', 'language="en"')),
        f"{ZH_NB}: cell 1: the setup cell's preamble is stale",
    ),
    "header edited": (
        lambda nb: nb.cells[0].update(source=nb.cells[0].source + "\n手改"),
        f"{ZH_NB}: cell 0: the header cell is stale",
    ),
    "untranslated cell": (
        lambda nb: nb.cells[4].update(source=ENGLISH_CELLS[2]),
        f"{ZH_NB}: cell 4 is not translated",
    ),
    "glossary term rendered differently": (
        lambda nb: nb.cells[2].update(source=nb.cells[2].source.replace("短时傅里叶变换", "短时傅氏变换")),
        f"{ZH_NB}: cell 2 does not use the glossary's rendering of 'short-time Fourier transform'",
    ),
    "cell type changed": (
        _set_cell(4, nbformat.v4.new_code_cell("pass")),
        f"{ZH_NB}: cell 4 is a code cell, English cell 4 a markdown cell",
    ),
    "tags changed": (
        lambda nb: nb.cells[3].metadata.update(tags=["raises-exception"]),
        f"{ZH_NB}: cell 3: its metadata (tags) differs from English cell 3's",
    ),
    "hash missing": (
        lambda nb: nb.cells[2].metadata.pop(zh.ZH_KEY),
        f"{ZH_NB}: cell 2 has no metadata speechlm_zh.en_sha",
    ),
    "stored output": (
        lambda nb: nb.cells[3].outputs.append(nbformat.v4.new_output("stream", text="3")),
        f"{ZH_NB}: cell 3 has stored outputs",
    ),
}


@pytest.mark.parametrize("edit", sorted(ENGLISH_EDITS) + sorted(CHINESE_EDITS))
def test_the_check_names_the_chinese_notebook_and_cell_that_drifted(translated, edit):
    change, message = ENGLISH_EDITS.get(edit) or CHINESE_EDITS[edit]
    target = "notebooks/01_toy_topic.ipynb" if edit in ENGLISH_EDITS else ZH_NB
    _edit(translated / target, change)
    problems = _problems(translated)
    assert any(p.startswith(message) for p in problems), problems


def test_zh_stale_lists_a_cell_added_in_english_as_missing(translated, capsys):
    _edit(
        translated / "notebooks/01_toy_topic.ipynb",
        lambda nb: nb.cells.insert(3, nbformat.v4.new_markdown_cell("Now sum them.")),
    )
    assert main(["course", "zh-stale", "01"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{ZH_NB}: English cell 3 (markdown) has no translation; add one: 'Now sum them.'",
        "course zh-stale: 1 item(s) to translate",
    ]


def test_readme_zh_must_keep_readme_commands(translated):
    path = translated / "README.zh.md"
    path.write_text(path.read_text(encoding="utf-8").replace("echo open", "echo 打开"), encoding="utf-8")
    assert _problems(translated) == [
        "README.zh.md: the <!-- open-command --> block must be README.md's, unchanged"
    ]


def test_the_glossary_is_rendered_by_notebook_and_checked(translated):
    text = (translated / "docs" / "glossary.md").read_text(encoding="utf-8")
    assert "| 笔记本 | English | 中文 | 定义 |" in text
    assert "| 01 | short-time Fourier transform | 短时傅里叶变换 | 逐帧加窗后做的傅里叶变换。 |" in text
    (translated / "docs" / "glossary.md").write_text(text + "hand edit\n", encoding="utf-8")
    assert _problems(translated) == [
        "docs/glossary.md: stale or edited by hand; run `python -m speechlm course headers`"
    ]
    toml = translated / "docs" / "glossary.toml"
    toml.write_text(
        GLOSSARY + '\n[[term]]\nen = "sampling"\nzh = "采样"\ndefinition = "重复。"\nnotebook = "7"\n'
    )
    problems = "\n".join(_problems(translated))
    assert "'sampling' is listed twice" in problems and "names notebook '7'" in problems


def _term(en: str, zh_: str) -> glossary.Term:
    return glossary.Term(en, zh_, "定义。", "01")


def test_the_glossary_rule_matches_whole_words_outside_code_and_math():
    fourier = _term("Fourier transform", "傅里叶变换")
    stft = _term("short-time Fourier transform", "短时傅里叶变换")
    window = _term("window", "窗函数 / 窗（window）")
    terms = [fourier, stft, window, _term("DFT", "离散傅氏变换")]
    missing = glossary.missing_terms
    assert missing("The Fourier\ntransform of a frame.", "帧的变换。", terms) == [fourier]  # a line break
    assert missing("Take the FOURIER TRANSFORMS.", "取傅里叶变换。", terms) == []  # case, plural
    assert missing("Use `fourier transform()` and $window$.", "用函数。", terms) == []  # code and math
    assert missing("A windowed [frame](http://window.org).", "加窗的帧。", terms) == []  # words, links
    assert missing("The DFT.", "DFT。", terms) == []  # under 4 letters: skipped
    cited = "Harris, *Windows for the Fourier transform*, 1978."
    assert missing(cited, "Harris, *Windows for the Fourier transform*, 1978。", terms) == []  # a title kept
    assert missing(cited, "Harris，*论窗*，1978。", terms) == [fourier]
    assert missing("The short-time Fourier transform.", "短时傅里叶变换。", terms) == []  # longest match
    assert missing("The short-time Fourier transform.", "傅里叶变换。", terms) == [stft]
    assert missing("Each window.", "每个窗。", terms) == [] and missing(
        "A window.", "一个 Window。", terms
    ) == [window]
    assert missing("A window.", "一个视窗。", terms, exempt=["Window"]) == []


@pytest.fixture
def zh_exercise(monkeypatch):
    """A tiny exercise with a translation, and a session in which no hint has been shown yet."""
    ex = exercises.Exercise(
        id="99.zh_toy",
        prompt="Write `double(x)` that returns 2 x.",
        reference=lambda x: 2 * x,
        cases=lambda rng: [(1.0,), (2.5,)],
        hints=("Multiply.", "Return x + x."),
        prompt_zh="写一个函数 `double(x)`，返回 2 x。",
        hints_zh=("用乘法。", "返回 x + x。"),
    )
    exercises.get("00.db")  # load the course's exercises first
    monkeypatch.setitem(exercises._REGISTRY, ex.id, ex)
    monkeypatch.setattr(exercises, "_HINTS_SHOWN", {})
    monkeypatch.setattr(exercises, "_FALLBACK_NOTED", set())
    yield ex
    exercises.set_language("en")


def test_setup_in_chinese_makes_the_exercises_speak_chinese(zh_exercise, capsys):
    speechlm.setup(seed=0, quiet=True, language="zh")
    assert exercises.get_language() == "zh"
    exercises.show("99.zh_toy")
    assert capsys.readouterr().out == "练习 99.zh_toy\n写一个函数 `double(x)`，返回 2 x。\n"
    assert not exercises.check("99.zh_toy", lambda x: 3 * x)
    assert capsys.readouterr().out == (
        "[未通过] 99.zh_toy：第 1/2 个用例未通过，输入为（浮点数 1.0）：数值与期望值不同（最大绝对误差 1）："
        "应为 2.0，实际得到 3.0\n提示 1/2：用乘法。\n"
        '（更多帮助：exercises.hint("99.zh_toy") 显示第 2 条提示，共 2 条。）\n'
    )
    exercises.hint("99.zh_toy")
    assert capsys.readouterr().out == (
        "99.zh_toy 的提示 2/2：返回 x + x。\n"
        "（2 条提示已全部显示；参考解答在 solutions/zh/99_*.ipynb 中。）\n"
    )
    assert not exercises.check("99.zh_toy", lambda x: np.zeros(2))
    assert "应为单个数（float），实际得到形状为 (2,)、dtype 为 float64 的数组" in capsys.readouterr().out

    def stub(x):
        raise NotImplementedError

    assert not exercises.check("99.zh_toy", stub)
    assert capsys.readouterr().out.startswith("[未通过] 99.zh_toy：还没完成：函数抛出了 NotImplementedError")
    assert exercises.check("99.zh_toy", lambda x: 2 * x)
    assert capsys.readouterr().out == "[通过] 99.zh_toy：全部 2 个隐藏用例都通过了。\n"
    speechlm.setup(seed=0, quiet=True)  # English again, word for word as before
    exercises.show("99.zh_toy")
    assert capsys.readouterr().out == "Exercise 99.zh_toy\nWrite `double(x)` that returns 2 x.\n"


def test_an_untranslated_exercise_falls_back_to_english_and_says_so_once(zh_exercise, capsys, monkeypatch):
    english_only = exercises.Exercise(
        "99.en_only", "Return x.", lambda x: x, lambda rng: [(1.0,)], ("Nudge.", "Idea.")
    )
    monkeypatch.setitem(exercises._REGISTRY, english_only.id, english_only)
    exercises.set_language("zh")
    exercises.show("99.en_only")
    exercises.show("99.en_only")
    note = "（练习 99.en_only 还没有中文版，下面用英文原文。）\n"
    assert capsys.readouterr().out == note + "练习 99.en_only\nReturn x.\n" * 2
    exercises.check("99.en_only", lambda x: x + 1)
    assert "\n提示 1/2：Nudge.\n" in capsys.readouterr().out


def test_the_language_is_en_or_zh_and_a_translation_has_every_hint(zh_exercise):
    with pytest.raises(ValueError, match=r"language must be 'en'.*got 'fr'"):
        speechlm.setup(seed=0, quiet=True, language="fr")
    assert exercises.get_language() == "en"
    args = ("99.bad", "Prompt.", lambda x: x, lambda rng: [(1.0,)], ("Nudge.", "Idea."))
    with pytest.raises(ValueError, match="translate the 2 hints one by one"):
        exercises.Exercise(*args, prompt_zh="题目。", hints_zh=("只有一条。",))
    with pytest.raises(ValueError, match="both prompt_zh and hints_zh"):
        exercises.Exercise(*args, prompt_zh="题目。")


def test_readme_zh_has_the_readme_commands_and_a_start_here():
    english = (ROOT / "README.md").read_text(encoding="utf-8")
    chinese = (ROOT / "README.zh.md").read_text(encoding="utf-8")
    for name in ("open-command", "test-command"):
        assert zh_sync.readme_command(chinese, name) == zh_sync.readme_command(english, name) is not None
    assert "## 从这里开始" in chinese and headers.MAP_START in chinese and headers.MAP_END in chinese


def test_course_toml_gives_every_notebook_and_part_in_chinese():
    assert zh_sync._course_toml_problems(course.load_course(ROOT)) == []


def test_pytest_collects_two_chinese_notebooks_and_nothing_else_there():
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    collected = {
        rel: conftest.pytest_ignore_collect(ROOT / rel, None)
        for rel in (
            "notebooks/zh",
            "notebooks/zh/00_welcome.ipynb",
            "notebooks/zh/03_mfcc.ipynb",
            "notebooks/zh/01_speech_signals.ipynb",
            "notebooks/zh/notes.py",
            "solutions/zh",
            "solutions/zh/00_welcome_solutions.ipynb",
            "notebooks/03_mfcc.ipynb",
        )
    }
    assert collected == {
        "notebooks/zh": False,
        "notebooks/zh/00_welcome.ipynb": False,
        "notebooks/zh/03_mfcc.ipynb": False,
        "notebooks/zh/01_speech_signals.ipynb": True,
        "notebooks/zh/notes.py": True,
        "solutions/zh": True,
        "solutions/zh/00_welcome_solutions.ipynb": True,
        "notebooks/03_mfcc.ipynb": None,
    }
