"""The English grammar of the embedded corpus, with labels and parallel Chinese.

Text only, no audio: notebooks 08 and 09 (BERT, GPT) train on this text
directly; :func:`speechlm.corpus.load` speaks it. Public, stable API:

``sample_texts(split="train", size=100, seed=0, tasks=None) -> list[dict]``
    Random sentences. Each item is ``{"text", "task", "labels"}`` where
    ``labels`` holds ``"task"``, the task's labels and ``"zh"`` (the Chinese
    translation). Splits are disjoint random draws (a different random stream
    per split); scene sentences of dev and test come from held-out scenes.
``sample_scenes(split="train", size=100, seed=0) -> list[dict]``
    Multi-sentence scenes ``{"scene", "type", "sentences", "zh"}`` whose order
    matters (for next-sentence prediction); the scenes of each split are
    disjoint from the other splits' (a hash of the scene's text picks its split).
``TASKS``
    The task names, with these labels (besides ``task`` and ``zh``):

    - ``"digits"``: ``digits`` (a string such as ``"371"``); half of them are a
      single isolated digit word ("seven"), which also carry ``digit`` (an int
      0-9). Notebook 05 classifies those: ``[u for u in utts if "digit" in u.labels]``.
    - ``"commands"``: ``intent`` (``"activate_lights"``), ``action``, ``device``,
      ``room`` (``"none"`` when not said).
    - ``"sentiment"``: ``sentiment`` (``"positive"`` / ``"negative"``), with
      negations ("was not very good") so that single words do not decide it.
    - ``"spam"``: ``spam`` (``"spam"`` / ``"ham"``).
    - ``"questions"``: ``qtype`` (``"weather"``, ``"time"``, ``"distance"``, ``"math"``).
    - ``"scenes"``: ``scene`` (id), ``scene_type``, ``sentence_index``,
      ``num_sentences``; consecutive items of one scene appear in order.

All text is lower case, words separated by one space, no punctuation. One
call gives at most :data:`MAX_TEXTS` sentences (a million: about 30 s and
1 GB of memory; the grammar has only about 21,000 distinct sentences in
200,000 draws, so more only repeats them).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from speechlm.corpus import lexicon as lx
from speechlm.corpus.scenes import fill_scene, scene_split

__all__ = ["GRAMMAR_VERSION", "MAX_TEXTS", "SPLITS", "TASKS", "sample_scenes", "sample_texts", "vocabulary"]

GRAMMAR_VERSION = 2  # 2: Chinese translations reviewed (errands, events, spam, adjectives); English unchanged
MAX_TEXTS = 1_000_000
SPLITS = ("train", "dev", "test")
TASKS = ("digits", "commands", "sentiment", "spam", "questions", "scenes")
_SPLIT_CODE = {"train": 0, "dev": 1, "test": 2}


def check_split(split: str) -> int:
    """The split's number, or a clear error for an unknown split."""
    if split not in _SPLIT_CODE:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return _SPLIT_CODE[split]


def check_tasks(tasks: Sequence[str] | str | None) -> tuple[str, ...]:
    """Normalise ``tasks`` (None means all), with a clear error for an unknown task."""
    if tasks is None:
        return TASKS
    if isinstance(tasks, str):
        tasks = [tasks]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise ValueError(f"tasks must be a non-empty list drawn from {TASKS}, got {list(tasks)!r}")
    return tuple(dict.fromkeys(tasks))


def check_count(value, name: str = "size", *, maximum: int, why: str, minimum: int = 1) -> int:
    """``value`` as an int if it is an integer in ``minimum..maximum`` (``minimum`` 0 or 1); else a
    ValueError naming ``name``, the value and the allowed range (``why`` explains the maximum)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        whole = isinstance(value, float) and value.is_integer() and value >= minimum
        hint = f"pass {name}={int(value)}" if whole else f"pass a whole number, e.g. {name}=500"
        raise ValueError(f"{name} must be an integer, got {type(value).__name__} {value!r}: {hint}")
    if value < minimum:
        kind = "a positive" if minimum == 1 else "a non-negative"
        raise ValueError(f"{name} must be {kind} integer, got {value}")
    if value > maximum:
        raise ValueError(f"{name} must be at most {maximum:,}, got {value:,}: {why}")
    return int(value)


def check_seed(seed) -> int:
    """``seed`` as an int if it is a non-negative integer, else a clear ValueError."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {type(seed).__name__} {seed!r}")
    return int(seed)


_TEXTS_WHY = "the grammar has only about 21,000 distinct sentences, so more only repeats them"


def _pick(rng: np.random.Generator, items):
    items = list(items)
    return items[int(rng.integers(len(items)))]


def _digits(rng: np.random.Generator) -> tuple[str, str, dict]:
    if rng.random() < 0.5:
        d = int(rng.integers(10))
        return lx.DIGITS[d], lx.DIGITS_ZH[d], {"digits": str(d), "digit": d}
    ds = rng.integers(10, size=int(rng.integers(2, 6)))
    text = " ".join(lx.DIGITS[d] for d in ds)
    return text, "".join(lx.DIGITS_ZH[d] for d in ds), {"digits": "".join(map(str, ds))}


def _commands(rng: np.random.Generator) -> tuple[str, str, dict]:
    if rng.random() < 0.1:  # a command with a value
        room = _pick(rng, [*lx.ROOMS, "none"])
        degrees = int(rng.integers(16, 29))
        where, where_zh = ("", "") if room == "none" else (f" in the {room}", lx.ROOMS[room])
        text = f"set the temperature{where} to {lx.number_en(degrees)} degrees"
        zh = f"把{where_zh}温度调到{lx.number_zh(degrees)}度"
        labels = {"intent": "set_temperature", "action": "set", "device": "temperature", "room": room}
        return text, zh, {**labels, "value": degrees}
    action = _pick(rng, lx.COMMAND_ACTIONS)
    devices, phrasings, zh_template = lx.COMMAND_ACTIONS[action]
    device = _pick(rng, devices)
    room = _pick(rng, [*lx.ROOMS, "none", "none"])
    phrase = _pick(rng, phrasings)
    if room == "none":
        text, room_zh = phrase.format(d=device), ""
    elif rng.random() < 0.5:
        text, room_zh = phrase.format(d=f"{room} {device}"), lx.ROOMS[room] + "的"
    else:
        text, room_zh = phrase.format(d=device) + f" in the {room}", lx.ROOMS[room] + "的"
    zh = zh_template.format(r=room_zh, d=devices[device])
    labels = {"intent": f"{action}_{device.replace(' ', '_')}", "action": action, "device": device}
    return text, zh, {**labels, "room": room}


def _sentiment(rng: np.random.Generator) -> tuple[str, str, dict]:
    positive = bool(rng.random() < 0.5)
    subject = _pick(rng, lx.SUBJECTS)
    subject_zh = lx.SUBJECTS[subject]
    form = int(rng.integers(4))
    if form == 0:  # "the movie was really great"
        table = lx.POSITIVE_ADJ if positive else lx.NEGATIVE_ADJ
        adj, adverb = _pick(rng, table), _pick(rng, lx.ADVERBS)
        text, zh = f"{subject} was {adverb} {adj}", f"{subject_zh}{lx.ADVERBS[adverb]}{table[adj]}"
    elif form == 1:  # negation flips the adjective: "the movie was not very good" is negative
        if positive:
            adj = _pick(rng, ["bad", "boring", "slow", "noisy"])
            text, zh = f"{subject} was not {adj} at all", f"{subject_zh}一点也不{lx.NEGATIVE_ADJ[adj]}"
        else:
            adj = _pick(rng, ["good", "great", "pleasant", "friendly"])
            text, zh = f"{subject} was not very {adj}", f"{subject_zh}不太{lx.POSITIVE_ADJ[adj]}"
    elif form == 2:
        verb, verb_zh = _pick(
            rng,
            [("loved", "真的很爱"), ("enjoyed", "真的很享受"), ("liked", "真的喜欢")]
            if positive
            else [("hated", "真的很讨厌"), ("disliked", "真的不喜欢"), ("regretted", "真的后悔选择")],
        )
        text, zh = f"i really {verb} {subject}", f"我{verb_zh}{subject_zh}"
    else:
        if positive:
            text, zh = f"i would recommend {subject} to everyone", f"我会向所有人推荐{subject_zh}"
        else:
            text, zh = f"i would never recommend {subject} to anyone", f"我绝不会向任何人推荐{subject_zh}"
    return text, zh, {"sentiment": "positive" if positive else "negative"}


def _spam(rng: np.random.Generator) -> tuple[str, str, dict]:
    if rng.random() < 0.5:
        prize, product = _pick(rng, lx.PRIZES), _pick(rng, lx.PRODUCTS)
        percent = int(rng.choice([20, 30, 40, 50, 60, 70, 80, 90]))
        options = [
            (f"congratulations you have won a free {prize}", f"恭喜您赢得了免费{lx.PRIZES[prize]}"),
            (f"click the link now to claim your {prize}", f"立即点击链接领取您的{lx.PRIZES[prize]}"),
            (
                f"call now to get {lx.number_en(percent)} percent off {product}",
                f"现在来电购买{lx.PRODUCTS[product]}可享百分之{lx.number_zh(percent)}的优惠",
            ),
            ("you have been selected for a special cash reward", "您已被选中获得特别现金奖励"),
            (f"limited offer buy cheap {product} today", f"限时优惠今天购买便宜{lx.PRODUCTS[product]}"),
            (
                f"reply yes to receive your free {prize} before midnight",
                f"午夜前回复确认即可领取您的免费{lx.PRIZES[prize]}",
            ),
        ]
        text, zh = _pick(rng, options)
        return text, zh, {"spam": "spam"}
    day, errand, event, place = (_pick(rng, t) for t in (lx.DAYS, lx.ERRANDS, lx.EVENTS, lx.PLACES))
    options = [
        (f"are we still meeting {day}", f"我们{lx.DAYS[day]}还见面吗"),
        (f"can you pick up {errand} on the way home", f"你回家路上能顺便{lx.ERRANDS[errand]}吗"),
        (f"i will be a little late for {event}", f"{lx.EVENTS[event]}我会晚一点到"),
        (f"see you at the {place} {day}", f"{lx.DAYS[day]}在{lx.PLACES[place]}见"),
        (f"thanks for {event} it was fun", f"谢谢你陪我{lx.EVENT_ACTIVITIES[event]}很开心"),
        (f"do not forget {errand} {day}", f"{lx.DAYS[day]}别忘了{lx.ERRANDS[errand]}"),
    ]
    text, zh = _pick(rng, options)
    return text, zh, {"spam": "ham"}


def _questions(rng: np.random.Generator) -> tuple[str, str, dict]:
    qtype = _pick(rng, ["weather", "time", "distance", "math"])
    city = _pick(rng, lx.CITIES)
    if qtype == "weather":
        day = _pick(rng, lx.DAYS)
        return (
            f"what will the weather be like in {city} {day}",
            f"{lx.CITIES[city]}{lx.DAYS[day]}天气怎么样",
            {"qtype": qtype},
        )
    if qtype == "time":
        return f"what time is it in {city} right now", f"{lx.CITIES[city]}现在几点了", {"qtype": qtype}
    if qtype == "distance":
        other = _pick(rng, [c for c in lx.CITIES if c != city])
        zh = f"从{lx.CITIES[city]}到{lx.CITIES[other]}有多远"
        return f"how far is it from {city} to {other}", zh, {"qtype": qtype}
    a, b = (int(x) for x in rng.integers(1, 50, size=2))
    zh = f"{lx.number_zh(a)}加{lx.number_zh(b)}等于多少"
    return f"what is {lx.number_en(a)} plus {lx.number_en(b)}", zh, {"qtype": qtype, "answer": a + b}


_GENERATORS = {
    "digits": _digits,
    "commands": _commands,
    "sentiment": _sentiment,
    "spam": _spam,
    "questions": _questions,
}


def _scene_in_split(rng: np.random.Generator, split: str) -> dict:
    while True:  # about 1 in 1.25 (train) or 1 in 10 (dev, test) draws is accepted
        scene = fill_scene(rng)
        if scene_split(" ".join(scene["sentences"])) == split:
            return scene


def sample_texts(
    split: str = "train", size: int = 100, seed: int = 0, tasks: Sequence[str] | str | None = None
) -> list[dict]:
    """``size`` random sentences of the given tasks (all by default), each task about equally often.

    Returns ``[{"text", "task", "labels"}]``; see the module docstring for the
    labels. The same arguments always give the same list; another seed or
    split gives another draw. A scene contributes its sentences in order, one
    item each (the last scene may be cut off at ``size``).
    """
    code = check_split(split)
    tasks = check_tasks(tasks)
    size = check_count(size, maximum=MAX_TEXTS, why=_TEXTS_WHY, minimum=0)
    rng = np.random.default_rng([check_seed(seed), code, 1])
    items: list[dict] = []
    # a scene gives about 4 sentences: weigh it down so that every task gets a similar share
    weights = np.array([0.25 if t == "scenes" else 1.0 for t in tasks])
    while len(items) < size:
        task = tasks[int(rng.choice(len(tasks), p=weights / weights.sum()))]
        if task == "scenes":
            scene = _scene_in_split(rng, split)
            n = len(scene["sentences"])
            for i, (text, zh) in enumerate(zip(scene["sentences"], scene["zh"], strict=True)):
                labels = {"task": task, "scene": scene["scene"], "scene_type": scene["type"]}
                labels.update(sentence_index=i, num_sentences=n, zh=zh)
                items.append({"text": text, "task": task, "labels": labels})
        else:
            text, zh, labels = _GENERATORS[task](rng)
            items.append({"text": text, "task": task, "labels": {"task": task, **labels, "zh": zh}})
    return items[:size]


def sample_scenes(split: str = "train", size: int = 100, seed: int = 0) -> list[dict]:
    """``size`` random scenes of the split: ``[{"scene", "type", "sentences", "zh"}]``.

    ``sentences`` and ``zh`` are lists of 4 or 5 strings in story order. Scenes
    of one split never occur in another (see :func:`speechlm.corpus.scenes.scene_split`);
    within one call a scene may repeat.
    """
    code = check_split(split)
    size = check_count(size, maximum=MAX_TEXTS // 4, why=_TEXTS_WHY, minimum=0)
    rng = np.random.default_rng([check_seed(seed), code, 2])
    return [_scene_in_split(rng, split) for _ in range(size)]


def vocabulary() -> list[str]:
    """The sorted English words of a large sample of the grammar (4,000 sentences per split)."""
    words: set[str] = set()
    for split in SPLITS:
        for item in sample_texts(split, 4000, seed=0):
            words.update(item["text"].split())
    return sorted(words)
