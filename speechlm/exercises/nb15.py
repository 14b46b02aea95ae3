"""Exercises of notebook 15 (spoken understanding): attentive pooling, the majority baseline and
accuracy by ASR error bucket."""

from __future__ import annotations

import numpy as np

from speechlm import spoken_understanding
from speechlm.exercises import Exercise, allclose, register


def _attentive_pool(frames: np.ndarray, w: np.ndarray, length: int) -> np.ndarray:
    real = frames[:length]
    scores = real @ w
    alpha = np.exp(scores - scores.max())
    alpha /= alpha.sum()
    return alpha @ real


def _pool_cases(rng: np.random.Generator):
    frames = np.zeros((4, 2))
    frames[:, 0] = [1.0, 2.0, 3.0, 4.0]
    yield (frames, np.zeros(2), 4)  # equal scores: the mean
    yield (frames, np.array([0.0, 0.0]), 2)  # padding beyond the length is ignored
    for _ in range(3):
        t, d = int(rng.integers(3, 12)), int(rng.integers(2, 6))
        yield (rng.normal(size=(t, d)), rng.normal(0, 3, size=d), int(rng.integers(1, t + 1)))
    yield (np.array([[1000.0, 1.0], [0.0, 2.0]]), np.array([1.0, 0.0]), 2)  # large scores: no overflow


def _majority_accuracy(train_labels: list[str], test_labels: list[str]) -> float:
    classes, counts = np.unique(np.asarray(train_labels), return_counts=True)
    majority = classes[int(np.argmax(counts))]  # np.unique sorts, argmax takes the first of a tie
    return float(np.mean(np.asarray(test_labels) == majority))


def _majority_cases(rng: np.random.Generator):
    yield (["spam", "ham", "ham"], ["spam", "spam", "ham", "spam"])
    yield (["positive", "negative"], ["negative", "positive", "positive"])  # a tie: the first in sorted order
    names = np.array(["a", "b", "c"])
    for _ in range(3):
        yield (
            list(rng.choice(names, size=int(rng.integers(1, 30)), p=[0.5, 0.3, 0.2])),
            list(rng.choice(names, size=int(rng.integers(1, 30)))),
        )


def _bucket_accuracies(values: np.ndarray, correct: np.ndarray, edges: list[float]) -> list[float]:
    return [b.accuracy for b in spoken_understanding.accuracy_by_bucket(values, correct, edges)]


def _bucket_cases(rng: np.random.Generator):
    yield (np.array([0.0, 0.05, 0.1, 0.2, 0.5]), np.array([True, True, False, True, False]), [0.0, 0.1, 0.3])
    yield (np.array([0.0, 0.0, 0.4]), np.array([True, False, True]), [0.0, 0.1, 0.3])  # an empty bucket
    for _ in range(3):
        n = int(rng.integers(5, 40))
        values = np.where(rng.random(n) < 0.4, 0.0, rng.exponential(0.2, size=n)).round(2)
        yield (values, rng.random(n) < 0.7, [0.0, 0.05, 0.15, 0.4])


register(
    Exercise(
        id="15.attentive_pool",
        prompt="""
Write `attentive_pool(frames, w, length)`: attentive pooling of one utterance.
`frames` is (time, dim), only the first `length` rows are real (the rest is
padding), `w` is (dim,). Score each real frame s_t = frames[t] . w, turn the
scores into weights alpha = softmax(s) over the real frames, and return the
weighted mean sum_t alpha_t frames[t], shape (dim,). Keep it stable for large
scores.
""",
        prompt_zh="""
编写 `attentive_pool(frames, w, length)`：对一条语句做注意力池化。
`frames` 的形状为 (time, dim)，只有前 `length` 行是真实的帧（其余是填充），
`w` 的形状为 (dim,)。给每个真实帧打分 s_t = frames[t] . w，在真实帧上把分数变成权重
alpha = softmax(s)，返回加权平均 sum_t alpha_t frames[t]，形状为 (dim,)。分数很大时
也要保持数值稳定。
""",
        reference=_attentive_pool,
        cases=_pool_cases,
        hints=(
            "Leave the padding out from the start: only the first `length` frames are scored and pooled.",
            "The scores are the dot products of the real frames with w; the weights are their softmax, with "
            "the largest score subtracted first (the last case has scores around 1000); the result is the "
            "weighted sum of the real frames, a (dim,) vector. Padding frames must get no weight at all.",
        ),
        hints_zh=(
            "从一开始就把填充排除在外：只对前 `length` 帧打分和池化。",
            "分数是各真实帧与 w 的点积；权重是分数的 softmax，计算时先减去最大的分数（最后一个测试用例的分数"
            "在 1000 左右）；结果是真实帧的加权和，一个 (dim,) 向量。填充帧不能得到任何权重。",
        ),
        compare=allclose(rtol=1e-6, atol=1e-9),
    )
)

register(
    Exercise(
        id="15.majority",
        prompt="""
Write `majority_accuracy(train_labels, test_labels)`: the accuracy on the test
labels of the majority-class baseline, which always answers the most frequent
training label (on a tie, the first of the tied labels in sorted order).
Return a float.
""",
        prompt_zh="""
编写 `majority_accuracy(train_labels, test_labels)`：多数类基线在测试标签上的准确率。
这个基线总是回答训练标签中出现次数最多的那个（出现并列时，取并列标签按排序后的
第一个）。返回一个浮点数。
""",
        reference=_majority_accuracy,
        cases=_majority_cases,
        hints=(
            "The baseline learns one thing from the training labels, the most frequent one, and answers it "
            "for every test utterance.",
            "Count the training labels (a Counter, or NumPy's unique with counts); on a tie take the first "
            "of the tied labels in sorted order. The accuracy is the share of test labels equal to that "
            "label. The test labels never choose the answer.",
        ),
        hints_zh=(
            "这个基线只从训练标签中学到一件事，即出现次数最多的标签，然后对每条测试语句都给出这个答案。",
            "统计训练标签的次数（用 Counter，或带计数的 NumPy unique）；出现并列时，"
            "取并列标签按排序后的第一个。准确率就是测试标签中等于这个标签的比例。测试标签绝不参与决定答案。",
        ),
        compare=allclose(rtol=1e-12, atol=1e-12),
    )
)

register(
    Exercise(
        id="15.cer_buckets",
        prompt="""
Write `bucket_accuracies(values, correct, edges)`: group utterances by their
ASR CER (`values`, (n,)) into len(edges) + 1 buckets, v <= edges[0],
edges[0] < v <= edges[1], ..., v > edges[-1], and return the list of accuracies
(the mean of the boolean `correct` in each bucket; NaN for an empty bucket).
Check yourself against `spoken_understanding.accuracy_by_bucket`.
""",
        prompt_zh="""
编写 `bucket_accuracies(values, correct, edges)`：按 ASR 的 CER（`values`，(n,)）把
语句分到 len(edges) + 1 个区间：v <= edges[0]，edges[0] < v <= edges[1]，...，v > edges[-1]，
返回各区间准确率的列表（每个区间内布尔数组 `correct` 的平均值；空区间为 NaN）。
可以用 `spoken_understanding.accuracy_by_bucket` 自行检查。
""",
        reference=_bucket_accuracies,
        cases=_bucket_cases,
        hints=(
            "Give each utterance a bucket number, from 0 up to the number of edges, then average `correct` "
            "within each bucket.",
            "A value belongs to the first bucket whose upper edge it does not exceed (v <= edge), or to the "
            "last bucket if it exceeds every edge: a binary search for the value among the edges, on the "
            "left side, gives that number. An empty bucket's accuracy is NaN, not 0.",
        ),
        hints_zh=(
            "给每条语句一个区间编号，从 0 到边界的个数，然后在每个区间内对 `correct` 求平均。",
            "一个值属于它不超过其上边界（v <= edge）的第一个区间；如果它超过所有边界，就属于最后一个区间。"
            "在边界中对这个值做二分查找（取左侧位置）就能得到这个编号。空区间的准确率是 NaN，不是 0。",
        ),
        compare=allclose(rtol=1e-12, atol=1e-12),
    )
)
