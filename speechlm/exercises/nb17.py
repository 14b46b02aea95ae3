"""Exercises of notebook 17 (responsible speech AI): phone-bound heads, a block's MACs, removing a span."""

from __future__ import annotations

import numpy as np

from speechlm.exercises import Exercise, allclose, equal, register
from speechlm.features import ENCODER_FRAME_RATE_HZ
from speechlm.responsible import own_segment_attention, project_out


def _block_macs(frames: int, d_model: int, d_ff: int) -> int:
    return 4 * frames * d_model * d_model + 2 * frames * frames * d_model + 2 * frames * d_model * d_ff


def _block_cases(rng: np.random.Generator):
    yield (50, 144, 576)
    yield (1, 8, 32)
    for _ in range(3):
        yield (int(rng.integers(1, 400)), int(rng.integers(1, 64)) * 4, int(rng.integers(1, 512)))


def _remove(x: np.ndarray, directions: np.ndarray) -> np.ndarray:
    return project_out(x, np.linalg.qr(directions)[0])


def _remove_cases(rng: np.random.Generator):
    for dim, k in ((4, 1), (16, 3), (32, 8)):
        yield (rng.normal(size=(10, dim)).astype(np.float32), rng.normal(size=(dim, k)))


register(
    Exercise(
        id="17.block_macs",
        prompt="""
Write `block_macs(frames, d_model, d_ff)`: the multiply-accumulates of one Transformer encoder block
(self-attention with its four d_model x d_model projections, then the two-layer feed-forward network)
on `frames` frames. Count matrix products only (no biases, softmax or LayerNorm), as an int.
""",
        prompt_zh="""
编写 `block_macs(frames, d_model, d_ff)`：一个 Transformer 编码器块在 `frames` 帧上的乘累加运算次数
（自注意力及其四个 d_model x d_model 投影，然后是两层前馈网络）。只计矩阵乘积
（不计偏置、softmax 或 LayerNorm），以 int 返回。
""",
        reference=_block_macs,
        cases=_block_cases,
        hints=(
            "A product of a (rows, inner) matrix with an (inner, columns) matrix costs rows inner columns "
            "multiply-accumulates. List the matrix products of one block and add them up.",
            "Four projections, each (T, d) by (d, d); the scores Q K^T, (T, d) by (d, T); the weighted sum "
            "of the values, (T, T) by (T, d); and the feed-forward network, (T, d) by (d, f) then (T, f) "
            "by (f, d). Heads cut d into slices but leave every total unchanged.",
        ),
        hints_zh=(
            "(rows, inner) 矩阵与 (inner, columns) 矩阵相乘，需要 rows inner columns 次乘累加运算。"
            "列出一个块中的各个矩阵乘积，再把它们加起来。",
            "四个投影，每个都是 (T, d) 乘 (d, d)；得分 Q K^T，(T, d) 乘 (d, T)；"
            "值的加权和，(T, T) 乘 (T, d)；以及前馈网络，(T, d) 乘 (d, f)，"
            "再 (T, f) 乘 (f, d)。多个头把 d 切成几片，但每一项的总数都不变。",
        ),
        compare=equal,
    )
)

register(
    Exercise(
        id="17.remove",
        prompt="""
Write `remove_directions(x, directions)`: `x` is (n, dim), `directions` is (dim, k) with linearly
independent but not orthonormal columns. Return x with the span of the columns removed (the
orthogonal projection onto the complement), shape (n, dim).
""",
        prompt_zh="""
编写 `remove_directions(x, directions)`：`x` 的形状为 (n, dim)，`directions` 的形状为 (dim, k)，其各列
线性无关，但不是标准正交的。返回去掉这些列张成的空间之后的 x（即到其正交补上的正交投影），
形状为 (n, dim)。
""",
        reference=_remove,
        cases=_remove_cases,
        hints=(
            "Projecting onto the complement is easy with an orthonormal basis of the span, and the given "
            "columns are not orthonormal. Which decomposition gives such a basis?",
            "A QR decomposition of `directions` gives U, with orthonormal columns spanning the same space. "
            "The projection of a row onto the span is its coordinates in U mapped back with U^T; subtract "
            "it. Projecting onto each raw direction in turn leaves part of the span behind.",
        ),
        hints_zh=(
            "有了张成空间的一组标准正交基，投影到正交补就很容易，而给定的各列并不标准正交。"
            "哪种分解能给出这样一组基？",
            "对 `directions` 做 QR 分解得到 U，它的各列标准正交，并且张成同一个空间。"
            "一行在该空间上的投影，就是它在 U 下的坐标再用 U^T 映射回来；"
            "把它减掉。依次向每个原始方向投影，会留下张成空间的一部分。",
        ),
        compare=allclose(rtol=1e-4, atol=1e-5),
    )
)


def _own_phone_attention(weights: np.ndarray, segments: np.ndarray) -> np.ndarray:
    bounds = np.flatnonzero(np.diff(segments)) + 1
    ends = [*bounds, len(segments)]
    starts = [0, *bounds]
    phones = [
        (f"p{i}", a / ENCODER_FRAME_RATE_HZ, b / ENCODER_FRAME_RATE_HZ)
        for i, (a, b) in enumerate(zip(starts, ends, strict=True))
    ]
    share, uniform = own_segment_attention(weights, phones)
    return share / uniform


def _attention_maps(rng: np.random.Generator, heads: int, frames: int, scale: float) -> np.ndarray:
    scores = scale * rng.normal(size=(heads, frames, frames))
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    return weights / weights.sum(-1, keepdims=True)


def _own_cases(rng: np.random.Generator):
    yield (np.full((1, 4, 4), 0.25), np.array([0, 0, 1, 1]))  # uniform attention: exactly 1
    yield (np.eye(4)[None], np.array([0, 0, 1, 1]))  # every frame attends to itself: 1 / (1/2) = 2
    segments = np.sort(rng.integers(0, 6, size=30))
    yield (_attention_maps(rng, 4, 30, 2.0), segments)
    segments = np.repeat(np.arange(9), rng.integers(1, 8, size=9))
    yield (_attention_maps(rng, 2, len(segments), 0.5), segments)


register(
    Exercise(
        id="17.own_phone_attention",
        prompt="""
Is a head phone-bound (section 3)? Write `own_phone_attention(weights, segments)`: weights
(heads, frames, frames) are one clip's attention maps (row i of a head: how query frame i spreads
its attention over the keys; rows sum to 1), segments (frames,) the phone each frame belongs to,
as non-decreasing ints (0, 0, 0, 1, 1, 2, ...). For each head, compute the attention mass on keys
of the query's own phone, averaged over the queries, and divide it by the same average for uniform
attention (every key weighted 1 / frames). Return an array (heads,): 1 means no more attention to
the own phone than chance, 2 means twice as much. Compare with
`speechlm.responsible.own_segment_attention`.
""",
        prompt_zh="""
一个注意力头是否绑定音素（第 3 节）？编写 `own_phone_attention(weights, segments)`：weights
(heads, frames, frames) 是一个片段的各个注意力图（某个头的第 i 行：查询帧 i 如何把注意力分配到各个键上；
每行之和为 1），segments (frames,) 是每一帧所属的音素，用非递减的整数表示 (0, 0, 0, 1, 1, 2, ...)。
对每个头，计算落在查询自身音素的键上的注意力质量，对所有查询取平均，再除以均匀注意力
（每个键的权重都是 1 / frames）下的同一平均值。返回形状为 (heads,) 的数组：1 表示对自身音素的注意力
不比随机水平多，2 表示是它的两倍。与 `speechlm.responsible.own_segment_attention` 对照。
""",
        reference=_own_phone_attention,
        cases=_own_cases,
        hints=(
            "Build a (frames, frames) boolean table first: is key j in the same phone as query i? Both the "
            "head's number and the uniform baseline come from it.",
            "A head's share is the mean over queries of its weights summed over the true entries of the "
            "query's row. Uniform attention puts 1 / frames on every key, so its share is the fraction of "
            "true entries in the whole table (longer phones give a larger chance share). Divide, per head.",
        ),
        hints_zh=(
            "先构造一个 (frames, frames) 的布尔表：键 j 与查询 i 是否属于同一个音素？"
            "该头的数值和均匀基线都由它得出。",
            "一个头的份额：对每个查询，把它这一行中表里为真的位置上的权重相加，"
            "再对所有查询取平均。均匀注意力给每个键 1 / frames，"
            "因此它的份额就是整张表中为真的位置所占的比例（音素越长，随机份额越大）。对每个头分别相除。",
        ),
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)
