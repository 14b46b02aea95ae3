"""Encoder-decoder Transformer of notebook 16: parity of the decoder layer with
nn.TransformerDecoderLayer (1e-6), masks, teacher forcing, greedy = beam 1, beam search = brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from speechlm import seq2seq as s2s
from speechlm.batching import lengths_to_mask, pad_sequences
from speechlm.features import encoder_lengths, log_mel_features
from speechlm.ssl.encoder import EncoderConfig, SpeechEncoder
from speechlm.text import CharTokenizer

TOL = 1e-6

pytestmark = pytest.mark.usefixtures("one_thread")


def _torch_layer(d=32, heads=4, ff=64, seed=0):
    torch.manual_seed(seed)
    ref = nn.TransformerDecoderLayer(d, heads, ff, dropout=0.0, norm_first=True, batch_first=True).eval()
    with torch.no_grad():  # non-trivial LayerNorm parameters, so that swapped norms would be caught
        for norm in (ref.norm1, ref.norm2, ref.norm3):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_()
    return ref


def _inputs(batch=3, target=7, source=11, d=32, lengths=(11, 6, 2)):
    x, memory = torch.randn(batch, target, d), torch.randn(batch, source, d)
    pad = ~lengths_to_mask(torch.tensor(lengths), source)
    return x, memory, pad


def test_decoder_block_matches_torch_layer():
    ref = _torch_layer()
    ours = s2s.DecoderBlock(32, 4, 64, dropout=0.0).eval().copy_from_torch(ref)
    x, memory, pad = _inputs()
    causal = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
    with torch.no_grad():
        expected = ref(x, memory, tgt_mask=causal, memory_key_padding_mask=pad)
        fused, none = ours(x, memory, pad)
        unfused, weights = ours(x, memory, pad, need_weights=True)
    assert none is None
    torch.testing.assert_close(fused, expected, rtol=0, atol=TOL)
    torch.testing.assert_close(unfused, expected, rtol=0, atol=TOL)
    assert weights.shape == (3, 4, 7, 11)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4, 7), rtol=0, atol=TOL)
    assert torch.all(weights.masked_select(pad[:, None, None, :].expand_as(weights)) == 0)


def test_decoder_block_refuses_post_ln_layer():
    ref = nn.TransformerDecoderLayer(32, 4, 64, dropout=0.0, norm_first=False, batch_first=True)
    with pytest.raises(ValueError, match="norm_first=True"):
        s2s.DecoderBlock(32, 4, 64).copy_from_torch(ref)
    with pytest.raises(ValueError, match="activation"):
        s2s.DecoderBlock(32, 4, 64, activation="tanh")


def test_decoder_stack_matches_torch_decoder():
    layer = _torch_layer(seed=1)
    ref = nn.TransformerDecoder(layer, num_layers=2, norm=nn.LayerNorm(32)).eval()
    with torch.no_grad():
        ref.norm.weight.uniform_(0.5, 1.5)
        ref.layers[1].linear1.weight.normal_()  # the two copies of the layer differ
    ours = s2s.TransformerDecoder(20, 32, num_layers=2, num_heads=4, d_ff=64, dropout=0.0).eval()
    for block, theirs in zip(ours.layers, ref.layers, strict=True):
        block.copy_from_torch(theirs)
    ours.norm.load_state_dict(ref.norm.state_dict())
    tokens = torch.randint(0, 20, (3, 7))
    _, memory, pad = _inputs()
    with torch.no_grad():
        x = ours.position(ours.embed(tokens))
        causal = nn.Transformer.generate_square_subsequent_mask(7)
        expected = ours.out(ref(x, memory, tgt_mask=causal, memory_key_padding_mask=pad))
        logits, maps = ours(tokens, memory, pad, need_weights=True)
    torch.testing.assert_close(logits, expected, rtol=0, atol=TOL)
    assert len(maps) == 2 and maps[0].shape == (3, 4, 7, 11)


def _text_model(src_vocab=9, tgt_vocab=7, d=32, seed=0, sharpen=1.0, eos_bias=0.0):
    torch.manual_seed(seed)
    model = s2s.Seq2Seq(
        s2s.TokenEncoder(src_vocab, d, num_layers=1, num_heads=2, d_ff=64, dropout=0.0),
        s2s.TransformerDecoder(tgt_vocab, d, num_layers=2, num_heads=2, d_ff=64, dropout=0.0),
    ).eval()
    with torch.no_grad():  # peakier next-token distributions, <eos> (id 2) more or less likely
        model.decoder.out.weight.mul_(sharpen)
        model.decoder.out.bias[2] += eos_bias
    return model


def test_decoder_is_causal_and_ignores_padded_memory():
    model = _text_model()
    src = torch.randint(3, 9, (2, 6))
    lengths = torch.tensor([6, 3])
    tgt = torch.randint(3, 7, (2, 5))
    with torch.no_grad():
        logits, _ = model(src, lengths, tgt)
        changed_future = tgt.clone()
        changed_future[:, 3:] = 4
        logits_future, _ = model(src, lengths, changed_future)
        changed_padding = src.clone()
        changed_padding[1, 3:] = 8
        logits_padding, _ = model(changed_padding, lengths, tgt)
    torch.testing.assert_close(logits_future[:, :3], logits[:, :3], rtol=0, atol=TOL)
    assert not torch.allclose(logits_future[:, 3:], logits[:, 3:])
    torch.testing.assert_close(logits_padding, logits, rtol=0, atol=TOL)


def test_token_encoder_same_alone_or_in_a_batch():
    model = _text_model()
    a, b = torch.tensor([3, 4, 5, 6, 7]), torch.tensor([8, 3])
    src, lengths = pad_sequences([a, b])
    with torch.no_grad():
        memory, padding = model.encode(src, lengths)
        alone, _ = model.encode(b[None], torch.tensor([2]))
    assert padding.tolist() == [[False] * 5, [False, False, True, True, True]]
    torch.testing.assert_close(memory[1, :2], alone[0], rtol=0, atol=1e-5)


def test_feature_encoder_stacks_frames_and_masks_padding():
    torch.manual_seed(0)
    encoder = s2s.FeatureEncoder(
        6, d_model=16, num_layers=1, num_heads=2, d_ff=32, dropout=0.0, stack=3
    ).eval()
    src = torch.randn(2, 10, 6)
    lengths = torch.tensor([10, 7])
    with torch.no_grad():
        memory, padding = encoder(src, lengths)
        noisy = src.clone()
        noisy[1, 7:] = 100.0  # padding frames, inside the last stacked frame of item 1
        memory_noisy, _ = encoder(noisy, lengths)
    assert memory.shape == (2, 4, 16)
    assert padding.tolist() == [[False] * 4, [False, False, False, True]]
    torch.testing.assert_close(memory_noisy[1, :3], memory[1, :3], rtol=0, atol=TOL)
    with pytest.raises(ValueError, match="stack must be at least 1"):
        s2s.FeatureEncoder(6, stack=0)


def test_teacher_forcing_batch_shifts_and_pads():
    tgt_in, tgt_out = s2s.teacher_forcing_batch([[5, 6, 7], [8]], bos_id=2, eos_id=2, pad_id=0)
    assert tgt_in.tolist() == [[2, 5, 6, 7], [2, 8, 0, 0]]
    assert tgt_out.tolist() == [[5, 6, 7, 2], [8, 2, 0, 0]]
    with pytest.raises(ValueError, match="at least one target"):
        s2s.teacher_forcing_batch([])


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_loss_ignores_padding_and_smooths_labels(smoothing):
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 6)
    tgt_out = torch.tensor([[5, 3, 2, 0], [4, 2, 0, 0]])
    logp = logits.log_softmax(-1)
    terms = [
        (1 - smoothing) * -logp[b, t, tgt_out[b, t]] + smoothing * -logp[b, t].mean()
        for b in range(2)
        for t in range(4)
        if tgt_out[b, t] != 0
    ]
    expected = torch.stack(terms).mean()
    torch.testing.assert_close(s2s.seq2seq_loss(logits, tgt_out, 0, smoothing), expected, rtol=0, atol=TOL)
    with pytest.raises(ValueError, match="label_smoothing"):
        s2s.seq2seq_loss(logits, tgt_out, 0, 1.0)
    with pytest.raises(ValueError, match="do not match"):
        s2s.seq2seq_loss(logits, tgt_out[:, :3])


@pytest.fixture(scope="module")
def reverser():
    """A model trained to reverse sequences of 2-4 tokens (ids 3..6, both sides), and its data."""
    rng = np.random.default_rng(0)
    sources = [torch.tensor(rng.integers(3, 7, size=rng.integers(2, 5))) for _ in range(400)]
    targets = [s.flip(0).tolist() for s in sources]
    model = _text_model(src_vocab=7, tgt_vocab=7, d=32)
    losses = s2s.train_seq2seq(model, sources, targets, steps=150, batch_size=32, lr=3e-3, progress=False)
    return model, sources, targets, losses


@pytest.fixture(scope="module")
def half_trained_reverser(reverser):
    """The same task after 15 steps only: uncertain outputs, so that the search matters."""
    sources, targets = reverser[1], reverser[2]
    model = _text_model(src_vocab=7, tgt_vocab=7, d=32)
    s2s.train_seq2seq(model, sources, targets, steps=15, batch_size=32, lr=3e-3, progress=False)
    return model, sources


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_beam_of_one_is_greedy(reverser, length_penalty):
    model, sources, _, _ = reverser
    src, lengths = pad_sequences(sources[:40])
    greedy = s2s.greedy_decode(model, src, lengths, max_len=3)  # 3 tokens: targets of 2 finish, longer do not
    beam = s2s.beam_search(model, src, lengths, beam_size=1, max_len=3, length_penalty=length_penalty)
    assert {h.finished for h in greedy} == {True, False}  # both ways of stopping are exercised
    for g, b in zip(greedy, beam, strict=True):
        assert g.tokens == b.tokens and g.finished == b.finished
        assert b.log_prob == pytest.approx(g.log_prob, abs=1e-5)


def _log_probs(model, src, candidates):
    """log p(candidate | src) of every ``(tokens, finished)`` candidate, by teacher forcing (brute force)."""
    tgt_in, _ = s2s.teacher_forcing_batch([tokens for tokens, _ in candidates])
    tgt_out = torch.full(tgt_in.shape, -1)
    for i, (tokens, finished) in enumerate(candidates):
        scored = [*tokens, model.eos_id] if finished else tokens
        tgt_out[i, : len(scored)] = torch.tensor(scored, dtype=torch.long)
    n = len(candidates)
    with torch.no_grad():
        logits, _ = model(src[None].expand(n, -1), torch.full((n,), len(src)), tgt_in)
    logp = logits.log_softmax(-1).double().gather(2, tgt_out.clamp_min(0)[..., None])[..., 0]
    return logp.masked_fill(tgt_out < 0, 0.0).sum(1)


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_wide_beam_finds_the_best_sequence_by_brute_force(half_trained_reverser, length_penalty):
    model, sources = half_trained_reverser
    words, max_len = [0, 1, 3, 4, 5, 6], 3  # every id but <eos> (2)
    candidates = [(list(w), True) for n in range(max_len) for w in itertools.product(words, repeat=n)]
    candidates += [(list(w), False) for w in itertools.product(words, repeat=max_len)]
    lengths = torch.tensor([len(tokens) + finished for tokens, finished in candidates], dtype=torch.float64)
    beats_greedy = 0
    for src in sources[-6:]:
        scores = _log_probs(model, src, candidates) / lengths**length_penalty
        best = int(scores.argmax())
        (beam,) = s2s.beam_search(
            model, src[None], torch.tensor([len(src)]), len(candidates), max_len, length_penalty
        )
        (greedy,) = s2s.greedy_decode(model, src[None], torch.tensor([len(src)]), max_len)
        assert (beam.tokens, beam.finished) == candidates[best]
        assert beam.score == pytest.approx(float(scores[best]), abs=1e-5)
        beats_greedy += greedy.tokens != beam.tokens
    assert beats_greedy >= 1  # greedy misses the best sequence: the search matters


def test_training_learns_to_reverse_short_sequences(reverser):
    model, sources, targets, losses = reverser
    assert not model.training and np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    src, lengths = pad_sequences(sources[:50])
    hyps = s2s.greedy_decode(model, src, lengths, max_len=8)
    accuracy = np.mean([h.tokens == t for h, t in zip(hyps, targets[:50], strict=True)])
    assert accuracy > 0.9, accuracy
    weights = model.cross_attention(sources[0], targets[0])
    assert weights.shape == (2, 2, len(targets[0]) + 1, len(sources[0]))
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]), rtol=0, atol=TOL)


def test_translate_decodes_in_batches_to_text(reverser):
    model, sources, _, _ = reverser
    tokenizer = CharTokenizer(list("abcd"))  # ids 3..6 are "abcd"
    expected = [tokenizer.decode(h.tokens) for h in s2s.greedy_decode(model, *pad_sequences(sources[:10]), 8)]
    assert s2s.translate(model, sources[:10], tokenizer, max_len=8, batch_size=3) == expected
    beam = s2s.translate(model, sources[:10], tokenizer, beam_size=3, max_len=8)
    assert beam == [
        tokenizer.decode(h.tokens) for h in s2s.beam_search(model, *pad_sequences(sources[:10]), 3, 8)
    ]
    with pytest.raises(ValueError, match="at least one source"):
        s2s.translate(model, [], tokenizer)


def test_decoding_rejects_bad_input():
    model = _text_model()
    src, lengths = torch.randint(3, 9, (2, 5)), torch.tensor([5, 3])
    with pytest.raises(ValueError, match="beam_size"):
        s2s.beam_search(model, src, lengths, beam_size=0)
    with pytest.raises(ValueError, match="max_len"):
        s2s.greedy_decode(model, src, lengths, max_len=0)
    with pytest.raises(ValueError, match="length_penalty"):
        s2s.beam_search(model, src, lengths, length_penalty=-1.0)
    with pytest.raises(ValueError, match="src_lengths"):
        s2s.greedy_decode(model, src, torch.tensor([5, 6]))
    with pytest.raises(ValueError, match="src_lengths"):
        s2s.greedy_decode(model, src, torch.tensor([5]))
    with pytest.raises(ValueError, match="batched"):
        s2s.greedy_decode(model, src[0], lengths)
    with pytest.raises(ValueError, match="source token ids"):
        model.encode(torch.full((1, 3), 9), torch.tensor([3]))
    memory = torch.randn(2, 5, 32)
    with pytest.raises(ValueError, match="token ids must lie"):
        model.decoder(torch.full((2, 3), 7), memory)
    with pytest.raises(ValueError, match="memory must be"):
        model.decoder(torch.full((2, 3), 3), torch.randn(2, 5, 16))
    with pytest.raises(ValueError, match="int64"):
        model.decoder(torch.zeros(2, 3), memory)
    with pytest.raises(ValueError, match="float frames"):
        s2s.FeatureEncoder(6)(torch.randn(1, 4, 5), torch.tensor([4]))
    with pytest.raises(ValueError, match="as many sources"):
        s2s.train_seq2seq(model, [src[0]], [], progress=False)


def test_chinese_tokenizer_round_trip():
    tok = s2s.chinese_tokenizer(["打开灯", "关上门"])
    ids = tok.encode("打开门", add_eos=True)
    assert ids[-1] == tok.eos_id == 2 and tok.pad_id == 0
    assert tok.decode(ids) == "打开门"
    assert tok.encode("猫") == [tok.unk_id]
    with pytest.raises(ValueError, match="non-empty"):
        s2s.chinese_tokenizer([])
    with pytest.raises(ValueError, match="non-empty"):
        s2s.chinese_tokenizer(["打开", " "])


def test_translation_scores_tokenize_chinese_characters():
    refs = ["我很享受讲座", "打开客厅的灯"]
    perfect = s2s.translation_scores(refs, refs)
    assert perfect == {"chrf": pytest.approx(100.0), "bleu": pytest.approx(100.0)}
    one_wrong = s2s.translation_scores(refs, ["我很享受讲课", "打开客厅的灯"])
    assert 50 < one_wrong["bleu"] < 100  # per-character BLEU: one wrong character is a partial match
    assert 50 < one_wrong["chrf"] < 100
    with pytest.raises(ValueError, match="as many hypotheses"):
        s2s.translation_scores(refs, refs[:1])
    per_sentence = s2s.sentence_chrf(refs, ["我很享受讲课", "打开客厅的灯"])
    assert per_sentence[1] == pytest.approx(100.0) and 0 < per_sentence[0] < 100
    with pytest.raises(ValueError, match="as many hypotheses"):
        s2s.sentence_chrf(refs, [])


def test_speech_features_lengths_and_batch_invariance():
    torch.manual_seed(0)
    encoder = SpeechEncoder(EncoderConfig(d_model=16, num_layers=2, num_heads=2, d_ff=32, pos_conv_groups=4))
    rng = np.random.default_rng(0)
    audios = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in (8000, 4000)]
    batched = s2s.speech_features(encoder, audios, batch_size=2, progress=False)
    alone = s2s.speech_features(encoder, audios[1:], batch_size=1, progress=False)
    mel_frames = torch.tensor([log_mel_features(a).shape[0] for a in audios])
    assert [f.shape for f in batched] == [(int(n), 16) for n in encoder_lengths(mel_frames)]
    torch.testing.assert_close(batched[1], alone[0], rtol=0, atol=1e-5)
    layer1 = s2s.speech_features(encoder, audios, layer=1, progress=False)
    assert layer1[0].shape == batched[0].shape and not torch.allclose(layer1[0], batched[0])
    with pytest.raises(ValueError, match="layer must be"):
        s2s.speech_features(encoder, audios, layer=3, progress=False)
    with pytest.raises(ValueError, match="at least one audio"):
        s2s.speech_features(encoder, [], progress=False)
