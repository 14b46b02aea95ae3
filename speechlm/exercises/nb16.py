"""Exercises of notebook 16 (speech translation): teacher forcing, one beam-search step, length
normalisation and the character n-gram precision inside chrF."""

from __future__ import annotations

from collections import Counter

import numpy as np

from speechlm.exercises import Exercise, allclose, equal, register

_ZH = "打开客厅的灯关上车库门我喜欢这部影片北京星期三天气怎么样"


def _teacher_forcing(targets: list[int], bos_id: int, eos_id: int) -> tuple[list[int], list[int]]:
    return [bos_id, *targets], [*targets, eos_id]


def _target_cases(rng: np.random.Generator):
    yield ([5, 6, 7], 2, 2)
    yield ([], 2, 2)
    yield ([int(x) for x in rng.integers(3, 40, size=9)], 1, 2)


def _beam_step(scores: np.ndarray, log_probs: np.ndarray, width: int) -> list[tuple[int, int]]:
    total = scores[:, None] + log_probs
    order = np.argsort(-total, axis=None, kind="stable")[:width]
    return [(int(i) // log_probs.shape[1], int(i) % log_probs.shape[1]) for i in order]


def _beam_cases(rng: np.random.Generator):
    yield (np.array([-0.1, -2.0]), np.log(np.array([[0.5, 0.3, 0.2], [0.9, 0.05, 0.05]])), 2)
    yield (np.array([0.0]), np.log(np.array([[0.1, 0.6, 0.3]])), 1)
    for k, v in ((3, 6), (4, 10)):
        logits = rng.standard_normal((k, v)) * 2
        log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        yield (-rng.random(k) * 5, log_probs, k)


def _best_normalised(log_probs: list[float], lengths: list[int], alpha: float) -> int:
    return int(np.argmax(np.asarray(log_probs) / np.asarray(lengths, dtype=float) ** alpha))


def _normalise_cases(rng: np.random.Generator):
    yield ([-2.0, -3.0], [2, 6], 0.0)
    yield ([-2.0, -3.0], [2, 6], 1.0)
    yield ([-4.0, -4.5, -9.0], [3, 4, 12], 0.6)
    n = 6
    yield ([float(x) for x in -rng.random(n) * 10], [int(x) for x in rng.integers(1, 15, size=n)], 1.0)


def _ngram_precision(hypothesis: str, reference: str, n: int) -> float:
    hyp, ref = hypothesis.replace(" ", ""), reference.replace(" ", "")
    hyp_counts = Counter(hyp[i : i + n] for i in range(len(hyp) - n + 1))
    ref_counts = Counter(ref[i : i + n] for i in range(len(ref) - n + 1))
    total = sum(hyp_counts.values())
    if total == 0:
        return 0.0
    return sum(min(c, ref_counts[g]) for g, c in hyp_counts.items()) / total


def _precision_cases(rng: np.random.Generator):
    yield ("打开客厅的灯", "打开客厅的灯", 2)
    yield ("打开打开打开", "打开客厅的灯", 2)
    yield ("灯", "打开客厅的灯", 2)
    yield ("the cat sat", "the cat sat on the mat", 3)
    chars = np.array(list(_ZH))
    for n in (1, 3):
        yield ("".join(rng.choice(chars, size=12)), "".join(rng.choice(chars, size=10)), n)


register(
    Exercise(
        id="16.teacher_forcing",
        prompt="""
Write `teacher_forcing(targets, bos_id, eos_id)` that returns the decoder's input and output for one
target sequence under teacher forcing, as two lists: the input is `bos_id` followed by the targets,
the output is the targets followed by `eos_id`. [5, 6, 7] with bos 2, eos 2 -> ([2, 5, 6, 7], [5, 6, 7, 2]).
Compare with `speechlm.seq2seq.teacher_forcing_batch`.
""",
        prompt_zh="""
编写 `teacher_forcing(targets, bos_id, eos_id)`：在教师强制下，为一条目标序列返回解码器的输入和输出，
形式为两个列表：输入是 `bos_id` 后接目标序列，输出是目标序列后接 `eos_id`。
例如 [5, 6, 7]、bos 为 2、eos 为 2 -> ([2, 5, 6, 7], [5, 6, 7, 2])。
与 `speechlm.seq2seq.teacher_forcing_batch` 对照。
""",
        reference=_teacher_forcing,
        cases=_target_cases,
        hints=(
            "Position t of the decoder's input is the token just before position t of its output: the two "
            "are the same sequence shifted by one.",
            "Put the start token in front of the targets for the input and the end token after them for the "
            "output; both are one token longer than the targets, and an empty target still gives one of "
            "each.",
        ),
        hints_zh=(
            "解码器输入的第 t 个位置，是其输出第 t 个位置前面的那个词元：两者是同一个序列错开一位。",
            "输入是在目标序列前面加上起始词元，输出是在目标序列后面加上结束词元；"
            "两者都比目标序列长一个词元，目标序列为空时，也各有一个词元。",
        ),
        compare=equal,
    )
)

register(
    Exercise(
        id="16.beam_step",
        prompt="""
Write `beam_step(scores, log_probs, width)`: one step of beam search. `scores` (k,) are the
log-probabilities of the k prefixes in the beam, `log_probs` (k, V) the model's next-token
log-probabilities after each prefix. Return the `width` best extensions as a list of
(row, token) pairs, best first, ranked by scores[row] + log_probs[row, token]
(ties: the smaller flat index row * V + token first).
""",
        prompt_zh="""
编写 `beam_step(scores, log_probs, width)`：束搜索的一步。`scores` (k,) 是束中 k 个前缀的对数概率，
`log_probs` (k, V) 是模型在每个前缀之后给出的下一个词元的对数概率。按 scores[row] + log_probs[row, token]
排序，以 (row, token) 对的列表返回最好的 `width` 个扩展，最好的排在最前
（得分相同时，扁平下标 row * V + token 较小者在前）。
""",
        reference=_beam_step,
        cases=_beam_cases,
        hints=(
            "Every (row, token) pair is a candidate extension: score all k V of them at once, not only the "
            "best token of each row.",
            "A candidate's score is its prefix's score plus the token's log-probability (broadcast the k "
            "scores over the columns). Rank the flattened (k, V) table from best to worst with ties in "
            "flat-index order (a stable sort of the negated scores), keep the first `width`, and turn each "
            "flat index i back into (i div V, i mod V).",
        ),
        hints_zh=(
            "每个 (row, token) 对都是一个候选扩展：要一次给全部 k V 个候选打分，而不只是每行最好的那个词元。",
            "候选的得分是其前缀的得分加上该词元的对数概率（把 k 个得分沿各列广播）。"
            "把展平后的 (k, V) 表从好到差排序，得分相同时按扁平下标的顺序（对取负的得分做稳定排序），"
            "保留前 `width` 个，再把每个扁平下标 i 换回 (i div V, i mod V)。",
        ),
        compare=equal,
    )
)

register(
    Exercise(
        id="16.length_normalise",
        prompt="""
Write `best_hypothesis(log_probs, lengths, alpha)`: the index of the finished hypothesis with the
highest length-normalised score log_prob / length ** alpha. alpha = 0 is plain log-probability
(which favours short outputs); alpha = 1 is the mean log-probability per token.
""",
        prompt_zh="""
编写 `best_hypothesis(log_probs, lengths, alpha)`：返回长度归一化得分 log_prob / length ** alpha
最高的那个已完成假设的下标。alpha = 0 就是普通的对数概率（偏向短输出）；alpha = 1 是每个词元的
平均对数概率。
""",
        reference=_best_normalised,
        cases=_normalise_cases,
        hints=(
            "Compute every hypothesis' normalised score first, then pick the index of the best one.",
            "Divide each log-probability by its length raised to the power alpha (lengths as floats; "
            "alpha = 0 divides by 1). Log-probabilities are negative, so the best score is the largest, "
            "the one closest to zero. Return the index as an int.",
        ),
        hints_zh=(
            "先算出每个假设归一化后的得分，再挑出最好那个的下标。",
            "把每个对数概率除以其长度的 alpha 次幂（长度用浮点数；alpha = 0 时除以 1）。"
            "对数概率是负数，所以最好的得分是最大的那个，也就是最接近零的那个。"
            "以 int 返回下标。",
        ),
        compare=equal,
    )
)

register(
    Exercise(
        id="16.ngram_precision",
        prompt="""
Write `ngram_precision(hypothesis, reference, n)`: chrF's character n-gram precision. Remove the
spaces, count the character n-grams of each string, and return the number of hypothesis n-grams
that also occur in the reference, each counted at most as often as in the reference (clipped),
divided by the number of hypothesis n-grams (0.0 if the hypothesis has none).
""",
        prompt_zh="""
编写 `ngram_precision(hypothesis, reference, n)`：chrF 中的字符 n 元语法精确率。去掉空格，统计每个字符串的
字符 n 元语法，返回假设中同样出现在参考译文里的 n 元语法个数（每个 n 元语法最多计入它在参考译文中出现的
次数，即截断计数），除以假设中 n 元语法的总数（假设中没有 n 元语法时返回 0.0）。
""",
        reference=_ngram_precision,
        cases=_precision_cases,
        hints=(
            "Remove the spaces, then count the character n-grams of each string (a Counter does it): the "
            "n-gram starting at every position that leaves n characters.",
            "A hypothesis n-gram is matched at most as many times as it occurs in the reference (clipping), "
            "so repeating a right n-gram earns nothing. Add up the clipped counts and divide by the number "
            "of hypothesis n-grams; a hypothesis shorter than n has none, and the precision is 0.0.",
        ),
        hints_zh=(
            "去掉空格，然后统计每个字符串的字符 n 元语法（用 Counter 即可）："
            "从每个后面还剩 n 个字符的位置开始，各取一个 n 元语法。",
            "假设中的一个 n 元语法，最多按它在参考译文中出现的次数算作匹配（截断），"
            "因此重复一个正确的 n 元语法不会多得分。把截断后的计数相加，"
            "再除以假设中 n 元语法的个数；比 n 短的假设没有 n 元语法，"
            "精确率为 0.0。",
        ),
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)
