"""Short multi-sentence scenes whose sentence order matters (for BERT's next-sentence prediction).

A scene is a template of 4 or 5 sentences (``"{name} woke up early"``, then
``"{sub} made a cup of {drink}"``...) whose slots are filled at random, each
sentence with its Chinese translation. Which split a filled scene belongs to
is decided by a hash of its full English text, so the scenes of dev and test
are never scenes of train (see :func:`scene_split`). Use it through
:func:`speechlm.corpus.grammar.sample_scenes`.
"""

from __future__ import annotations

import hashlib

import numpy as np

from speechlm.corpus import lexicon as lx

# Each scene: list of (English, Chinese) sentence templates. Slots: name, sub/obj/pos
# (pronouns), and one value per word list used (drink, food, food2, veg, city, hour...).
SCENES: dict[str, list[tuple[str, str]]] = {
    "morning": [
        ("{name} woke up early", "{name_zh}很早就醒了"),
        ("{sub} made a cup of {drink}", "{sub_zh}泡了一杯{drink_zh}"),
        ("then {sub} read the news", "然后{sub_zh}看了新闻"),
        ("after that {sub} left for work", "之后{sub_zh}去上班了"),
    ],
    "shopping": [
        ("{name} needed some {food}", "{name_zh}需要一些{food_zh}"),
        ("{sub} walked to the market", "{sub_zh}走路去了市场"),
        ("{sub} bought {food} and {food2}", "{sub_zh}买了{food_zh}和{food2_zh}"),
        ("then {sub} carried the bags home", "然后{sub_zh}把袋子提回了家"),
    ],
    "cooking": [
        ("{name} wanted to cook dinner", "{name_zh}想做晚饭"),
        ("{sub} washed the {veg}", "{sub_zh}洗了{veg_zh}"),
        ("{sub} cut the {veg} into small pieces", "{sub_zh}把{veg_zh}切成小块"),
        ("{sub} put everything in the pan", "{sub_zh}把所有东西放进锅里"),
        ("finally {sub} served the meal", "最后{sub_zh}端上了饭菜"),
    ],
    "trip": [
        ("{name} packed a small bag", "{name_zh}收拾了一个小包"),
        ("{sub} took a taxi to the station", "{sub_zh}坐出租车去了车站"),
        ("the train to {city} left at {hour}", "去{city_zh}的火车{hour_zh}点出发"),
        ("{sub} arrived in {city} in the evening", "{sub_zh}晚上到了{city_zh}"),
    ],
    "rain": [
        ("dark clouds covered the sky", "乌云遮住了天空"),
        ("soon it started to rain", "很快就下起了雨"),
        ("{name} opened {pos} umbrella", "{name_zh}打开了{pos_zh}伞"),
        ("{sub} waited under a tree until the rain stopped", "{sub_zh}在树下等到雨停"),
    ],
    "garden": [
        ("{name} bought a bag of {flower} seeds", "{name_zh}买了一袋{flower_zh}种子"),
        ("{sub} planted them in the garden", "{sub_zh}把它们种在花园里"),
        ("every morning {sub} watered the soil", "每天早上{sub_zh}都给土浇水"),
        ("after a few weeks the flowers began to bloom", "几周后花开了"),
    ],
    "birthday": [
        ("today {name} turned {age}", "今天{name_zh}{age_zh}岁了"),
        ("{pos} friends came to the house", "{pos_zh}朋友们来到家里"),
        ("they brought a big {cake} cake", "他们带来了一个大{cake_zh}蛋糕"),
        ("everyone sang and ate cake", "大家唱歌吃蛋糕"),
    ],
    "keys": [
        ("{name} could not find {pos} keys", "{name_zh}找不到{pos_zh}钥匙"),
        ("{sub} looked in the kitchen and the bedroom", "{sub_zh}在厨房和卧室里找了找"),
        ("finally {sub} found them in {pos} coat", "最后{sub_zh}在{pos_zh}外套里找到了"),
        ("then {sub} locked the door and left", "然后{sub_zh}锁上门走了"),
    ],
    "football": [
        ("{name} went to the park with {pos} friends", "{name_zh}和{pos_zh}朋友们去了公园"),
        ("they played football for an hour", "他们踢了一个小时足球"),
        ("{name} scored {goals} goals", "{name_zh}进了{goals_zh}个球"),
        ("after the game they drank cold water", "比赛后他们喝了凉水"),
    ],
    "exam": [
        ("{name} had an exam {day}", "{name_zh}{day_zh}有一场考试"),
        ("{sub} studied every evening", "{sub_zh}每天晚上都学习"),
        ("on the day of the exam {sub} felt calm", "考试那天{sub_zh}感觉很平静"),
        ("a week later {sub} got a very good grade", "一周后{sub_zh}得了很好的成绩"),
    ],
    "doctor": [
        ("{name} felt sick in the morning", "{name_zh}早上觉得不舒服"),
        ("{sub} called the doctor", "{sub_zh}给医生打了电话"),
        ("the doctor told {obj} to rest", "医生让{obj_zh}休息"),
        ("{hour} days later {sub} felt much better", "{hour_zh}天后{sub_zh}感觉好多了"),
    ],
    "library": [
        ("{name} went to the library", "{name_zh}去了图书馆"),
        ("{sub} borrowed a book about {topic}", "{sub_zh}借了一本关于{topic_zh}的书"),
        ("{sub} read it in one night", "{sub_zh}一个晚上就读完了"),
        ("the next day {sub} returned the book", "第二天{sub_zh}还了书"),
    ],
}

SPLIT_BUCKETS = {"train": range(0, 8), "dev": range(8, 9), "test": range(9, 10)}


def scene_split(text: str) -> str:
    """The split ("train", "dev" or "test") a filled scene belongs to: a stable hash of its text.

    About 80 % of all possible scenes are training scenes, 10 % dev and 10 % test.
    """
    bucket = int(hashlib.md5(text.encode("utf-8")).hexdigest(), 16) % 10
    return next(name for name, buckets in SPLIT_BUCKETS.items() if bucket in buckets)


def _pick(rng: np.random.Generator, table: dict) -> tuple[str, object]:
    keys = list(table)
    key = keys[int(rng.integers(len(keys)))]
    return key, table[key]


def fill_scene(rng: np.random.Generator) -> dict:
    """One random scene: ``{"scene", "type", "sentences", "zh"}`` (the id is a hash of the text)."""
    kind = list(SCENES)[int(rng.integers(len(SCENES)))]
    name, (name_zh, gender) = _pick(rng, lx.NAMES)
    (sub, obj, pos), (sub_zh, obj_zh, pos_zh) = lx.PRONOUNS[gender]
    slots = {"name": name, "name_zh": name_zh, "sub": sub, "obj": obj, "pos": pos}
    slots.update(sub_zh=sub_zh, obj_zh=obj_zh, pos_zh=pos_zh)
    tables = {
        "drink": lx.DRINKS,
        "food": lx.FOODS,
        "veg": lx.VEGETABLES,
        "city": lx.CITIES,
        "flower": lx.FLOWERS,
        "cake": lx.CAKES,
        "topic": lx.TOPICS,
        "day": lx.DAYS,
    }
    for slot, table in tables.items():
        slots[slot], slots[f"{slot}_zh"] = _pick(rng, table)
    food2 = [f for f in lx.FOODS if f != slots["food"]]
    slots["food2"] = food2[int(rng.integers(len(food2)))]
    slots["food2_zh"] = lx.FOODS[slots["food2"]]
    for slot, low, high in (("hour", 2, 12), ("age", 5, 99), ("goals", 2, 6)):
        value = int(rng.integers(low, high + 1))
        slots[slot], slots[f"{slot}_zh"] = lx.number_en(value), lx.number_zh(value)
    english = [en.format(**slots) for en, _ in SCENES[kind]]
    chinese = [zh.format(**slots) for _, zh in SCENES[kind]]
    digest = hashlib.md5(" | ".join(english).encode("utf-8")).hexdigest()[:8]
    return {"scene": f"{kind}-{digest}", "type": kind, "sentences": english, "zh": chinese}
