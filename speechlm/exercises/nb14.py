"""Exercises of notebook 14 (a voice-command recogniser): the layer mix, exact match, intents from slots."""

from __future__ import annotations

import numpy as np
import torch

from speechlm import voice_commands
from speechlm.corpus import sample_texts
from speechlm.exercises import Exercise, allclose, equal, register
from speechlm.heads import LayerMix

_FIELDS = ("intent", "action", "device", "room")


def _exact_match(predictions: list[dict], references: list[dict]) -> float:
    return voice_commands.slu_scores(predictions, references, _FIELDS)["exact_match"]


def _exact_match_cases(rng: np.random.Generator):
    refs = [item["labels"] for item in sample_texts("test", size=12, seed=4, tasks="commands")]
    yield ([dict(r) for r in refs], refs)
    yield ([{**r, "room": "none"} for r in refs], refs)
    for _ in range(3):
        preds = []
        for r in refs:
            wrong = rng.choice(_FIELDS) if rng.random() < 0.5 else None
            preds.append({f: (r[f] if f != wrong else "garage") for f in _FIELDS})
        yield (preds, refs)


def _compose_cases(rng: np.random.Generator):
    yield ("lock", "back door")
    yield ("activate", "lights")
    yield ("set", "temperature")
    for item in sample_texts("dev", size=5, seed=int(rng.integers(100)), tasks="commands"):
        yield (item["labels"]["action"], item["labels"]["device"])


register(
    Exercise(
        id="14.exact_match",
        prompt="""
Write `exact_match(predictions, references)`: both are lists of dicts with the
fields "intent", "action", "device" and "room" (strings). Return the share of
utterances whose four fields are all right, a float in [0, 1]. A command with
the right intent but the wrong room is a wrong command: the speaker locks the
wrong door.
""",
        prompt_zh="""
编写 `exact_match(predictions, references)`：两者都是字典的列表，字典含有
"intent"、"action"、"device" 和 "room" 四个字段（字符串）。返回四个字段全部正确的
语句所占的比例，一个 [0, 1] 之间的浮点数。意图正确而房间错误的命令就是错误的命令：
音箱会锁错门。
""",
        reference=_exact_match,
        cases=_exact_match_cases,
        hints=(
            "An utterance counts only if all four of its fields are right.",
            "For each utterance compare the four fields of the prediction with those of the reference; "
            "the score is the number of fully right utterances divided by the number of utterances, a "
            "float. The mean of the four per-field accuracies is a different, kinder number.",
        ),
        hints_zh=(
            "只有四个字段全部正确，一条语句才算正确。",
            "对每条语句，把预测的四个字段与参考答案的四个字段逐一比较；得分是完全正确的语句数除以语句总数，"
            "结果是浮点数。四个字段各自准确率的平均值是另一个更宽松的数字。",
        ),
        compare=allclose(rtol=0, atol=1e-12),
    )
)

register(
    Exercise(
        id="14.compose_intent",
        prompt="""
Write `compose_intent(action, device)`: the corpus's intent label of an action
and a device, the action, an underscore, then the device with its spaces
turned into underscores: ("lock", "back door") -> "lock_back_door". With it,
a recogniser can answer the intent from its action and device slots instead of
a separate 57-way intent classifier.
""",
        prompt_zh="""
编写 `compose_intent(action, device)`：由动作和设备组成语料库的意图标签，即动作、
一个下划线，再接上把空格换成下划线后的设备名：("lock", "back door") -> "lock_back_door"。
有了它，识别器就可以由动作槽位和设备槽位给出意图，而不必另设一个 57 类的意图分类器。
""",
        reference=voice_commands.compose_intent,
        cases=_compose_cases,
        hints=(
            "Look at the example: which characters of the device change, and what joins the two parts?",
            "Join the action and the device with an underscore, after turning every space inside the "
            "device into an underscore (a Python string has a method that replaces a substring by another).",
        ),
        hints_zh=(
            "看看例子：设备名中的哪些字符变了，两部分又是用什么连接起来的？",
            "先把设备名里的每个空格都换成下划线，再用一个下划线把动作和设备连接起来（Python 的字符串有一个"
            "把子串替换成另一个子串的方法）。",
        ),
        compare=equal,
    )
)


def _layer_mix(layers: np.ndarray, logits: np.ndarray) -> np.ndarray:
    mix = LayerMix(len(logits), norm=False).double()
    with torch.no_grad():
        mix.layer_logits.copy_(torch.from_numpy(logits))
        return mix(torch.from_numpy(layers)).numpy()


def _mix_cases(rng: np.random.Generator):
    yield (np.arange(12.0).reshape(3, 2, 2), np.zeros(3))  # equal logits: the mean of the layers
    yield (rng.normal(size=(5, 7, 4)), rng.normal(size=5))
    yield (rng.normal(size=(13, 20, 8)), 3 * rng.normal(size=13))
    yield (rng.normal(size=(4, 3, 2)), np.array([1000.0, 999.0, 0.0, -1000.0]))  # no overflow


register(
    Exercise(
        id="14.layer_mix",
        prompt="""
The head of section 2 reads every layer of the encoder, mixed with learned weights. Write
`layer_mix(layers, logits)`: layers (num_layers, time, d) are the encoder's layers (already
normalised), logits (num_layers,) the head's mixing parameters. The weights are
softmax(logits), positive and summing to 1; return the mix sum_l weight_l layers[l], shape
(time, d). Keep it finite for logits around 1000. Compare with `speechlm.heads.LayerMix(norm=False)`.
""",
        prompt_zh="""
第 2 节的分类头读取编码器的每一层，并用学到的权重把它们混合起来。编写
`layer_mix(layers, logits)`：layers (num_layers, time, d) 是编码器的各层（已经归一化），
logits (num_layers,) 是分类头的混合参数。权重为 softmax(logits)，全为正且和为 1；
返回混合结果 sum_l weight_l layers[l]，形状为 (time, d)。logits 在 1000 左右时结果也要
保持有限。可以与 `speechlm.heads.LayerMix(norm=False)` 对照。
""",
        reference=_layer_mix,
        cases=_mix_cases,
        hints=(
            "Two steps: turn the logits into weights that are positive and sum to 1, then take the weighted "
            "sum over the layer axis.",
            "The weights are the softmax of the logits, computed with the largest logit subtracted first "
            "(the result is the same, and 1000 does not overflow). Give the weights two trailing axes of "
            "length 1 so that they broadcast against (num_layers, time, d), multiply and sum over axis 0.",
        ),
        hints_zh=(
            "分两步：先把 logits 变成全为正、和为 1 的权重，再沿层所在的轴求加权和。",
            "权重是 logits 的 softmax，计算时先减去最大的 logit（结果不变，1000 也不会溢出）。给权重添加两个"
            "长度为 1 的末尾轴，使它能与 (num_layers, time, d) 广播相乘，然后沿第 0 轴求和。",
        ),
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)
