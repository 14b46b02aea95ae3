"""Exercises of notebook 11 (speech pretraining): masking, the masked-only loss, cosine logits, InfoNCE."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from speechlm.exercises import Exercise, allclose, register
from speechlm.ssl.hubert import cosine_logits


def _mask_fraction(p: float, span: int) -> float:
    return 1.0 - (1.0 - p) ** span


def _fraction_cases(rng: np.random.Generator):
    yield (0.08, 10)
    yield (0.13, 5)
    yield (0.0, 3)
    yield (float(rng.uniform(0.01, 0.3)), int(rng.integers(1, 15)))


def _cosine_reference(projected: np.ndarray, embeddings: np.ndarray, temperature: float) -> np.ndarray:
    return cosine_logits(torch.from_numpy(projected), torch.from_numpy(embeddings), temperature).numpy()


def _cosine_cases(rng: np.random.Generator):
    yield (np.array([[3.0, 0.0]]), np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]]), 0.1)
    yield (rng.standard_normal((5, 4)), rng.standard_normal((7, 4)), 0.1)
    yield (rng.standard_normal((2, 8)), rng.standard_normal((3, 8)), 0.5)


def _info_nce(context: np.ndarray, candidates: np.ndarray, temperature: float) -> float:
    c = context / np.linalg.norm(context)
    q = candidates / np.linalg.norm(candidates, axis=1, keepdims=True)
    logits = q @ c / temperature
    return float(-(logits[0] - np.log(np.sum(np.exp(logits - logits.max()))) - logits.max()))


def _nce_cases(rng: np.random.Generator):
    yield (np.array([1.0, 0.0]), np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]), 0.1)
    yield (rng.standard_normal(6), rng.standard_normal((11, 6)), 0.1)
    yield (rng.standard_normal(3), rng.standard_normal((4, 3)), 1.0)
    context, candidates = rng.standard_normal(5), rng.standard_normal((6, 5))
    candidates[0] = context + 0.01 * rng.standard_normal(5)
    yield (context, candidates, 0.001)  # a logit near 1000: a naive exp overflows


register(
    Exercise(
        id="11.mask_fraction",
        prompt="""
Write `mask_fraction(p, span)`: each frame starts a masked span of `span` frames
with probability `p`, independently (spans may overlap). Far from the edges,
what fraction of frames ends up masked? (HuBERT: p = 0.08, span = 10.)
""",
        prompt_zh="""
编写 `mask_fraction(p, span)`：每一帧以概率 `p` 独立地开始一个长为 `span` 帧的
掩码片段（片段可以重叠）。在远离边缘处，被掩码的帧占多大比例？
（HuBERT：p = 0.08，span = 10。）
""",
        reference=_mask_fraction,
        cases=_fraction_cases,
        hints=(
            "Take one frame far from the edges: which span starts would cover it?",
            "It is covered by a span that starts at itself or at any of the span - 1 frames before it. "
            "Each of these span frames starts a span independently with probability p, so the frame stays "
            "unmasked only if none of them does; the masked fraction is one minus that probability. "
            "p times span overcounts, because spans overlap.",
        ),
        hints_zh=(
            "取远离边缘的一帧：从哪些位置开始的片段会覆盖它？",
            "起点在它自身或在它之前 span - 1 帧中任意一帧的片段都会覆盖它。这 span 帧各自以概率 p "
            "独立地开始一个片段，所以只有它们都不开始片段时，这一帧才不被掩码；被掩码的比例就是 1 "
            "减去这个概率。p 乘以 span 会多算，因为片段会重叠。",
        ),
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)

register(
    Exercise(
        id="11.cosine_logits",
        prompt="""
Write `cosine_logits(projected, embeddings, temperature)` with NumPy: `projected`
is (n, d), `embeddings` is (K, d); return the (n, K) matrix of cosine similarities
between every row of `projected` and every cluster embedding, divided by `temperature`.
These are HuBERT's logits over the K cluster targets.
""",
        prompt_zh="""
用 NumPy 编写 `cosine_logits(projected, embeddings, temperature)`：`projected`
的形状为 (n, d)，`embeddings` 的形状为 (K, d)；返回 (n, K) 矩阵，其元素是 `projected`
的每一行与每个聚类嵌入之间的余弦相似度除以 `temperature`。
这就是 HuBERT 在 K 个聚类目标上的 logits。
""",
        reference=_cosine_reference,
        cases=_cosine_cases,
        hints=(
            "A cosine similarity is the dot product of two unit vectors: normalise first, then multiply.",
            "Divide every row of both matrices by its Euclidean norm; one matrix product of the normalised "
            "rows with the transposed normalised embeddings gives all n K cosines; divide them by the "
            "temperature (a small temperature sharpens the softmax).",
        ),
        hints_zh=(
            "余弦相似度就是两个单位向量的点积：先归一化，再相乘。",
            "把两个矩阵的每一行都除以它的欧氏范数；归一化后的行与转置后的归一化嵌入做一次矩阵乘法，"
            "就得到全部 n K 个余弦；再把它们除以温度（温度越小，softmax 越尖锐）。",
        ),
        compare=allclose(rtol=1e-5, atol=1e-5),
    )
)

register(
    Exercise(
        id="11.info_nce",
        prompt="""
Write `info_nce(context, candidates, temperature)`: wav2vec 2.0's contrastive loss
for one masked frame. `context` is the Transformer output c_t, shape (d,);
`candidates` is (1 + K, d), the true quantised frame first, then K distractors.
Return -log softmax(cos(c_t, candidates) / temperature)[0] as a float.
""",
        prompt_zh="""
编写 `info_nce(context, candidates, temperature)`：wav2vec 2.0 对一个被掩码帧的
对比损失。`context` 是 Transformer 的输出 c_t，形状为 (d,)；`candidates` 的形状为
(1 + K, d)，第一行是真实的量化帧，其后是 K 个干扰项。
以 float 返回 -log softmax(cos(c_t, candidates) / temperature)[0]。
""",
        reference=_info_nce,
        cases=_nce_cases,
        hints=(
            "It is a classification among 1 + K candidates whose right answer is candidate 0: compute the "
            "logits, then a cross-entropy.",
            "The logits are the cosines of c_t with every candidate divided by the temperature "
            "(11.cosine_logits with one row). The loss is the log of the sum of their exponentials minus "
            "logits[0]; subtract the largest logit inside the exponentials, since a temperature of 0.001 "
            "makes logits of 1000.",
        ),
        hints_zh=(
            "这是在 1 + K 个候选中做分类，正确答案是候选 0：先算 logits，再算交叉熵。",
            "logits 是 c_t 与每个候选的余弦除以温度（即只有一行的 11.cosine_logits）。损失等于这些 logits "
            "的指数之和的对数减去 logits[0]；要在指数内先减去最大的 logit，因为温度为 0.001 时 logits 可达 "
            "1000。",
        ),
        compare=allclose(rtol=1e-6, atol=1e-8),
    )
)


def _masked_prediction_loss(logits: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> float:
    mask = torch.from_numpy(mask)
    return float(F.cross_entropy(torch.from_numpy(logits)[mask], torch.from_numpy(targets)[mask]))


def _masked_cases(rng: np.random.Generator):
    yield (np.zeros((4, 3)), np.array([0, 1, 2, 0]), np.array([False, True, True, False]))
    for frames, clusters in ((12, 5), (50, 100)):
        mask = rng.random(frames) < 0.4
        mask[int(rng.integers(frames))] = True
        yield (rng.normal(0, 3, size=(frames, clusters)), rng.integers(0, clusters, size=frames), mask)
    logits = rng.normal(size=(6, 4))
    logits[:, 2] += 1000.0  # logits around 1000: a naive exp overflows
    yield (logits, np.array([2, 0, 2, 1, 2, 3]), np.array([True, True, False, False, True, False]))


register(
    Exercise(
        id="11.masked_loss",
        prompt="""
HuBERT's loss (section 3): predict the unit of the masked frames only. Write
`masked_prediction_loss(logits, targets, mask)`: logits (frames, K) are the logits over the K
cluster units at every frame, targets (frames,) the k-means unit of each frame, mask (frames,)
bool, True at the frames that were masked (at least one). Return the cross-entropy (natural log)
averaged over the masked frames only, as a float; keep it finite for logits around 1000. (The
notebook's ablation puts the loss on all frames instead.)
""",
        prompt_zh="""
HuBERT 的损失（第 3 节）：只预测被掩码帧的单元。编写
`masked_prediction_loss(logits, targets, mask)`：logits (frames, K) 是每一帧在 K 个聚类单元上的
logits，targets (frames,) 是每一帧的 k 均值单元，mask (frames,) 是布尔数组，在被掩码的帧上
为 True（至少有一帧）。以 float 返回只在被掩码帧上求平均的交叉熵（自然对数）；logits 在
1000 左右时结果也必须是有限值。（笔记本中的消融实验则把损失放在所有帧上。）
""",
        reference=_masked_prediction_loss,
        cases=_masked_cases,
        hints=(
            "The unmasked frames do not enter the loss at all, not in the sum and not in the count. What "
            "is left is an ordinary classification loss.",
            "Select the masked rows of logits and targets, take each row's cross-entropy with a stable "
            "log-softmax (the row's largest logit subtracted first), and average over the masked frames. "
            "Dividing the masked sum by the number of all frames is a different loss, smaller the fewer "
            "frames are masked.",
        ),
        hints_zh=(
            "未被掩码的帧完全不进入损失，既不进入求和，也不进入计数。剩下的就是一个普通的分类损失。",
            "选出 logits 和 targets 中被掩码的行，用数值稳定的 log-softmax（先减去该行最大的 logit）"
            "求每一行的交叉熵，再在被掩码的帧上求平均。把被掩码帧上的和除以全部帧数，得到的是另一种损失，"
            "被掩码的帧越少，它就越小。",
        ),
        compare=allclose(rtol=1e-7, atol=1e-9),
    )
)
