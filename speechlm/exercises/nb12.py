"""Exercises of notebook 12 (CTC fine-tuning): the extended target, the forward recursion, collapse, CER."""

from __future__ import annotations

import numpy as np
import torch

from speechlm import ctc, metrics
from speechlm.exercises import Exercise, allclose, equal, register


def _extend(labels: list[int]) -> list[int]:
    out = [0]
    for label in labels:
        out += [label, 0]
    return out


def _collapse(path: list[int]) -> list[int]:
    out = []
    for i, c in enumerate(path):
        if c != 0 and (i == 0 or c != path[i - 1]):
            out.append(c)
    return out


def _label_cases(rng: np.random.Generator):
    yield ([1, 2, 3],)
    yield ([4],)
    yield ([],)
    yield ([int(x) for x in rng.integers(1, 6, size=9)],)


def _path_cases(rng: np.random.Generator):
    yield ([0, 1, 1, 0, 1, 2, 2, 0, 3],)
    yield ([0, 0, 0],)
    yield ([5, 5, 5, 5],)
    yield ([int(x) for x in rng.integers(0, 4, size=30)],)


def _cer_cases(rng: np.random.Generator):
    yield ("turn on the light", "turn of the light")
    yield ("abc", "")
    yield ("abc", "xabcx")
    yield ("kitchen", "kichen")
    letters = np.array(list("abcd"))

    def words(n: int) -> str:  # single spaces, none at the ends: jiwer strips them before scoring
        return " ".join("".join(rng.choice(letters, size=int(rng.integers(1, 6)))) for _ in range(n))

    yield (words(4), words(3))


register(
    Exercise(
        id="12.extend",
        prompt="""
Write `extend(labels)` that returns CTC's extended target as a list: a blank (0)
before, between and after the labels, so [1, 2, 3] -> [0, 1, 0, 2, 0, 3, 0]
(length 2S + 1; an empty target gives [0]).
""",
        prompt_zh="""
编写 `extend(labels)`，以列表形式返回 CTC 的扩展目标：在各标签之前、之间和之后各放一个
空白符（0），例如 [1, 2, 3] -> [0, 1, 0, 2, 0, 3, 0]（长度为 2S + 1；空目标返回 [0]）。
""",
        reference=_extend,
        cases=_label_cases,
        hints=(
            "The pattern is blank, label, blank, label, ..., blank: one blank more than there are labels.",
            "The result has 2S + 1 entries: the labels sit at the odd positions 1, 3, ..., 2S - 1 in their "
            "order, and every even position holds the blank 0. An empty target leaves the single blank.",
        ),
        hints_zh=(
            "模式是空白符、标签、空白符、标签……空白符：空白符比标签多一个。",
            "结果共有 2S + 1 项：各标签按原来的顺序位于奇数位置 1, 3, ..., 2S - 1，"
            "每个偶数位置都是空白符 0。空目标只剩下一个空白符。",
        ),
        compare=equal,
    )
)

register(
    Exercise(
        id="12.collapse",
        prompt="""
Write `collapse_path(path)`: the CTC collapsing function B. Given a list of per-frame
label ids (0 is the blank), merge runs of repeated ids, then drop the blanks:
[0, 1, 1, 0, 1, 2, 2, 0, 3] -> [1, 1, 2, 3]. Note that a blank between two equal
labels keeps them apart.
""",
        prompt_zh="""
编写 `collapse_path(path)`：CTC 的折叠函数 B。给定逐帧标签编号的列表（0 为空白符），
先合并连续重复的编号，再删去空白符：[0, 1, 1, 0, 1, 2, 2, 0, 3] -> [1, 1, 2, 3]。
注意，两个相同标签之间的空白符会把它们隔开。
""",
        reference=_collapse,
        cases=_path_cases,
        hints=(
            "Two steps, in this order: merge runs of repeated ids, then drop the blanks.",
            "Merging first keeps 1, 0, 1 as two 1s, because the blank separates the two runs; dropping the "
            "blanks first would merge them into one. In one pass: keep an id when it is not the blank and "
            "differs from the id just before it in the path (blanks included).",
        ),
        hints_zh=(
            "分两步，顺序如下：先合并连续重复的编号，再删去空白符。",
            "先合并，1, 0, 1 才会保留为两个 1，因为空白符把两段隔开了；如果先删去空白符，它们就会并成一个。"
            "一遍扫描即可完成：一个编号不是空白符，并且与路径中紧挨在它前面的编号（空白符也算）不同，"
            "就保留它。",
        ),
        compare=equal,
    )
)

register(
    Exercise(
        id="12.cer",
        prompt="""
Write `cer(reference, hypothesis)` for one pair of strings: the Levenshtein
distance between them in characters (substitutions + deletions + insertions,
each costing 1, spaces included) divided by the length of the reference.
Check it against `speechlm.metrics.cer`, which calls jiwer.
""",
        prompt_zh="""
对一对字符串编写 `cer(reference, hypothesis)`：二者在字符级上的编辑距离
（替换 + 删除 + 插入，每种操作代价为 1，空格也算字符）除以参考文本的长度。
可以与调用 jiwer 的 `speechlm.metrics.cer` 对照。
""",
        reference=metrics.cer,
        cases=_cer_cases,
        hints=(
            "Dynamic programming over prefixes: let d[i][j] be the edit distance between the first i "
            "characters of the reference and the first j of the hypothesis.",
            "d[i][0] = i and d[0][j] = j. Every other cell is the cheapest of three moves: a deletion (the "
            "cell above plus 1), an insertion (the cell to the left plus 1), or a match or substitution "
            "(the diagonal cell plus 0 or 1). The CER divides the last cell by the reference's length, "
            "not the hypothesis'.",
        ),
        hints_zh=(
            "在前缀上做动态规划：令 d[i][j] 为参考文本前 i 个字符与假设文本前 j 个字符之间的编辑距离。",
            "d[i][0] = i，d[0][j] = j。其余每个格子取三种操作中代价最小的一种：删除（上方格子加 1）、"
            "插入（左方格子加 1），或者匹配或替换（左上对角格子加 0 或 1）。"
            "CER 用最后一个格子除以参考文本的长度，而不是假设文本的长度。",
        ),
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)


def _ctc_nll(log_probs: np.ndarray, labels: list[int]) -> float:
    loss = ctc.ctc_forward_loss(
        torch.from_numpy(log_probs)[:, None, :], torch.tensor([labels]), [len(log_probs)], [len(labels)],
        reduction="none",
    )  # fmt: skip
    return float(loss[0])


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _ctc_cases(rng: np.random.Generator):
    yield (np.log(np.full((2, 2), 0.5)), [1])  # paths 1-1, 0-1, 1-0: p = 3/4
    yield (_log_softmax(rng.normal(size=(3, 3))), [1, 1])  # a repeat needs a blank between: one path
    yield (_log_softmax(rng.normal(size=(8, 4))), [2, 2, 3])
    yield (_log_softmax(2 * rng.normal(size=(20, 5))), [int(x) for x in rng.integers(1, 5, size=6)])
    # 500 frames: the probability of the labels underflows float64, its logarithm does not
    yield (_log_softmax(3 * rng.normal(size=(500, 6))), [int(x) for x in rng.integers(1, 6, size=30)])


register(
    Exercise(
        id="12.ctc_loss",
        prompt="""
The CTC loss of section 2 for one utterance. Write `ctc_nll(log_probs, labels)`: log_probs (T, C)
are per-frame log-probabilities (each row a log-softmax; class 0 is the blank), labels a non-empty
list of label ids in 1 .. C - 1 with T large enough for them. Return -log p(labels | x), the sum
over every alignment, as a float, with the forward recursion on the extended target l' (12.extend)
computed in log space:
    alpha_0(0) = y_0(blank), alpha_0(1) = y_0(l'_1), every other alpha_0(s) = 0;
    alpha_t(s) = y_t(l'_s) [alpha_{t-1}(s) + alpha_{t-1}(s-1) + alpha_{t-1}(s-2)],
where the s-2 term counts only when l'_s is a label that differs from l'_{s-2};
    p(labels | x) = alpha_{T-1}(2S) + alpha_{T-1}(2S-1).
Compare with `speechlm.ctc.ctc_forward_loss(..., reduction="none")` and `F.ctc_loss`.
""",
        prompt_zh="""
第 2 节的 CTC 损失，针对一条语句。编写 `ctc_nll(log_probs, labels)`：log_probs (T, C)
是逐帧的对数概率（每一行都是一个 log-softmax；类别 0 为空白符），labels 是取值在
1 .. C - 1 中的非空标签编号列表，且 T 足够容纳这些标签。返回 -log p(labels | x)，即对所有
对齐求和的结果，类型为浮点数；在扩展目标 l'（12.extend）上用前向递推计算，全程在对数域中进行：
    alpha_0(0) = y_0(blank), alpha_0(1) = y_0(l'_1), 其余 alpha_0(s) = 0；
    alpha_t(s) = y_t(l'_s) [alpha_{t-1}(s) + alpha_{t-1}(s-1) + alpha_{t-1}(s-2)]，
其中只有当 l'_s 是标签、并且与 l'_{s-2} 不同时，才计入 s-2 项；
    p(labels | x) = alpha_{T-1}(2S) + alpha_{T-1}(2S-1)。
可以与 `speechlm.ctc.ctc_forward_loss(..., reduction="none")` 和 `F.ctc_loss` 对照。
""",
        reference=_ctc_nll,
        cases=_ctc_cases,
        hints=(
            "Fill a (T, 2S + 1) table of log alpha row by row, over the states of the extended target, and "
            "read the answer off the last row. Multiplying hundreds of probabilities underflows to 0, so "
            "never leave log space.",
            "In log space a product of probabilities is a sum of logs, and a sum of probabilities is a "
            "log-sum-exp: the largest term m plus the log of the sum of exp(term - m). An impossible state "
            "holds -inf (take care that a log-sum-exp of only -inf terms stays -inf, not NaN).",
            "The skip from s - 2 is what lets a path leave out a blank: it is allowed into a label, never "
            "into a blank, and never between two equal labels, which must keep a blank between them.",
        ),
        hints_zh=(
            "逐行填一张 (T, 2S + 1) 的 log alpha 表，各列对应扩展目标的各个状态，答案从最后一行读出。"
            "几百个概率相乘会下溢为 0，所以始终不要离开对数域。",
            "在对数域中，概率之积是对数之和，概率之和则是 log-sum-exp：取最大项 m，"
            "再加上各项 exp(项 - m) 之和的对数。不可能到达的状态存 -inf（注意："
            "对全为 -inf 的项做 log-sum-exp，结果应仍为 -inf，而不是 NaN）。",
            "从 s - 2 的跳转，正是让路径能省去一个空白符的那一步：它只能跳入标签，绝不能跳入空白符，"
            "也不能发生在两个相同标签之间，因为它们之间必须保留一个空白符。",
        ),
        compare=allclose(rtol=1e-7, atol=1e-9),
    )
)
