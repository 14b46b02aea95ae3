"""Tests of speechlm.text: the WordPiece and character tokenizers."""

import os
import random
import subprocess
import sys

import pytest
import torch
from transformers import PreTrainedTokenizerFast

from speechlm.text import SPECIAL_TOKENS, CharTokenizer, learn_wordpiece, train_wordpiece

TEXTS = [
    "turn on the kitchen lights",
    "turn off the bedroom lights",
    "the movie was really great",
    "the movie was not very good",
    "playing played plays player",
    "win a free prize now",
] * 3


@pytest.fixture(scope="module")
def tokenizer():
    return train_wordpiece(TEXTS, vocab_size=120)


def test_wordpiece_is_a_fast_tokenizer_with_bert_special_ids(tokenizer):
    assert isinstance(tokenizer, PreTrainedTokenizerFast)
    assert tokenizer.convert_ids_to_tokens(list(range(5))) == list(SPECIAL_TOKENS)
    assert (tokenizer.pad_token_id, tokenizer.unk_token_id) == (0, 1)
    assert (tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.mask_token_id) == (2, 3, 4)


def test_wordpiece_pair_template_and_token_types(tokenizer):
    enc = tokenizer("Turn on the lights", "the movie was great")
    tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"])
    assert tokens == [
        "[CLS]",
        "turn",
        "on",
        "the",
        "lights",
        "[SEP]",
        "the",
        "movie",
        "was",
        "great",
        "[SEP]",
    ]
    assert enc["token_type_ids"] == [0] * 6 + [1] * 5
    assert (
        tokenizer.decode(enc["input_ids"], skip_special_tokens=True)
        == "turn on the lights the movie was great"
    )


def test_wordpiece_splits_unseen_words_into_pieces_and_unknown_characters(tokenizer):
    assert tokenizer.tokenize("kitchens") == ["kitchen", "##s"]  # "kitchens" was never seen
    assert tokenizer.decode(tokenizer("greatly", add_special_tokens=False)["input_ids"]) == "greatly"
    assert tokenizer.tokenize("quiz") == ["[UNK]"]  # no "q" in the training text


def test_wordpiece_padding_batch(tokenizer):
    batch = tokenizer(["the movie", "turn on the kitchen lights"], padding=True, return_tensors="pt")
    assert batch["input_ids"].shape == (2, 7)
    assert batch["input_ids"][0, 4:].tolist() == [0, 0, 0]
    assert batch["attention_mask"][0].tolist() == [1, 1, 1, 1, 0, 0, 0]


def test_learn_wordpiece_uses_the_likelihood_score_not_frequency():
    # The example of the Hugging Face LLM course (chapter 6, "WordPiece tokenization"): the first merge is
    # ("##g", "##s") with score 5 / (20 * 5), although ("p", "##u") and ("##u", "##n") are more frequent.
    counts = {"hug": 10, "pug": 5, "pun": 12, "bun": 4, "hugs": 5}
    pieces = learn_wordpiece(counts, vocab_size=len(SPECIAL_TOKENS) + 7 + 2)
    assert pieces[: len(SPECIAL_TOKENS)] == list(SPECIAL_TOKENS)
    assert pieces[len(SPECIAL_TOKENS) : -2] == ["##g", "##n", "##s", "##u", "b", "h", "p"]
    # then six pairs tie at 1/36; the most frequent, ("p", "##u") seen 17 times, wins
    assert pieces[-2:] == ["##gs", "pu"]
    everything = learn_wordpiece(counts, vocab_size=100)
    assert {"hug", "pug", "pun", "bun", "hugs"} <= set(everything)  # merging stops when words are whole
    assert len(everything) < 100
    # ("##u", "##g") is the most frequent pair (20 times): a higher min_frequency learns no merge at all
    assert learn_wordpiece(counts, vocab_size=100, min_frequency=21) == pieces[:-2]


def test_wordpiece_vocabulary_does_not_depend_on_text_order_or_process():
    shuffled = TEXTS[:]
    random.Random(0).shuffle(shuffled)
    vocab = train_wordpiece(TEXTS, vocab_size=90).get_vocab()
    assert train_wordpiece(shuffled, vocab_size=90).get_vocab() == vocab
    # tokenizers' own WordPieceTrainer learned a different vocabulary in each process (hash-map order)
    code = (
        "import json, sys; from speechlm.text import train_wordpiece; "
        f"print(json.dumps(train_wordpiece({TEXTS!r}, vocab_size=90).get_vocab(), sort_keys=True))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        ).stdout
        for seed in (1, 2)
    }
    assert len(outputs) == 1


def test_wordpiece_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        train_wordpiece([])
    with pytest.raises(TypeError, match="str"):
        train_wordpiece(["fine", 3])
    with pytest.raises(ValueError, match="special tokens"):
        train_wordpiece(TEXTS, vocab_size=5)


def test_char_tokenizer_round_trip_and_conventions():
    tok = CharTokenizer.from_texts(["Hello world", "abc"])
    assert tok.itos[:3] == ["<blank>", "<unk>", "<eos>"]
    assert tok.blank_id == tok.pad_id == 0 and tok.eos_id == 2
    ids = tok.encode("Hello", add_eos=True)
    assert ids[-1] == tok.eos_id and min(ids[:-1]) >= 3
    assert tok.decode(ids) == "hello"
    assert tok.decode(torch.tensor(ids), skip_special=False) == "hello<eos>"
    assert tok.encode("hz") == [tok.stoi["h"], tok.unk_id]
    assert len(tok) == 3 + len(set("hello worldabc"))


def test_char_tokenizer_bad_input():
    with pytest.raises(ValueError, match="single characters"):
        CharTokenizer(["ab"])
    with pytest.raises(ValueError, match="duplicates"):
        CharTokenizer(["a", "a"])
    tok = CharTokenizer(["a"])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([7])
    with pytest.raises(TypeError, match="str"):
        tok.encode(["a"])
