"""Exercises of notebook 09 (GPT): the causal mask, the next-token loss, top-k filtering, perplexity."""

from __future__ import annotations

import numpy as np
import torch

from speechlm.exercises import Exercise, allclose, equal, register
from speechlm.gpt.training import lm_loss


def _causal_mask(time: int) -> np.ndarray:
    return np.tril(np.ones((time, time), dtype=bool))


def _causal_cases(rng: np.random.Generator):
    yield (1,)
    yield (4,)
    yield (int(rng.integers(5, 40)),)


def _top_k(logits: np.ndarray, k: int) -> np.ndarray:
    kth = np.sort(logits)[-k]
    return np.where(logits < kth, -np.inf, logits)


def _top_k_cases(rng: np.random.Generator):
    yield (np.array([1.0, 3.0, 2.0, -1.0]), 2)
    yield (np.array([0.5, 0.1]), 2)
    yield (np.array([1.0, 3.0, 3.0, 2.0]), 1)  # a tie at the k-th largest: both 3s stay
    yield (np.array([0.5, 1.0, -2.0, 1.0, 1.0]), 2)  # three tied at the 2nd largest: all three stay
    yield (np.array([2.0, 2.0, 2.0]), 2)
    for _ in range(4):
        vocab = int(rng.integers(3, 60))
        yield (rng.normal(size=vocab), int(rng.integers(1, vocab + 1)))


def _perplexity(log_probs: np.ndarray) -> float:
    return float(np.exp(-np.mean(log_probs)))


def _perplexity_cases(rng: np.random.Generator):
    yield (np.log(np.full(5, 0.25)),)
    yield (np.log(np.array([0.5, 0.1, 0.9])),)
    for _ in range(4):
        yield (np.log(rng.uniform(0.01, 1.0, size=int(rng.integers(1, 50)))),)


register(
    Exercise(
        id="09.causal_mask",
        prompt="""
Write `causal_mask(time)`: a (time, time) NumPy bool array that is True where
query position i may attend to key position j, that is when j <= i.
""",
        prompt_zh="""
编写 `causal_mask(time)`：一个形状为 (time, time) 的 NumPy bool 数组，当查询位置 i
可以关注键位置 j，即 j <= i 时为 True。
""",
        reference=_causal_mask,
        cases=_causal_cases,
        hints=(
            "Query i may look at itself and at every earlier position: which triangle of the (time, time) "
            "matrix is that?",
            "The lower triangle with the diagonal: row i is true in columns 0 to i. NumPy's tril keeps "
            "exactly that part of a matrix. The answer must be a bool array, not 0s and 1s.",
        ),
        hints_zh=(
            "查询 i 可以看它自己以及它之前的每一个位置：这是 (time, time) 矩阵的哪一个三角？",
            "包含对角线的下三角：第 i 行在第 0 到第 i 列为 True。NumPy 的 tril 恰好保留矩阵的这一部分。"
            "答案必须是 bool 数组，而不是由 0 和 1 组成的数组。",
        ),
        compare=equal,
    )
)

register(
    Exercise(
        id="09.top_k",
        prompt="""
Write `top_k(logits, k)`: given a 1-D NumPy array of logits, return a copy in
which every logit smaller than the k-th largest is replaced by -inf. Ties with
the k-th largest are kept, so more than k logits can survive:
top_k([1, 3, 3, 2], 1) -> [-inf, 3, 3, -inf]. Sampling from the softmax of the
result draws only among the k most likely tokens (and any tied with the k-th).
""",
        prompt_zh="""
编写 `top_k(logits, k)`：给定一个一维 NumPy logits 数组，返回它的一个副本，其中
所有小于第 k 大值的 logit 都替换为 -inf。与第 k 大值相等的也保留，所以留下的
logit 可能多于 k 个：top_k([1, 3, 3, 2], 1) -> [-inf, 3, 3, -inf]。从结果的 softmax
中采样，就只会在最可能的 k 个词元（以及与第 k 个并列的词元）中抽取。
""",
        reference=_top_k,
        cases=_top_k_cases,
        hints=(
            "Find the value of the k-th largest logit, a threshold, rather than the positions of the k "
            "largest: a threshold treats tied logits alike.",
            "Sorted in increasing order, the k-th largest value is the k-th from the end. Every logit below "
            "the threshold becomes -inf, every other keeps its value; work on a copy and leave the input "
            "unchanged. Taking the k positions of an argsort drops ties at random.",
        ),
        hints_zh=(
            "求出第 k 大的 logit 的值作为阈值，而不是找出前 k 大的位置：阈值对并列的 logit 一视同仁。",
            "按升序排序后，第 k 大的值就是倒数第 k 个。低于阈值的 logit 变成 -inf，其余保持原值；"
            "在副本上操作，不要改动输入。取 argsort 给出的 k 个位置，会随意丢掉并列的 logit。",
        ),
        compare=allclose(rtol=0, atol=0),
    )
)

register(
    Exercise(
        id="09.perplexity",
        prompt="""
Write `perplexity(log_probs)`: given the natural-log probabilities a language
model gave to each token of a text (a 1-D NumPy array), return the perplexity,
exp of the mean negative log-probability, as a float.
""",
        prompt_zh="""
编写 `perplexity(log_probs)`：给定语言模型赋予一段文本中每个词元的自然对数概率
（一个一维 NumPy 数组），返回困惑度，即平均负对数概率的指数（exp），类型为 float。
""",
        reference=_perplexity,
        cases=_perplexity_cases,
        hints=(
            "Perplexity is the exponential of the average surprise per token. What is the surprise of a "
            "token that got log-probability l?",
            "The surprise is -l. Average it over the tokens (a mean, not a sum, so that long texts are "
            "comparable with short ones) and exponentiate with base e, the base of the logs. A model that "
            "gives every token probability 1/4 has perplexity 4.",
        ),
        hints_zh=(
            "困惑度是每个词元平均“意外程度”的指数。一个得到对数概率 l 的词元，它的意外程度是多少？",
            "意外程度是 -l。对所有词元取平均（用均值而不是总和，这样长文本和短文本才能相互比较），再以 e "
            "为底取指数，因为对数也以 e 为底。一个给每个词元都赋予概率 1/4 的模型，困惑度为 4。",
        ),
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)


def _next_token_loss(logits: np.ndarray, ids: np.ndarray) -> float:
    return float(lm_loss(torch.from_numpy(logits)[None], torch.from_numpy(ids)[None]))


def _loss_cases(rng: np.random.Generator):
    yield (np.zeros((3, 4)), np.array([1, 2, 3]))
    yield (rng.normal(0, 2, size=(6, 5)), rng.integers(0, 5, size=6))
    yield (rng.normal(0, 3, size=(20, 30)), rng.integers(0, 30, size=20))
    logits = rng.normal(0, 1, size=(4, 6))
    logits[:, 0] += 1000.0  # logits around 1000: a naive exp overflows
    yield (logits, np.array([0, 0, 3, 0]))
    yield (rng.normal(size=(2, 3)), np.array([2, 1]))  # one prediction only


register(
    Exercise(
        id="09.next_token_loss",
        prompt="""
The loss a GPT is trained with (section 4). Write `next_token_loss(logits, ids)` for one sequence:
logits (time, vocab) are the model's outputs at each position, ids (time,) the sequence's token ids.
The logits at position t predict the next token, ids[t + 1]; the last position has no next token and
is not scored. Return the mean cross-entropy (natural log) over the time - 1 predictions, as a float,
finite for logits around 1000. Compare with `speechlm.gpt.lm_loss`.
""",
        prompt_zh="""
训练 GPT 所用的损失（第 4 节）。为单个序列编写 `next_token_loss(logits, ids)`：
logits (time, vocab) 是模型在每个位置上的输出，ids (time,) 是该序列的词元 id。
位置 t 的 logits 预测下一个词元 ids[t + 1]；最后一个位置没有下一个词元，不计分。
返回这 time - 1 个预测上交叉熵（自然对数）的均值，类型为 float，并且 logits 在 1000
左右时结果也必须是有限值。可与 `speechlm.gpt.lm_loss` 对照。
""",
        reference=_next_token_loss,
        cases=_loss_cases,
        hints=(
            "Line predictions and targets up first: which rows of logits and which ids are paired? There "
            "are time - 1 pairs.",
            "Drop the last row of logits and the first id: row t is then scored against ids[t + 1]. After "
            "that it is the cross-entropy of 08.mlm_loss without a mask: a stable log-softmax per row (the "
            "row's largest logit subtracted first), the entry of the target, minus the mean.",
        ),
        hints_zh=(
            "先把预测和目标对齐：logits 的哪些行和哪些 id 配成一对？一共有 time - 1 对。",
            "去掉 logits 的最后一行和 ids 的第一个：这样第 t 行就与 ids[t + 1] 比较。之后就是不带掩码的 "
            "08.mlm_loss 交叉熵：对每行做数值稳定的 log-softmax（先减去该行最大的 logit），取出目标对应的项，"
            "再对均值取相反数。",
        ),
        compare=allclose(rtol=1e-7, atol=1e-9),
    )
)
