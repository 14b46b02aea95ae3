"""Tests of speechlm.bert: masking, NSP pairs, the model, parity with transformers.BertForPreTraining."""

import pytest
import torch
from transformers import BertConfig as HFBertConfig
from transformers import BertForPreTraining

from speechlm import bert
from speechlm.text import train_wordpiece

SCENES = [
    ["anna woke up early", "she made a cup of tea", "then she read the news", "after that she left for work"],
    [
        "tom needed some rice",
        "he walked to the market",
        "he bought rice and eggs",
        "then he carried the bags home",
    ],
    ["dark clouds covered the sky", "soon it started to rain", "mia opened her umbrella", "she waited"],
]
TEXTS = [
    "turn on the kitchen lights",
    "the movie was really great",
    "win a free prize now",
    "seven three one",
]


@pytest.fixture(scope="module")
def tokenizer():
    return train_wordpiece(TEXTS * 3 + [s for scene in SCENES for s in scene], vocab_size=150)


def _random_model(vocab=60, seed=0, **kw) -> bert.Bert:
    torch.manual_seed(seed)
    cfg = bert.BertConfig(vocab_size=vocab, d_model=32, num_layers=2, num_heads=4, d_ff=64, max_len=20, **kw)
    model = bert.Bert(cfg)
    with torch.no_grad():  # non-trivial values everywhere (biases, LayerNorms, the padding row)
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model.eval()


def _inputs(vocab=60, seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (3, 14), generator=g)
    ids[:, 0] = 2
    ids[0, 10:] = 0  # padding
    types = torch.zeros_like(ids)
    types[:, 7:] = 1
    mask = (ids != 0).long()
    labels = torch.full_like(ids, -100)
    labels[:, [2, 5, 9]] = ids[:, [2, 5, 9]]
    return ids, types, mask, labels, torch.tensor([0, 1, 0])


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_to_hf_same_logits_and_loss(attn):
    model = _random_model()
    ids, types, mask, labels, nsp = _inputs()
    hf = bert.to_hf(model, attn).eval()
    assert hf.config._attn_implementation == attn
    ours = model(ids, types, mask)
    theirs = hf(
        input_ids=ids, token_type_ids=types, attention_mask=mask, labels=labels, next_sentence_label=nsp
    )
    torch.testing.assert_close(ours.mlm_logits, theirs.prediction_logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.nsp_logits, theirs.seq_relationship_logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(bert.pretraining_loss(ours, labels, nsp), theirs.loss, atol=1e-5, rtol=0)
    assert hf.cls.predictions.decoder.weight is hf.bert.embeddings.word_embeddings.weight


def test_from_hf_same_logits_and_gradients():
    torch.manual_seed(3)
    config = HFBertConfig(
        vocab_size=60,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=20,
        attn_implementation="eager",
    )
    hf = BertForPreTraining(config).eval()
    with torch.no_grad():
        for p in hf.parameters():
            p.add_(0.3 * torch.randn_like(p))
    model = bert.from_hf(hf).eval()
    ids, types, mask, labels, nsp = _inputs()
    theirs = hf(
        input_ids=ids, token_type_ids=types, attention_mask=mask, labels=labels, next_sentence_label=nsp
    )
    ours = model(ids, types, mask)
    torch.testing.assert_close(ours.mlm_logits, theirs.prediction_logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.nsp_logits, theirs.seq_relationship_logits, atol=1e-5, rtol=0)
    loss = bert.pretraining_loss(ours, labels, nsp)
    torch.testing.assert_close(loss, theirs.loss, atol=1e-5, rtol=0)
    # The tied embedding gets its gradient from the input and the MLM output alike.
    loss.backward()
    theirs.loss.backward()
    torch.testing.assert_close(
        model.word_emb.weight.grad, hf.bert.embeddings.word_embeddings.weight.grad, atol=1e-5, rtol=1e-4
    )


def test_mlm_mask_restricts_head_to_chosen_positions():
    model = _random_model()
    ids, types, mask, labels, nsp = _inputs()
    chosen = labels != -100
    full, part = model(ids, types, mask), model(ids, types, mask, mlm_mask=chosen)
    torch.testing.assert_close(part.mlm_logits, full.mlm_logits[chosen])
    torch.testing.assert_close(
        bert.pretraining_loss(part, labels[chosen], nsp), bert.pretraining_loss(full, labels, nsp)
    )


def test_padding_does_not_change_real_positions():
    model = _random_model()
    ids = torch.tensor([[2, 7, 8, 9, 3]])
    padded = torch.tensor([[2, 7, 8, 9, 3, 0, 0, 0]])
    torch.testing.assert_close(model(padded).mlm_logits[:, :5], model(ids).mlm_logits, atol=1e-5, rtol=0)


def test_mask_tokens_never_touches_specials_and_chooses_15_percent():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 100, (64, 30), generator=g)
    ids[:, 0], ids[:, 15], ids[:, -1] = 2, 3, 3
    ids[:8, 20:] = 0
    special = torch.isin(ids, torch.tensor([0, 2, 3]))
    corrupted, labels = bert.mask_tokens(ids, special, 4, torch.arange(5, 100), generator=g)
    chosen = labels != -100
    assert not chosen[special].any()
    assert torch.equal(corrupted[special], ids[special])
    assert torch.equal(corrupted[~chosen], ids[~chosen])
    assert torch.equal(labels[chosen], ids[chosen])
    n_ordinary = (~special).sum(1).float()
    assert torch.equal(chosen.sum(1), (0.15 * n_ordinary).round().long())


def test_mask_tokens_80_10_10_split():
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, 1000, (2000, 40), generator=g)
    special = torch.zeros_like(ids, dtype=torch.bool)
    corrupted, labels = bert.mask_tokens(ids, special, 4, torch.arange(5, 1000), generator=g)
    chosen = labels != -100
    n = int(chosen.sum())
    assert n == 2000 * 6
    masked = (corrupted[chosen] == 4).float().mean()
    kept = (corrupted[chosen] == ids[chosen]).float().mean()
    random = 1 - masked - kept
    # 12,000 draws: one standard deviation is at most 0.004, so 0.015 is > 3.5 sigma;
    # a 70/15/15 split would miss by 0.05 or more.
    assert abs(masked - 0.8) < 0.015, masked
    assert abs(kept - 0.1) < 0.015, kept
    assert abs(random - 0.1) < 0.015, random


def test_mask_tokens_bad_input():
    ids = torch.ones(2, 5, dtype=torch.long)
    with pytest.raises(ValueError, match="same shape"):
        bert.mask_tokens(ids, torch.zeros(2, 4, dtype=torch.bool), 4, torch.arange(5, 9))
    with pytest.raises(ValueError, match="mlm_prob"):
        bert.mask_tokens(ids, torch.zeros_like(ids, dtype=torch.bool), 4, torch.arange(5, 9), mlm_prob=1.5)


def test_nsp_pairs_half_true_continuations():
    g = torch.Generator().manual_seed(0)
    pairs = bert.nsp_pairs(SCENES, 2000, g)
    labels = torch.tensor([label for _, _, label in pairs]).float()
    assert abs(labels.mean() - 0.5) < 0.04  # 2000 fair coin flips: sd 0.011
    where = {s: (k, i) for k, scene in enumerate(SCENES) for i, s in enumerate(scene)}
    for a, b, label in pairs:
        (sa, ia), (sb, ib) = where[a], where[b]
        if label == 0:
            assert sa == sb and ib == ia + 1
        else:
            assert sa != sb
    with pytest.raises(ValueError, match="two scenes"):
        bert.nsp_pairs(SCENES[:1], 3)


def test_pretraining_batch_matches_huggingface_inputs(tokenizer):
    g = torch.Generator().manual_seed(0)
    examples = bert.pretraining_examples(SCENES, TEXTS, 8, g)
    assert sum(b is None for _, b, _ in examples) == 4
    batch = bert.pretraining_batch(tokenizer, examples, 32, g)
    assert set(batch) == {"input_ids", "token_type_ids", "attention_mask", "labels", "next_sentence_label"}
    assert batch["next_sentence_label"][4:].tolist() == [-100] * 4
    singles = batch["token_type_ids"][4:]
    assert singles.sum() == 0 and batch["token_type_ids"][:4].sum() > 0
    ids = batch["input_ids"]
    assert (ids[:, 0] == tokenizer.cls_token_id).all()
    assert ((batch["labels"] != -100).sum(1) >= 1).all()
    cfg = bert.BertConfig(
        vocab_size=len(tokenizer), d_model=32, num_heads=2, d_ff=64, max_len=32, dropout=0.0
    )
    model = bert.Bert(cfg).eval()
    hf = bert.to_hf(model).eval()
    loss = bert.pretraining_loss(
        model(ids, batch["token_type_ids"], batch["attention_mask"]),
        batch["labels"],
        batch["next_sentence_label"],
    )
    torch.testing.assert_close(loss, hf(**batch).loss, atol=1e-5, rtol=0)


def test_fill_mask_and_errors(tokenizer):
    cfg = bert.BertConfig(vocab_size=len(tokenizer), d_model=32, num_heads=2, d_ff=64, max_len=16)
    model = bert.Bert(cfg)
    top = bert.fill_mask(model, tokenizer, "turn on the [MASK] lights", k=3)
    assert len(top) == 1 and len(top[0]) == 3
    probs = [p for _, p in top[0]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1
    with pytest.raises(ValueError, match=r"no \[MASK\]"):
        bert.fill_mask(model, tokenizer, "turn on the lights")
    with pytest.raises(ValueError, match="longer than max_len"):
        model(torch.ones(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="multiple of num_heads"):
        bert.BertConfig(vocab_size=10, d_model=30, num_heads=4)


def test_finetune_learns_a_separable_task(tokenizer):
    torch.manual_seed(0)
    texts = ["the movie was really great", "win a free prize now"] * 8
    labels = [0, 1] * 8
    cfg = bert.BertConfig(vocab_size=len(tokenizer), d_model=32, num_heads=2, d_ff=64, max_len=16)
    clf = bert.BertClassifier(bert.Bert(cfg), num_labels=2)
    losses = bert.finetune(clf, tokenizer, texts, labels, steps=40, batch_size=8, lr=3e-3)
    assert losses[-1] < 0.1 < losses[0]
    assert bert.classify(clf, tokenizer, texts[:2]).tolist() == [0, 1]


def test_pretrain_reduces_the_loss(tokenizer):
    torch.manual_seed(0)
    cfg = bert.BertConfig(
        vocab_size=len(tokenizer), d_model=32, num_heads=2, d_ff=64, max_len=32, dropout=0.0
    )
    model = bert.Bert(cfg)
    losses = bert.pretrain(model, tokenizer, SCENES, TEXTS, steps=60, batch_size=16, lr=3e-3, progress=False)
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10 - 0.5
    metrics = bert.evaluate_pretraining(model, tokenizer, SCENES, TEXTS, n=64)
    assert set(metrics) == {"mlm_accuracy", "nsp_accuracy"}
    assert 0.0 <= metrics["nsp_accuracy"] <= 1.0
