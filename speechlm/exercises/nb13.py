"""Exercises of notebook 13 (spoken language model): the bigram baseline, unit frames, the Griffin-Lim update,
joint sequences."""

from __future__ import annotations

import numpy as np

from speechlm import ngram, slm
from speechlm.exercises import Exercise, allclose, equal, register


def _unit_frames(units: list[int], durations: list[int]) -> list[int]:
    return slm.unit_frames(np.asarray(units), np.asarray(durations)).tolist()


def _unit_frame_cases(rng: np.random.Generator):
    yield ([3, 1], [2, 1])
    yield ([7], [1])
    n = int(rng.integers(2, 12))
    yield ([int(x) for x in rng.integers(0, 100, n)], [int(x) for x in rng.integers(1, 6, n)])


def _phase_update(rebuilt: np.ndarray, previous: np.ndarray, magnitude: np.ndarray, momentum: float):
    update = rebuilt - momentum / (1 + momentum) * previous
    return magnitude * update / (np.abs(update) + 1e-16)


def _phase_cases(rng: np.random.Generator):
    def complex_array(shape):
        return rng.normal(size=shape) + 1j * rng.normal(size=shape)

    yield (np.array([1 + 1j, -2.0]), np.zeros(2, complex), np.array([2.0, 3.0]), 0.99)
    for momentum in (0.0, 0.5, 0.99):
        shape = (int(rng.integers(1, 5)), int(rng.integers(1, 9)))
        yield (complex_array(shape), complex_array(shape), rng.uniform(0, 2, shape), momentum)


def _joint_sequence(text_ids: list[int], units: list[int], n_text: int) -> list[int]:
    return slm.JointVocabulary([f"w{i}" for i in range(n_text)], 100).sequence(
        [f"w{i}" for i in text_ids], units
    )


def _joint_cases(rng: np.random.Generator):
    yield ([0, 1], [5, 9], 2)
    yield ([4], [0], 10)
    n_text = int(rng.integers(5, 50))
    yield (
        [int(x) for x in rng.integers(0, n_text, 4)],
        [int(x) for x in rng.integers(0, 100, int(rng.integers(1, 20)))],
        n_text,
    )


register(
    Exercise(
        id="13.unit_frames",
        prompt="""
Write `unit_frames(units, durations)`: the vocoder's frame-level units. `units` and
`durations` are lists of equal length (durations in 20 ms unit frames); the STFT has a
10 ms hop, so each unit fills 2 * duration STFT frames. Return a list of ints:
unit_frames([3, 1], [2, 1]) -> [3, 3, 3, 3, 1, 1].
""",
        prompt_zh="""
编写 `unit_frames(units, durations)`：声码器使用的帧级单元。`units` 与 `durations`
是等长的列表（时长以 20 ms 的单元帧计）；STFT 的帧移为 10 ms，因此每个单元占
2 * duration 个 STFT 帧。返回一个整数列表：
unit_frames([3, 1], [2, 1]) -> [3, 3, 3, 3, 1, 1]。
""",
        reference=_unit_frames,
        cases=_unit_frame_cases,
        hints=(
            "Each unit is repeated: how many 10 ms STFT frames does one 20 ms unit frame cover?",
            "Unit i fills twice durations[i] consecutive frames, in order. NumPy's repeat takes one count "
            "per element (or use two nested loops); return a list of ints.",
        ),
        hints_zh=(
            "每个单元都要重复：一个 20 ms 的单元帧覆盖几个 10 ms 的 STFT 帧？",
            "第 i 个单元按顺序占 durations[i] 的两倍个连续帧。"
            "NumPy 的 repeat 可以为每个元素指定一个重复次数（也可以用两层循环）；返回整数列表。",
        ),
        compare=equal,
    )
)

register(
    Exercise(
        id="13.phase_update",
        prompt="""
Write `phase_update(rebuilt, previous, magnitude, momentum)`, one step of fast
Griffin-Lim. `rebuilt` is the complex STFT of the current signal, `previous` the one
of the step before, `magnitude` the target magnitudes (all of one shape). Subtract
momentum / (1 + momentum) times `previous` from `rebuilt`, keep only the phase of the
result (divide by its absolute value plus 1e-16) and give it the target magnitude.
""",
        prompt_zh="""
编写 `phase_update(rebuilt, previous, magnitude, momentum)`，即快速 Griffin-Lim 的一步。
`rebuilt` 是当前信号的复数 STFT，`previous` 是上一步的复数 STFT，`magnitude` 是目标幅度
（三者形状相同）。从 `rebuilt` 中减去 momentum / (1 + momentum) 乘以 `previous`，
只保留结果的相位（除以它的绝对值加 1e-16），再赋予它目标幅度。
""",
        reference=_phase_update,
        cases=_phase_cases,
        hints=(
            "Two steps: the momentum step on the complex spectra, then swap the magnitude for the target "
            "one and keep the phase.",
            "Complex arithmetic in NumPy is element-wise like real arithmetic, so no loop is needed. The "
            "phase of a complex number is the number divided by its absolute value (a unit-magnitude "
            "factor); 1e-16 in the denominator keeps 0 / 0 away. Multiply the phase by the target magnitude.",
        ),
        hints_zh=(
            "两步：先在复数频谱上做动量这一步，再把幅度换成目标幅度、只保留相位。",
            "NumPy 中的复数运算和实数运算一样是逐元素的，所以不需要循环。"
            "复数的相位就是这个数除以它的绝对值（一个模为 1 的因子）；分母中的 1e-16 避免出现 0 / 0。"
            "最后用相位乘以目标幅度。",
        ),
        compare=allclose(rtol=1e-7, atol=1e-9),
    )
)

register(
    Exercise(
        id="13.joint_sequence",
        prompt="""
Write `joint_sequence(text_ids, units, n_text)` for the joint vocabulary with ids
0 = <eos>, 1 = <text>, 2 = <speech>, then `n_text` text tokens (text token i has id
3 + i), then 100 unit tokens (unit u has id 3 + n_text + u). Return the list
[<eos>, <text>, text tokens..., <speech>, unit tokens..., <eos>] as ids.
""",
        prompt_zh="""
为联合词表编写 `joint_sequence(text_ids, units, n_text)`。词表中的编号依次为
0 = <eos>、1 = <text>、2 = <speech>，然后是 `n_text` 个文本词元（文本词元 i 的编号为
3 + i），最后是 100 个单元词元（单元 u 的编号为 3 + n_text + u）。以编号列表的形式返回
[<eos>, <text>, 文本词元..., <speech>, 单元词元..., <eos>]。
""",
        reference=_joint_sequence,
        cases=_joint_cases,
        hints=(
            "Write the id ranges down first: 0 to 2 are the specials, then come n_text text ids, then 100 "
            "unit ids.",
            "Text token i has id 3 + i and unit u has id 3 + n_text + u. The sequence opens with <eos> and "
            "<text>, puts <speech> between the text and the units, and closes with <eos>.",
        ),
        hints_zh=(
            "先写出各段编号的范围：0 到 2 是特殊词元，接着是 n_text 个文本编号，然后是 100 个单元编号。",
            "文本词元 i 的编号为 3 + i，单元 u 的编号为 3 + n_text + u。序列以 <eos> 和 <text> 开头，"
            "把 <speech> 放在文本与单元之间，并以 <eos> 结尾。",
        ),
        compare=equal,
    )
)


def _bigram_perplexity(train: list[list[int]], test: list[list[int]], vocab_size: int, k: float) -> float:
    return ngram.NGramLM(2, vocab_size, k=k).fit(train).perplexity(test)


def _bigram_cases(rng: np.random.Generator):
    yield ([[0, 1, 2, 0], [0, 1, 3, 0]], [[0, 1, 2, 0]], 5, 0.1)
    yield ([[0, 1, 1, 1, 0]], [[0, 2, 0], [0, 1, 0]], 3, 1.0)  # an unseen pair still has a probability

    def sequences(n: int, vocab: int) -> list[list[int]]:
        out = []
        for _ in range(n):
            walk = np.cumsum(rng.integers(-1, 2, size=int(rng.integers(2, 30)))) % (vocab - 1) + 1
            out.append([0, *(int(u) for u in walk), 0])
        return out

    yield (sequences(20, 12), sequences(5, 12), 12, 0.01)
    yield (sequences(40, 101), sequences(8, 101), 101, 0.1)


register(
    Exercise(
        id="13.bigram_perplexity",
        prompt="""
The unit GPT of section 3 must beat a bigram model. Write
`bigram_perplexity(train, test, vocab_size, k)`: train and test are lists of token sequences
(lists of ints in 0 .. vocab_size - 1) whose first token is a start token, conditioned on but
never predicted. With c(u, w) the number of times w follows u in the training sequences and c(u)
the number of training pairs whose first token is u, the add-k bigram model is
    P(w | u) = (c(u, w) + k) / (c(u) + k * vocab_size).
Return the perplexity on the test sequences, exp of the mean of -log P(w | u) over every pair of
neighbouring tokens of every test sequence, as a float. Compare with `speechlm.ngram.NGramLM`.
""",
        prompt_zh="""
第 3 节的单元 GPT 必须胜过二元语法模型。编写
`bigram_perplexity(train, test, vocab_size, k)`：train 和 test 都是词元序列的列表
（取值在 0 .. vocab_size - 1 中的整数列表），每个序列的第一个词元是起始词元，只作为条件，
从不被预测。记 c(u, w) 为训练序列中 w 紧跟在 u 之后的次数，c(u) 为以 u 开头的训练词对数，
则加 k 平滑的二元语法模型为
    P(w | u) = (c(u, w) + k) / (c(u) + k * vocab_size)。
返回测试序列上的困惑度：对每个测试序列中每一对相邻词元的 -log P(w | u) 取平均，再取 exp，
类型为浮点数。可以与 `speechlm.ngram.NGramLM` 对照。
""",
        reference=_bigram_perplexity,
        cases=_bigram_cases,
        hints=(
            "Count first: every pair of neighbouring tokens in the training sequences, and for each token "
            "how many pairs start with it. A token's last occurrence in a sequence starts no pair.",
            "Score every neighbouring pair of every test sequence with the smoothed probability, and take "
            "the exponential of minus the mean log-probability over all of these pairs together: one mean "
            "over the whole test set, not a mean of per-sequence perplexities.",
        ),
        hints_zh=(
            "先计数：训练序列中每一对相邻词元出现的次数，以及以每个词元开头的词对有多少。"
            "序列的最后一个词元不作为任何词对的开头。",
            "用平滑后的概率给每个测试序列中的每一对相邻词元打分，然后把所有这些词对放在一起，"
            "对平均对数概率取负再取指数：这是在整个测试集上取一次平均，而不是对各序列的困惑度求平均。",
        ),
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)
