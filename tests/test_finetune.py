from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tiny_models import ONE_BLOCK

from speechlm import finetune, ssl, workers
from speechlm.augment import SpecAugment, spec_augment
from speechlm.batching import pad_sequences
from speechlm.ctc import ALPHABET, CharVocab, normalize_text
from speechlm.heads import LayerMix

pytestmark = pytest.mark.usefixtures("one_thread")


def _tone_utterances():
    """Two "words": a low tone says "a", a high tone says "b"; utterances are sequences of them."""
    rng = np.random.default_rng(0)
    t = np.arange(3200) / 16_000  # 200 ms per symbol
    tones = {"a": np.sin(2 * np.pi * 300 * t), "b": np.sin(2 * np.pi * 2500 * t)}
    utts = []
    for _ in range(24):
        text = "".join(rng.choice(["a", "b"], size=int(rng.integers(2, 5))))
        audio = np.concatenate([np.zeros(1600)] + [np.concatenate([tones[c], np.zeros(1600)]) for c in text])
        audio = (0.3 * audio + 0.003 * rng.standard_normal(audio.size)).astype(np.float32)
        utts.append(SimpleNamespace(audio=audio, sample_rate=16_000, text=text.upper(), id=""))
    return utts


def test_normalize_text():
    assert normalize_text("  Turn ON the lights, 2 times! ") == "turn on the lights times"
    assert normalize_text("don't") == "don't"
    assert normalize_text("Één café, Zoë; naïef") == "een cafe zoe naief"
    assert normalize_text("Ça\u0301 ß") == "ca"  # combining accent dropped; ß is not a-z


def test_prepare_and_spec_augment():
    vocab = CharVocab(ALPHABET)
    items = finetune.prepare(_tone_utterances()[:2], vocab)
    assert items[0].text == items[0].text.lower() and items[0].mels.shape[1] == 80
    assert vocab.decode(items[0].targets.tolist()) == items[0].text
    mels = torch.randn(2, 100, 80)
    config = finetune.FinetuneConfig(freq_masks=1, freq_width=8, time_masks=1, time_width=10)
    assert config.masks == SpecAugment(freq_masks=1, freq_width=8, time_masks=1, time_width=10)
    out = spec_augment(mels, torch.tensor([100, 60]), config.masks, torch.Generator().manual_seed(0))
    zeroed = (out == 0).float().mean().item()
    assert 0.0 < zeroed < (8 / 80 + 10 / 100) + 1e-6
    assert torch.equal(mels[out != 0], out[out != 0])  # nothing else changed
    with pytest.raises(ValueError, match="no transcript"):
        silent = SimpleNamespace(audio=np.zeros(1600, np.float32), sample_rate=16000, text="42", id="x")
        finetune.prepare([silent], vocab)
    with pytest.raises(ValueError, match=r"SpecAugment\.time_width must be an integer >= 0, got -1"):
        SpecAugment(time_width=-1)
    with pytest.raises(ValueError, match=r"expected mels \(batch, time, n_mels\)"):
        spec_augment(mels[0], torch.tensor([100]), SpecAugment(), torch.Generator())


def test_finetuning_learns_a_two_word_task_and_keeps_the_best_checkpoint():
    vocab = CharVocab("ab")
    items = finetune.prepare(_tone_utterances(), vocab)
    torch.manual_seed(0)
    encoder = ssl.SpeechEncoder(ONE_BLOCK)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    config = finetune.FinetuneConfig(steps=150, batch_size=8, lr_head=3e-3, lr_encoder=3e-3, warmup_steps=10,
                                      eval_every=50, freq_masks=0, time_masks=0)  # fmt: skip
    model, info = finetune.finetune_ctc(encoder, items[:16], items[16:], vocab, config, progress=False)
    assert [s for s, _ in info["dev_cer"]] == [50, 100, 150]
    assert info["best_dev_cer"] == min(c for _, c in info["dev_cer"])
    assert finetune.evaluate_asr(model, items[16:], vocab)["cer"] == pytest.approx(info["best_dev_cer"])
    assert info["best_dev_cer"] < 0.3
    assert all(
        torch.equal(v, encoder.state_dict()[k]) for k, v in before.items()
    )  # the input is not modified


def test_frozen_encoder_does_not_move_during_the_freeze():
    vocab = CharVocab("ab")
    items = finetune.prepare(_tone_utterances()[:6], vocab)
    torch.manual_seed(0)
    encoder = ssl.SpeechEncoder(ONE_BLOCK)
    config = finetune.FinetuneConfig(steps=3, freeze_steps=3, batch_size=4, eval_every=3, warmup_steps=1)
    model, _ = finetune.finetune_ctc(encoder, items[:4], items[4:], vocab, config, progress=False)
    for name, value in encoder.state_dict().items():
        assert torch.equal(value, model.encoder.state_dict()[name]), name


def test_layer_mix_head_learns_the_task_and_mixes_every_layer():
    vocab = CharVocab("ab")
    items = finetune.prepare(_tone_utterances(), vocab)
    torch.manual_seed(0)
    encoder = ssl.SpeechEncoder(ONE_BLOCK)
    config = finetune.FinetuneConfig(steps=150, batch_size=8, lr_head=1e-2, lr_encoder=3e-3, warmup_steps=10,
                                      eval_every=50, freq_masks=0, time_masks=0)  # fmt: skip
    model, info = finetune.finetune_ctc(
        encoder, items[:16], items[16:], vocab, config, head="layer_mix", hidden=16, progress=False
    )
    assert isinstance(model.head, finetune.LayerMixCTCHead)
    weights = model.head.mix.weights().detach()
    assert weights.shape == (ONE_BLOCK.num_layers + 1,) and float(weights.sum()) == pytest.approx(1.0)
    assert info["best_dev_cer"] < 0.3
    log_probs, lengths = model(*pad_sequences([items[0].mels]))
    assert log_probs.shape == (1, int(lengths[0]), len(vocab))
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(1, int(lengths[0])), atol=1e-5)
    with pytest.raises(ValueError, match="head must be"):
        finetune.CTCModel(encoder, len(vocab), head="transformer")
    with pytest.raises(ValueError, match="expected 2 layers"):
        model.head([torch.zeros(1, 5, ONE_BLOCK.d_model)], torch.tensor([5]))


def test_unfrozen_encoder_moves_after_the_freeze():
    vocab = CharVocab("ab")
    items = finetune.prepare(_tone_utterances()[:6], vocab)
    torch.manual_seed(0)
    encoder = ssl.SpeechEncoder(ONE_BLOCK)
    config = finetune.FinetuneConfig(steps=6, freeze_steps=3, batch_size=4, eval_every=6, warmup_steps=1)
    model, _ = finetune.finetune_ctc(encoder, items[:4], items[4:], vocab, config, progress=False)
    moved = [n for n, v in encoder.state_dict().items() if not torch.equal(v, model.encoder.state_dict()[n])]
    assert moved and not model.frozen


@pytest.mark.parametrize("short", [True, False], ids=["memory short (Binder)", "memory plentiful"])
def test_fine_tuning_hands_the_heap_back_after_every_step_where_memory_is_short(monkeypatch, short):
    calls = []
    monkeypatch.setattr(workers, "memory_is_short", lambda: short)
    monkeypatch.setattr(workers, "release_free_memory", lambda: calls.append(1) or True)
    vocab = CharVocab("ab")
    items = finetune.prepare(_tone_utterances()[:6], vocab)
    torch.manual_seed(0)
    config = finetune.FinetuneConfig(steps=3, freeze_steps=1, batch_size=4, eval_every=3, warmup_steps=1)
    finetune.finetune_ctc(ssl.SpeechEncoder(ONE_BLOCK), items[:4], items[4:], vocab, config, progress=False)
    # every step, and the one dev evaluation (its 2 utterances: one batch of transcription)
    assert len(calls) == (config.steps + 1 if short else 0)
    calls.clear()
    model = finetune.CTCModel(ssl.SpeechEncoder(ONE_BLOCK), len(vocab))
    assert finetune.transcribe(model, items, vocab, batch_size=4) == finetune.transcribe(
        model, items, vocab, batch_size=4
    )
    assert len(calls) == (2 * 2 if short else 0)  # transcription: after every batch of 4


def test_layer_mix_of_a_list_or_of_one_tensor_along_an_axis():
    torch.manual_seed(0)
    layers = [torch.randn(2, 5, 8) for _ in range(3)]
    mix = LayerMix(3, 8)
    with torch.no_grad():
        mix.layer_logits.copy_(torch.tensor([0.0, 1.0, 2.0]))
    w = torch.tensor([0.0, 1.0, 2.0]).softmax(0)
    norm = torch.nn.functional.layer_norm
    expected = sum(w[i] * norm(layers[i], (8,), mix.norm.weight, mix.norm.bias) for i in range(3))
    torch.testing.assert_close(mix(layers), expected)
    torch.testing.assert_close(mix(torch.stack(layers, dim=2), dim=2), expected)  # the layers on axis 2
    plain = LayerMix(3, norm=False)
    torch.testing.assert_close(plain(torch.stack(layers, dim=1), dim=1), sum(layers) / 3)  # uniform at first
    with pytest.raises(ValueError, match="expected 3 layers, got 2"):
        mix(layers[:2])
    with pytest.raises(ValueError, match="expected 3 layers along axis 1"):
        plain(torch.randn(2, 4, 5, 8), dim=1)
    with pytest.raises(ValueError, match="norm=True needs d_model"):
        LayerMix(3)
