"""Exercises of notebook 00 (welcome): how the checker works, and reading the corpus's alignments."""

from __future__ import annotations

import numpy as np

from speechlm.exercises import Exercise, allclose, describe, equal, register


def _power_to_db(power: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(power, 1e-10))


def _db_cases(rng: np.random.Generator):
    yield (np.array([1.0, 10.0, 100.0]),)
    yield (np.array([0.0, 1e-12, 0.5]),)
    yield (rng.uniform(0.0, 5.0, size=(3, 7)),)


register(
    Exercise(
        id="00.db",
        prompt="""
Write `power_to_db(power)` that converts a power spectrum (a NumPy array of
non-negative numbers, any shape) to decibels: 10 * log10(power), with the
power floored at 1e-10 first so that silence gives -100 dB instead of -inf.
""",
        prompt_zh="""
编写 `power_to_db(power)`，把功率谱（由非负数构成的 NumPy 数组，形状任意）换算成
分贝：10 * log10(power)。取对数之前先把功率的下限截断为 1e-10，这样静音得到
-100 dB，而不是 -inf。
""",
        reference=_power_to_db,
        cases=_db_cases,
        hints=(
            "Two steps, in this order: floor the power, then take the logarithm. Which order keeps "
            "log10 away from zero?",
            "A power ratio in decibels is ten times its base-10 logarithm. NumPy's log10 and maximum "
            "work element by element on an array of any shape, so no loop is needed.",
        ),
        hints_zh=(
            "分两步，按这个顺序：先截断功率的下限，再取对数。哪种顺序能让 log10 避开零？",
            "功率比换算成分贝，就是取以 10 为底的对数再乘以 10。NumPy 的 log10 和 maximum "
            "都对任意形状的数组逐元素运算，所以不需要循环。",
        ),
        compare=allclose(rtol=1e-6, atol=1e-6),
    )
)


def _snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    return float(10.0 * np.log10(np.sum(clean**2) / np.sum((noisy - clean) ** 2)))


def _snr_cases(rng: np.random.Generator):
    t = np.arange(1600) / 16000
    yield (np.sin(2 * np.pi * 200 * t), np.sin(2 * np.pi * 200 * t) + 0.1 * np.cos(2 * np.pi * 50 * t))
    for snr in (0.0, 10.0, 30.0):
        clean = rng.standard_normal(800)
        noise = rng.standard_normal(800)
        noise *= np.sqrt(np.sum(clean**2) / np.sum(noise**2) / 10 ** (snr / 10))
        yield (clean, clean + noise)


register(
    Exercise(
        id="00.snr",
        prompt="""
Write `snr_db(clean, noisy)` that returns the signal-to-noise ratio in dB of a
noisy copy of a clean signal (two NumPy arrays of the same shape): the noise is
`noisy - clean`, and SNR = 10 * log10(energy of clean / energy of noise), where
energy is the sum of squared samples. Return a float.
""",
        prompt_zh="""
编写 `snr_db(clean, noisy)`，返回干净信号的一个带噪副本的信噪比，单位为 dB（两个参数
是形状相同的 NumPy 数组）：噪声是 `noisy - clean`，SNR = 10 * log10(干净信号的能量 /
噪声的能量)，其中能量是各样本的平方和。返回一个 float。
""",
        reference=_snr_db,
        cases=_snr_cases,
        hints=(
            "Recover the noise first: what was added to the clean signal to make the noisy one?",
            "Energy is the sum of the squared samples. The SNR in dB is ten times the base-10 logarithm "
            "of the clean signal's energy divided by the noise's energy: one number, returned as a float.",
        ),
        hints_zh=(
            "先把噪声还原出来：在干净信号上加了什么，才得到带噪信号？",
            "能量是各样本的平方和。以 dB 计的信噪比，是干净信号的能量除以噪声的能量，"
            "取以 10 为底的对数再乘以 10：结果是一个数，以 float 返回。",
        ),
        compare=allclose(rtol=1e-6, atol=1e-6),
    )
)


def _random_words(rng: np.random.Generator) -> list[tuple[str, float, float]]:
    vocabulary = ["turn", "on", "the", "kitchen", "lights", "seven", "three", "hello"]
    t, words = 0.15, []
    for _ in range(int(rng.integers(1, 6))):
        start = t + float(rng.choice([0.0, rng.uniform(0.05, 0.3)]))
        end = start + float(rng.uniform(0.1, 0.5))
        words.append((vocabulary[int(rng.integers(len(vocabulary)))], round(start, 3), round(end, 3)))
        t = end
    return words


def _word_at(words: list[tuple[str, float, float]], time_s: float) -> str:
    for word, start, end in words:
        if start <= time_s < end:
            return word
    return "sil"


def _word_at_cases(rng: np.random.Generator):
    words = [("turn", 0.2, 0.45), ("on", 0.45, 0.6), ("the", 0.7, 0.8)]
    for t in (0.0, 0.2, 0.45, 0.65, 0.79, 0.8, 2.0):
        yield (words, t)
    for _ in range(20):
        w = _random_words(rng)
        yield (w, float(rng.uniform(0.0, w[-1][2] + 0.2)))


register(
    Exercise(
        id="00.word_at",
        prompt="""
Write `word_at(words, time_s)` that returns the word being spoken at `time_s`
seconds, given a word alignment like `Utterance.words`: a list of
`(word, start_s, end_s)` in time order. A word covers start_s <= t < end_s.
Between words, before the first and after the last, return "sil".
""",
        prompt_zh="""
编写 `word_at(words, time_s)`，返回第 `time_s` 秒时正在说的词。words 是像
`Utterance.words` 那样的词对齐：一个按时间排序的 `(word, start_s, end_s)` 列表。
一个词覆盖 start_s <= t < end_s。在两个词之间、第一个词之前和最后一个词之后，
返回 "sil"。
""",
        reference=_word_at,
        cases=_word_at_cases,
        hints=(
            "Walk through the words in order and ask of each: does time_s fall inside it?",
            "A word covers its start but not its end (start_s <= t < end_s), so a time exactly on a "
            "boundary belongs to the word that starts there. When no word covers the time (before, "
            "between or after the words), the answer is the string sil.",
        ),
        hints_zh=(
            "按顺序逐个查看这些词，对每个词问一句：time_s 落在它里面吗？",
            "一个词包含它的起点，但不包含它的终点（start_s <= t < end_s），所以恰好落在边界上的时刻"
            "属于从那里开始的词。如果没有任何词覆盖这个时刻（在所有词之前、两词之间或所有词之后），"
            "答案就是字符串 sil。",
        ),
        compare=equal,
    )
)


def _mean_phone_durations(phones: list[tuple[str, float, float]]) -> dict[str, float]:
    totals: dict[str, list[float]] = {}
    for phone, start, end in phones:
        totals.setdefault(phone, []).append(end - start)
    return {phone: float(np.mean(d)) for phone, d in totals.items()}


def _phone_cases(rng: np.random.Generator):
    yield ([("sil", 0.0, 0.15), ("t", 0.15, 0.2), ("er", 0.2, 0.35), ("n", 0.35, 0.4), ("sil", 0.4, 0.5)],)
    inventory = ["sil", "ah", "t", "n", "s", "iy", "k"]
    for _ in range(4):
        t, phones = 0.0, []
        for _ in range(int(rng.integers(3, 30))):
            end = t + float(rng.uniform(0.02, 0.2))
            phones.append((inventory[int(rng.integers(len(inventory)))], t, end))
            t = end
        yield (phones,)


def _compare_durations(got, expected) -> str | None:
    if not isinstance(got, dict):
        return f"expected a dict from phone to mean duration in seconds, got {describe(got)}"
    if set(got) != set(expected):
        missing, extra = sorted(set(expected) - set(got)), sorted(map(repr, set(got) - set(expected)))
        return f"expected the phones {sorted(expected)}; missing {missing}, not in the alignment {extra}"
    close = allclose(rtol=1e-6, atol=1e-9)
    for phone, value in expected.items():
        problem = close(got[phone], value)
        if problem is not None:
            return f"mean duration of {phone!r} (expected {value:.4f} s): {problem}"
    return None


register(
    Exercise(
        id="00.phone_durations",
        prompt="""
Write `mean_phone_durations(phones)` that takes a phone alignment like
`Utterance.phones` (a list of `(phone, start_s, end_s)`) and returns a dict
mapping each phone that occurs to its mean duration in seconds.
""",
        prompt_zh="""
编写 `mean_phone_durations(phones)`：输入是像 `Utterance.phones` 那样的音素对齐
（一个 `(phone, start_s, end_s)` 列表），返回一个字典，把出现过的每个音素映射到
它的平均时长（单位为秒）。
""",
        reference=_mean_phone_durations,
        cases=_phone_cases,
        hints=(
            "A phone occurs several times: gather all of its durations before averaging.",
            "Keep a dict from each phone to the list of its durations (end minus start); the answer maps "
            "each phone to the mean of its list, as a float.",
        ),
        hints_zh=(
            "同一个音素会出现多次：先收集它的所有时长，再求平均。",
            "用一个字典把每个音素映射到它的时长列表（终点减起点）；答案把每个音素映射到"
            "其列表的平均值，类型为 float。",
        ),
        compare=_compare_durations,
    )
)
