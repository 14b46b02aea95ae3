"""The embedded corpus's text side: tasks, labels, Chinese, splits and scenes (no audio)."""

import itertools

import pytest

from speechlm.corpus import grammar, lexicon
from speechlm.corpus.scenes import scene_split

TASK_LABELS = {
    "digits": {"digits"},
    "commands": {"intent", "action", "device", "room"},
    "sentiment": {"sentiment"},
    "spam": {"spam"},
    "questions": {"qtype"},
    "scenes": {"scene", "scene_type", "sentence_index", "num_sentences"},
}


def test_same_arguments_same_texts_other_seed_or_split_other_texts():
    a = grammar.sample_texts("train", 200, seed=0)
    assert a == grammar.sample_texts("train", 200, seed=0)
    texts = [x["text"] for x in a]
    assert texts != [x["text"] for x in grammar.sample_texts("train", 200, seed=1)]
    assert texts != [x["text"] for x in grammar.sample_texts("dev", 200, seed=0)]


def test_every_task_has_its_labels_and_a_chinese_translation():
    items = grammar.sample_texts("train", 600, seed=3)
    assert {x["task"] for x in items} == set(grammar.TASKS)
    for x in items:
        assert x["labels"]["task"] == x["task"]
        assert TASK_LABELS[x["task"]] <= set(x["labels"]), x
        zh = x["labels"]["zh"]
        assert zh and all("\u4e00" <= ch <= "\u9fff" for ch in zh), zh  # only CJK characters
        assert x["text"] == x["text"].lower().strip() and "  " not in x["text"]
        assert all(w.isalpha() for w in x["text"].split()), x["text"]


def test_label_values_are_consistent_with_the_text():
    for x in grammar.sample_texts("train", 400, seed=5, tasks=["digits", "commands", "sentiment"]):
        labels = x["labels"]
        if x["task"] == "digits":
            words = x["text"].split()
            assert labels["digits"] == "".join(str(lexicon.DIGITS.index(w)) for w in words)
            if len(words) == 1:
                assert labels["digit"] == int(labels["digits"])
            else:
                assert "digit" not in labels
        elif x["task"] == "commands":
            assert labels["device"].split()[-1] in x["text"]
            assert labels["room"] == "none" or labels["room"] in x["text"]
            assert labels["intent"].startswith(labels["action"])
        else:
            assert labels["sentiment"] in ("positive", "negative")


def test_isolated_digits_cover_all_ten_digits():
    digits = [
        x["labels"]["digit"]
        for x in grammar.sample_texts("train", 300, tasks="digits")
        if "digit" in x["labels"]
    ]
    assert len(digits) > 100 and set(digits) == set(range(10))


def test_sentiment_negation_flips_the_label():
    items = grammar.sample_texts("train", 400, tasks=["sentiment"])
    negated = [x for x in items if " not " in x["text"]]
    assert negated
    for x in negated:
        expected = "negative" if "not very" in x["text"] else "positive"
        assert x["labels"]["sentiment"] == expected, x


def test_scenes_are_ordered_and_held_out_scenes_never_appear_in_training():
    train = grammar.sample_scenes("train", 300, seed=0)
    dev = grammar.sample_scenes("dev", 100, seed=0)
    test = grammar.sample_scenes("test", 100, seed=0)
    ids = [{s["scene"] for s in split} for split in (train, dev, test)]
    assert not ids[0] & ids[1] and not ids[0] & ids[2] and not ids[1] & ids[2]
    for split, scenes in (("train", train), ("dev", dev), ("test", test)):
        for s in scenes:
            assert 4 <= len(s["sentences"]) == len(s["zh"]) <= 5
            assert scene_split(" ".join(s["sentences"])) == split
    assert len({s["type"] for s in train}) == 12


def test_scene_sentences_in_sample_texts_come_in_story_order():
    items = [x for x in grammar.sample_texts("dev", 300, seed=2) if x["task"] == "scenes"]
    assert items
    for prev, cur in itertools.pairwise(items):
        if cur["labels"]["scene"] == prev["labels"]["scene"] and cur["labels"]["sentence_index"] > 0:
            assert cur["labels"]["sentence_index"] == prev["labels"]["sentence_index"] + 1


def test_vocabulary_has_hundreds_of_words():
    assert len(grammar.vocabulary()) >= 400


def test_chinese_translations_use_the_verb_each_errand_and_event_takes():
    """Reviewed as a native speaker would (issue 18): "pick up" is 接 for people only (接孩子们, not
    接一下一条面包), an event one thanks for is something done together, and no adjective that is
    already a superlative (棒极了, 糟透了) is modified by 非常 or 不太."""
    assert lexicon.ERRANDS["the kids"].startswith("接")
    assert not any(v.startswith("接") for k, v in lexicon.ERRANDS.items() if k != "the kids")
    assert set(lexicon.EVENT_ACTIVITIES) == set(lexicon.EVENTS)
    for table in (lexicon.POSITIVE_ADJ, lexicon.NEGATIVE_ADJ):
        assert not any(v.endswith(("极了", "透了")) for v in table.values())
    texts = grammar.sample_texts("train", 3000, seed=0, tasks=("spam",))
    pairs = {x["text"]: x["labels"]["zh"] for x in texts}
    milk = [zh for text, zh in pairs.items() if text == "can you pick up some milk on the way home"]
    assert milk == ["你回家路上能顺便买点牛奶吗"]
    assert "折扣" not in "".join(pairs.values())  # "40 percent off" is 百分之四十的优惠, not 四十折


def test_numbers_in_words():
    assert lexicon.number_en(42) == "forty two" and lexicon.number_zh(42) == "四十二"
    assert lexicon.number_en(17) == "seventeen" and lexicon.number_zh(10) == "十"
    with pytest.raises(ValueError, match=r"0\.\.99"):
        lexicon.number_en(100)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"split": "valid"}, "split must be one of"),
        ({"tasks": ["digits", "weather"]}, "tasks must be"),
        ({"size": -1}, "size must be"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        grammar.sample_texts(**kwargs)
