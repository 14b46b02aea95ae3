"""Tests of speechlm.gpt: the causal LM, KV cache, sampling, parity with transformers.GPT2LMHeadModel."""

import math

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.generation.logits_process import TopKLogitsWarper, TopPLogitsWarper

from speechlm import gpt


def _random_model(vocab=50, seed=0) -> gpt.GPT:
    torch.manual_seed(seed)
    model = gpt.GPT(gpt.GPTConfig(vocab_size=vocab, max_len=24, d_model=32, num_layers=2, num_heads=4))
    with torch.no_grad():  # non-trivial values everywhere, biases and LayerNorms included
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model.eval()


def _ids(vocab=50, shape=(3, 16), seed=1):
    return torch.randint(vocab, shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_to_hf_same_logits_and_loss(attn):
    model = _random_model()
    ids = _ids()
    hf = gpt.to_hf(model, attn).eval()
    assert hf.config._attn_implementation == attn
    assert hf.lm_head.weight is hf.transformer.wte.weight
    out = hf(input_ids=ids, labels=ids)
    logits = model(ids)
    torch.testing.assert_close(logits, out.logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(gpt.lm_loss(logits, ids), out.loss, atol=1e-5, rtol=0)


def test_from_hf_same_logits_and_gradients():
    torch.manual_seed(2)
    config = GPT2Config(
        vocab_size=50, n_positions=24, n_embd=32, n_layer=2, n_head=4, attn_implementation="eager"
    )
    hf = GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for p in hf.parameters():
            p.add_(0.3 * torch.randn_like(p))
    model = gpt.from_hf(hf).eval()
    ids = _ids()
    out = hf(input_ids=ids, labels=ids)
    logits = model(ids)
    torch.testing.assert_close(logits, out.logits, atol=1e-5, rtol=0)
    loss = gpt.lm_loss(logits, ids)
    loss.backward()
    out.loss.backward()
    torch.testing.assert_close(model.wte.weight.grad, hf.transformer.wte.weight.grad, atol=1e-5, rtol=1e-4)
    # Conv1D stores (in, out): our Linear holds the transpose
    torch.testing.assert_close(model.blocks[0].qkv.weight, hf.transformer.h[0].attn.c_attn.weight.t())


def test_from_hf_rejects_other_activations():
    config = GPT2Config(
        vocab_size=20, n_positions=8, n_embd=16, n_layer=1, n_head=2, activation_function="relu"
    )
    with pytest.raises(ValueError, match="gelu_new"):
        gpt.from_hf(GPT2LMHeadModel(config))


def test_causality_future_tokens_do_not_change_the_past():
    model = _random_model()
    ids = _ids()
    changed = ids.clone()
    changed[:, 10:] = (changed[:, 10:] + 1) % 50
    torch.testing.assert_close(model(changed)[:, :10], model(ids)[:, :10])
    assert not torch.allclose(model(changed)[:, 10:], model(ids)[:, 10:])


def test_kv_cache_equals_full_recomputation():
    model = _random_model()
    ids = _ids()
    full = model(ids)
    cache = gpt.KVCache()
    parts = [model(ids[:, :5], cache)]  # prefill
    parts += [model(ids[:, t : t + 1], cache) for t in range(5, 9)]  # one token at a time
    parts.append(model(ids[:, 9:16], cache))  # a chunk after a cached prefix
    assert len(cache) == 16
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=0)


def test_generate_greedy_same_with_and_without_cache_and_as_huggingface():
    model = _random_model()
    prompt = _ids(shape=(2, 4))
    with_cache = gpt.generate(model, prompt, 12, greedy=True)
    without = gpt.generate(model, prompt, 12, greedy=True, use_cache=False)
    assert torch.equal(with_cache, without)
    hf = gpt.to_hf(model).eval()
    theirs = hf.generate(
        prompt, max_new_tokens=12, do_sample=False, pad_token_id=0, attention_mask=torch.ones_like(prompt)
    )
    assert torch.equal(with_cache, theirs)
    assert gpt.generate(model, prompt[0], 3, greedy=True).shape == (7,)


def test_sampling_is_seeded_and_top_k_1_is_greedy():
    model = _random_model()
    prompt = _ids(shape=(1, 3))
    a = gpt.generate(model, prompt, 10, temperature=1.3, generator=torch.Generator().manual_seed(5))
    b = gpt.generate(
        model, prompt, 10, temperature=1.3, generator=torch.Generator().manual_seed(5), use_cache=False
    )
    assert torch.equal(a, b)
    greedy = gpt.generate(model, prompt, 10, greedy=True)
    assert torch.equal(gpt.generate(model, prompt, 10, top_k=1), greedy)
    assert torch.equal(gpt.generate(model, prompt, 10, top_p=1e-6), greedy)


def test_generate_stops_at_eos():
    model = _random_model()
    prompt = _ids(shape=(1, 3))
    first = int(gpt.generate(model, prompt, 1, greedy=True)[0, -1])
    out = gpt.generate(model, prompt, 10, greedy=True, eos_id=first)
    assert out.shape == (1, 4)


@pytest.mark.parametrize("k", [1, 5, 49])
def test_top_k_matches_huggingface(k):
    logits = torch.randn(4, 50, generator=torch.Generator().manual_seed(k))
    expected = TopKLogitsWarper(top_k=k)(None, logits.clone())
    assert torch.equal(gpt.top_k_filter(logits, k), expected)
    assert (gpt.top_k_filter(logits, k) > float("-inf")).sum(-1).tolist() == [k] * 4


@pytest.mark.parametrize("p", [0.05, 0.5, 0.9, 1.0])
def test_top_p_matches_huggingface(p):
    logits = 2 * torch.randn(4, 50, generator=torch.Generator().manual_seed(int(100 * p)))
    expected = TopPLogitsWarper(top_p=p)(None, logits.clone())
    got = gpt.top_p_filter(logits, p)
    assert torch.equal(got.isinf(), expected.isinf())
    kept = logits.softmax(-1).masked_fill(got.isinf(), 0).sum(-1)
    assert (kept >= p - 1e-6).all()


@torch.no_grad()
def test_perplexity_is_exp_of_the_loss_and_ignores_padding():
    model = _random_model()
    ids = _ids(shape=(2, 10))
    ppl = gpt.perplexity(model, ids.tolist())
    assert ppl == pytest.approx(math.exp(float(gpt.lm_loss(model(ids), ids))), rel=1e-5)
    short = [ids[0, :4].tolist(), ids[1].tolist()]
    logits0, logits1 = model(ids[:1, :4]), model(ids[1:])
    nll = 3 * gpt.lm_loss(logits0, ids[:1, :4]) + 9 * gpt.lm_loss(logits1, ids[1:])
    assert gpt.perplexity(model, short) == pytest.approx(math.exp(float(nll) / 12), rel=1e-5)


def test_train_lm_learns_a_cycle():
    torch.manual_seed(0)
    model = gpt.GPT(gpt.GPTConfig(vocab_size=8, max_len=16, d_model=32, num_layers=1, num_heads=2))
    stream = torch.tensor([1, 2, 3, 4, 5, 6, 7] * 30)
    losses = gpt.train_lm(model, stream, steps=80, batch_size=8, lr=1e-2, progress=False)
    assert losses[0] > 1.5 and losses[-1] < 0.1
    assert gpt.perplexity(model, [[1, 2, 3, 4, 5, 6, 7, 1, 2]]) < 1.2
    assert gpt.generate(model, [3, 4], 5, greedy=True).tolist() == [3, 4, 5, 6, 7, 1, 2]


def test_bad_input():
    model = _random_model()
    with pytest.raises(ValueError, match="exceed the context"):
        model(torch.zeros(1, 25, dtype=torch.long))
    with pytest.raises(ValueError, match="exceed the context"):
        gpt.generate(model, [1, 2, 3], 22)
    with pytest.raises(ValueError, match="temperature"):
        gpt.generate(model, [1], 2, temperature=0)
    with pytest.raises(ValueError, match=r"\(batch, time\)"):
        model(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="top_p"):
        gpt.top_p_filter(torch.zeros(3), 0)
    with pytest.raises(ValueError, match="longer than the context"):
        gpt.train_lm(model, torch.arange(10), steps=1)


def test_train_lm_trims_the_heap_after_every_step_where_memory_is_short(monkeypatch):
    from speechlm import workers

    stream = torch.arange(400) % 7
    runs = {}
    for short in (False, True):
        calls = []
        monkeypatch.setattr(workers, "memory_is_short", lambda short=short: short)
        monkeypatch.setattr(workers, "release_free_memory", lambda calls=calls: calls.append(1) or True)
        torch.manual_seed(0)
        model = gpt.GPT(gpt.GPTConfig(vocab_size=8, max_len=16, d_model=16, num_layers=1, num_heads=2))
        runs[short] = gpt.train_lm(model, stream, steps=5, batch_size=4, progress=False)
        assert len(calls) == (5 if short else 0)
    assert runs[True] == runs[False]  # the same losses either way
