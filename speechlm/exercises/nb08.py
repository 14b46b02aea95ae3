"""Exercises of notebook 08 (BERT): how many tokens are masked, the 80/10/10 rule, token types, MLM loss."""

from __future__ import annotations

import numpy as np

from speechlm.exercises import Exercise, allclose, equal, register


def _mask_count(n_ordinary: int, mlm_prob: float) -> int:
    return int(min(n_ordinary, max(1, round(mlm_prob * n_ordinary))))


def _mask_count_cases(rng: np.random.Generator):
    yield (10, 0.15)
    yield (1, 0.15)
    yield (20, 0.15)
    yield (3, 0.5)
    for _ in range(6):
        yield (int(rng.integers(1, 200)), float(rng.choice([0.1, 0.15, 0.2, 0.4])))


def _token_types(len_a: int, len_b: int) -> list[int]:
    return [0] * (len_a + 2) + [1] * (len_b + 1)


def _token_type_cases(rng: np.random.Generator):
    yield (3, 4)
    yield (1, 1)
    for _ in range(5):
        yield (int(rng.integers(1, 20)), int(rng.integers(1, 20)))


def _mlm_loss(logits: np.ndarray, labels: np.ndarray) -> float:
    keep = labels != -100
    z = logits[keep]
    z = z - z.max(axis=-1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return float(-log_probs[np.arange(len(z)), labels[keep]].mean())


def _mlm_loss_cases(rng: np.random.Generator):
    for time, vocab in ((6, 5), (12, 30), (20, 100)):
        logits = rng.normal(0, 3, size=(time, vocab))
        labels = np.full(time, -100)
        chosen = rng.choice(time, size=max(1, time // 5), replace=False)
        labels[chosen] = rng.integers(0, vocab, size=len(chosen))
        yield (logits, labels)
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0], [999.0, 1000.0, 0.0]])
    yield (logits, np.array([1, -100, 0]))  # logits around 1000: a naive exp overflows


register(
    Exercise(
        id="08.mask_count",
        prompt="""
Write `mask_count(n_ordinary, mlm_prob)`: how many tokens BERT chooses for
masked-language modelling in a sequence with `n_ordinary` ordinary tokens
(specials excluded). It is round(mlm_prob * n_ordinary), but at least one and
at most n_ordinary. Return an int.
""",
        prompt_zh="""
编写 `mask_count(n_ordinary, mlm_prob)`：在一个含 `n_ordinary` 个普通词元
（不计特殊词元）的序列中，BERT 为掩码语言建模选出多少个词元。结果是
round(mlm_prob * n_ordinary)，但至少为 1，至多为 n_ordinary。返回一个 int。
""",
        reference=_mask_count,
        cases=_mask_count_cases,
        hints=(
            "Start from the expected number, mlm_prob times n_ordinary, rounded to the nearest integer; "
            "then think about very short and very long sequences.",
            "A short sequence would otherwise get no masked token at all: choose at least one, and never "
            "more than there are ordinary tokens. Python's built-in rounding sends halves to the even "
            "neighbour (2.5 becomes 2), and so does the package; truncating instead is wrong for 1.5.",
        ),
        hints_zh=(
            "从期望的个数出发：mlm_prob 乘以 n_ordinary，再取最接近的整数；然后想一想很短和很长的序列。",
            "否则短序列可能一个要掩码的词元都没有：至少选一个，且不能多于普通词元的个数。Python 内置的 round "
            "把恰好一半的数舍入到相邻的偶数（2.5 变成 2），包里的实现也是如此；改用截断则在 1.5 处出错。",
        ),
        compare=equal,
    )
)

register(
    Exercise(
        id="08.token_types",
        prompt="""
Write `token_types(len_a, len_b)`: the token_type_ids (a list of ints) of the
pair input `[CLS] A [SEP] B [SEP]`, where sentence A has len_a word pieces and
B has len_b. Segment A (with [CLS] and its [SEP]) has type 0; B and the final
[SEP] have type 1.
""",
        prompt_zh="""
编写 `token_types(len_a, len_b)`：句对输入 `[CLS] A [SEP] B [SEP]` 的 token_type_ids
（一个 int 列表），其中句子 A 有 len_a 个 WordPiece 片段，B 有 len_b 个。
段 A（连同 [CLS] 和它的 [SEP]）的类型为 0；B 和最后的 [SEP] 的类型为 1。
""",
        reference=_token_types,
        cases=_token_type_cases,
        hints=(
            "Count the tokens of each segment with the special tokens: which of [CLS], [SEP] and [SEP] "
            "belong to A, which to B?",
            "Segment A is [CLS], the len_a pieces and its [SEP]: len_a + 2 tokens of type 0. Segment B is "
            "the len_b pieces and the final [SEP]: len_b + 1 tokens of type 1. Return one list of ints.",
        ),
        hints_zh=(
            "连同特殊词元一起，数出每一段有多少个词元：[CLS]、[SEP] 和 [SEP] 中，哪些属于 A，哪些属于 B？",
            "段 A 是 [CLS]、len_a 个片段和它的 [SEP]：共 len_a + 2 个类型为 0 的词元。段 B 是 len_b "
            "个片段和最后的 [SEP]：共 len_b + 1 个类型为 1 的词元。返回一个 int 列表。",
        ),
        compare=equal,
    )
)

register(
    Exercise(
        id="08.mlm_loss",
        prompt="""
Write `mlm_loss(logits, labels)` in NumPy: logits has shape (time, vocab),
labels shape (time,) with the original token id at masked positions and -100
elsewhere. Return the mean cross-entropy (natural log) over the positions whose
label is not -100, as a float, the MLM part of BERT's pretraining loss.
""",
        prompt_zh="""
用 NumPy 编写 `mlm_loss(logits, labels)`：logits 的形状为 (time, vocab)，labels 的形状为
(time,)，在被掩码的位置上是原来的词元 id，在其他位置上是 -100。返回标签不为 -100 的
那些位置上交叉熵（自然对数）的均值，类型为 float，这就是 BERT 预训练损失中的 MLM 部分。
""",
        reference=_mlm_loss,
        cases=_mlm_loss_cases,
        hints=(
            "Only the chosen positions count: select the rows whose label is not -100 before anything else.",
            "For each selected row take the log-softmax, the logits minus the log of the sum of their "
            "exponentials, and pick the entry of the row's label; the loss is minus the mean of these.",
            "Subtract each row's largest logit before exponentiating: logits around 1000 overflow otherwise.",
        ),
        hints_zh=(
            "只有被选中的位置才计入：先把标签不为 -100 的行挑出来，再做别的。",
            "对每个挑出的行做 log-softmax，即 logits 减去它们的指数之和的对数，再取出该行标签对应的那一项；"
            "损失就是这些值的均值的相反数。",
            "取指数之前，先减去每行最大的 logit：否则 1000 左右的 logits 会溢出。",
        ),
        compare=allclose(rtol=1e-6, atol=1e-8),
    )
)


def _corrupt(ids, chosen, u, random_ids, mask_id):
    corrupted = np.where(chosen & (u < 0.8), mask_id, ids)
    corrupted = np.where(chosen & (u >= 0.8) & (u < 0.9), random_ids, corrupted)
    return corrupted, np.where(chosen, ids, -100)


def _corrupt_cases(rng: np.random.Generator):
    ids = np.array([5, 6, 7, 8, 9, 10])
    yield (ids, np.array([True, True, True, False, False, True]), np.array([0.1, 0.85, 0.95, 0.1, 0.85, 0.5]),
           np.array([20, 21, 22, 23, 24, 25]), 4)  # fmt: skip
    # the edges of the ranges: 0.8 is random, 0.9 is kept
    yield (ids[:3], np.ones(3, dtype=bool), np.array([0.8, 0.9, 0.0]), np.array([30, 31, 32]), 4)
    for time in (12, 40):
        yield (
            rng.integers(5, 100, size=time),
            rng.random(time) < 0.3,
            rng.random(time),
            rng.integers(5, 100, size=time),
            int(rng.integers(1, 5)),
        )


register(
    Exercise(
        id="08.corrupt",
        prompt="""
BERT's 80/10/10 rule (section 2), with its random draws given so that the answer is exact.
Write `corrupt(ids, chosen, u, random_ids, mask_id)`: ids (time,) are the token ids; chosen
(time,) bool marks the positions chosen for masked-language modelling; u (time,) are uniform
draws in [0, 1), one per position; random_ids (time,) a random ordinary token for each position.
A chosen position becomes mask_id when u < 0.8, becomes random_ids at that position when
0.8 <= u < 0.9, and keeps its token when u >= 0.9; a position that is not chosen never changes.
Return (corrupted, labels), two int arrays (time,): labels holds the original id at every chosen
position and -100 elsewhere. Compare with `speechlm.bert.mask_tokens`, which draws u itself.
""",
        prompt_zh="""
BERT 的 80/10/10 规则（第 2 节），随机抽取的结果作为参数给出，因此答案是确定的。
编写 `corrupt(ids, chosen, u, random_ids, mask_id)`：ids (time,) 是词元 id；chosen
(time,) 为 bool，标出为掩码语言建模选中的位置；u (time,) 是 [0, 1) 上的均匀随机数，
每个位置一个；random_ids (time,) 为每个位置给出一个随机的普通词元。
被选中的位置在 u < 0.8 时变为 mask_id，在 0.8 <= u < 0.9 时变为该位置的 random_ids，
在 u >= 0.9 时保留原词元；没有被选中的位置永远不变。
返回 (corrupted, labels)，两个形状为 (time,) 的 int 数组：labels 在每个被选中的位置上
是原来的 id，在其他位置上是 -100。可与 `speechlm.bert.mask_tokens` 对照，后者自己抽取 u。
""",
        reference=_corrupt,
        cases=_corrupt_cases,
        hints=(
            "Decide each position on its own: is it chosen? If it is, which of the three ranges of u is "
            "its draw in?",
            "Three boolean masks do it: chosen with u below 0.8 (mask), chosen with u in [0.8, 0.9) "
            "(random token), everything else (unchanged). The labels depend on chosen only, not on u: the "
            "loss is computed at every chosen position, also where the token was replaced or kept, so "
            "that the model cannot tell which tokens to trust.",
        ),
        hints_zh=(
            "每个位置单独判断：它被选中了吗？如果选中了，它的 u 落在三个区间中的哪一个？",
            "三个布尔掩码就够了：被选中且 u 小于 0.8（换成掩码），"
            "被选中且 u 在 [0.8, 0.9) 内（换成随机词元），其余一切（不变）。"
            "labels 只取决于 chosen，与 u 无关：每个被选中的位置都要计算损失，"
            "包括词元被替换或被保留的位置，这样模型就无法分辨哪些词元可以信任。",
        ),
        compare=equal,
    )
)
