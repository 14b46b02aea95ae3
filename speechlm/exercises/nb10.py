"""Exercises of notebook 10 (speech units): nearest-centroid units, de-duplication, phone purity and PNMI."""

from __future__ import annotations

import numpy as np

from speechlm import units
from speechlm.exercises import Exercise, allclose, equal, register


def _dedup_reference(unit_ids: np.ndarray) -> list[int]:
    return units.deduplicate(unit_ids)[0].tolist()


def _dedup_cases(rng: np.random.Generator):
    yield (np.array([5, 5, 5, 2, 2, 5]),)
    yield (np.array([7]),)
    yield (np.array([1, 2, 3, 4]),)
    yield (rng.integers(0, 3, size=40),)


def _label_cases(rng: np.random.Generator):
    yield (np.array(["a", "a", "a", "b"]), np.array([0, 0, 1, 1]))
    yield (np.array(["a", "b", "c", "a", "b", "c"]), np.array([4, 5, 6, 4, 5, 6]))
    phones = rng.integers(0, 5, size=300)
    yield (np.array(list("aeiou"))[phones], (phones * 2 + rng.integers(0, 3, size=300)) % 9)
    yield (np.array(list("xyz"))[rng.integers(0, 3, size=200)], rng.integers(0, 4, size=200))


register(
    Exercise(
        id="10.dedup",
        prompt="""
Write `dedup(unit_ids)` that collapses runs of repeated units in a 1-D NumPy
array of ints and returns the result as a Python list:
[5, 5, 5, 2, 2, 5] -> [5, 2, 5]. (This is what GSLM feeds its unit language model.)
""",
        prompt_zh="""
编写 `dedup(unit_ids)`：把一维 NumPy 整数数组中连续重复的单元折叠成一个，
并以 Python 列表返回结果：
[5, 5, 5, 2, 2, 5] -> [5, 2, 5]。（GSLM 送入其单元语言模型的正是这样的序列。）
""",
        reference=_dedup_reference,
        cases=_dedup_cases,
        hints=(
            "Keep a unit when it differs from the unit just before it; the first unit is always kept.",
            "Compare the array with itself shifted by one position: the positions where neighbours differ, "
            "plus position 0, are the ones to keep. Unique values are not the answer: [5, 2, 5] keeps both "
            "5s. Return a Python list of ints.",
        ),
        hints_zh=(
            "一个单元与紧挨在它前面的单元不同时就保留它；第一个单元总是保留。",
            "把数组与平移一位后的自身比较：相邻元素不同的位置，再加上位置 0，就是要保留的位置。"
            "求唯一值不是答案：[5, 2, 5] 中的两个 5 都要保留。返回由 int 组成的 Python 列表。",
        ),
        compare=equal,
    )
)

register(
    Exercise(
        id="10.phone_purity",
        prompt="""
Write `phone_purity(phones, unit_ids)`: for every unit, find the phone it is
most often paired with; phone purity is the fraction of all frames whose
phone is that most frequent phone of their unit, i.e. sum_z max_y p(y, z).
`phones` is a 1-D array of strings, `unit_ids` a 1-D array of ints, one per frame.
""",
        prompt_zh="""
编写 `phone_purity(phones, unit_ids)`：对每个单元，找出与它配对次数最多的音素；
音素纯度是所有帧中，音素恰为其所属单元最常见音素的帧所占的比例，即 sum_z max_y p(y, z)。
`phones` 是由字符串组成的一维数组，`unit_ids` 是由整数组成的一维数组，每帧各一个元素。
""",
        reference=lambda phones, unit_ids: units.unit_quality(phones, unit_ids).phone_purity,
        cases=_label_cases,
        hints=(
            "Take one unit at a time: among its frames, which phone is the most common, and on how many "
            "frames?",
            "Add up, over the units, the count of each unit's most common phone, and divide by the number "
            "of frames: that is the sum over z of the largest p(y, z). Grouping by phone instead (the most "
            "common unit of each phone) is cluster purity, another number.",
        ),
        hints_zh=(
            "一次只看一个单元：在它的帧中，哪个音素最常见，出现在多少帧上？",
            "把每个单元最常见音素的帧数对所有单元加起来，再除以总帧数：即对每个 z 取最大的 p(y, z)，再对 z "
            "求和。如果改为按音素分组（取每个音素最常见的单元），得到的是聚类纯度，那是另一个数。",
        ),
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)

register(
    Exercise(
        id="10.pnmi",
        prompt="""
Write `pnmi(phones, unit_ids)`: the phone-normalised mutual information
I(y; z) / H(y), with p(y, z) the fraction of frames with phone y and unit z.
Use natural logarithms (the ratio does not depend on the base); skip the
pairs with p(y, z) = 0.
""",
        prompt_zh="""
编写 `pnmi(phones, unit_ids)`：音素归一化互信息 I(y; z) / H(y)，其中 p(y, z) 是
音素为 y、单元为 z 的帧所占的比例。使用自然对数（这个比值与对数的底无关）；
跳过 p(y, z) = 0 的组合。
""",
        reference=lambda phones, unit_ids: units.unit_quality(phones, unit_ids).pnmi,
        cases=_label_cases,
        hints=(
            "Build the joint distribution p(y, z) from a table of counts (phones by units), then its two "
            "marginals p(y) and p(z).",
            "I(y; z) is the sum over the non-zero cells of p(y, z) log(p(y, z) / (p(y) p(z))), and H(y) is "
            "minus the sum of p(y) log p(y). Index phones and units by their position among the unique "
            "values to fill the table.",
        ),
        hints_zh=(
            "先由计数表（行是音素，列是单元）得到联合分布 p(y, z)，再求它的两个边缘分布 p(y) 和 p(z)。",
            "I(y; z) 是在 p(y, z) 非零的格子上对 p(y, z) log(p(y, z) / (p(y) p(z))) 求和，H(y) 是 p(y) log "
            "p(y) 之和的相反数。以音素和单元在各自唯一值中的位置作为下标来填表。",
        ),
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)


def _assign_units(features: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    distances = ((features[:, None, :] - centroids[None, :, :]) ** 2).sum(-1)
    return distances.argmin(axis=1)


def _assign_cases(rng: np.random.Generator):
    # equidistant centroids: the lowest index wins
    yield (np.array([[0.0, 0.0], [2.0, 0.0]]), np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [3.0, 0.0]]))
    centroids = rng.normal(size=(8, 13))
    yield (centroids[[3, 3, 0, 7]] + 0.01 * rng.normal(size=(4, 13)), centroids)
    yield (rng.normal(size=(50, 13)) * 3, rng.normal(size=(20, 13)) * 3)
    # large norms: the unit is not the centroid with the largest dot product
    yield (np.array([[1.0, 0.0], [10.0, 10.0]]), np.array([[1.0, 0.0], [10.0, 0.0]]))


register(
    Exercise(
        id="10.assign_units",
        prompt="""
k-means turns each frame into a unit: the index of its nearest centroid (section 1). Write
`assign_units(features, centroids)`: features (n, d) frames, centroids (K, d); return an int array
(n,) with, for each frame, the index of the centroid at the smallest Euclidean distance (on a tie,
the smallest index). This is what `units.assign_units` asks the fitted k-means for.
""",
        prompt_zh="""
k 均值把每一帧变成一个单元：离它最近的质心的下标（第 1 节）。编写
`assign_units(features, centroids)`：features 是 (n, d) 的帧，centroids 是 (K, d) 的质心；返回
形状为 (n,) 的整数数组，给出每一帧欧氏距离最小的质心的下标（距离相同时取最小的下标）。
`units.assign_units` 向拟合好的 k 均值模型要的正是这个结果。
""",
        reference=_assign_units,
        cases=_assign_cases,
        hints=(
            "For each frame, compute its distance to every centroid: an (n, K) table. Then pick a column "
            "per row.",
            "The unit is the column of the smallest distance in each row; NumPy's argmin returns the first "
            "of tied minima. Squared distances give the same order and need no square root: "
            "||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2, or subtract with broadcasting. The largest dot "
            "product is not the nearest centroid unless all centroids have the same norm.",
        ),
        hints_zh=(
            "对每一帧，算出它到每个质心的距离：得到一张 (n, K) 的表。然后在每一行中挑出一列。",
            "单元就是每一行中距离最小的那一列；多个最小值并列时，NumPy 的 argmin 返回第一个。"
            "平方距离给出同样的顺序，而且不用开方：||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2，"
            "也可以借助广播直接相减。除非所有质心的范数都相同，点积最大的质心并不是最近的质心。",
        ),
        compare=equal,
    )
)
