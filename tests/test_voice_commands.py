"""speechlm.voice_commands: label vocabularies, the attentive head, training on a synthetic task, metrics."""

from dataclasses import dataclass, field

import numpy as np
import pytest
import soundfile as sf
import torch
from tiny_models import TWO_BLOCKS

from speechlm import voice_commands, workers
from speechlm.features import encoder_lengths
from speechlm.ssl.encoder import SpeechEncoder

SR = 16000
ACTION_HZ = {"open": 300.0, "close": 500.0, "lock": 700.0}
ROOM_HZ = {"kitchen": 1800.0, "hallway": 2600.0, "none": 3400.0}
FIELDS = ("action", "room")


@dataclass
class Clip:
    audio: np.ndarray
    labels: dict
    sample_rate: int = SR
    tone_s: list = field(default_factory=list)  # (field, start_s, end_s)


def synthetic_clips(n, seed=0):
    """Two tones in random order with silence around: the action's tone is low, the room's high."""
    rng = np.random.default_rng(seed)
    clips = []
    for _ in range(n):
        action, room = rng.choice(list(ACTION_HZ)), rng.choice(list(ROOM_HZ))
        parts, spans, t = [np.zeros(int(0.1 * SR))], [], 0.1
        order = [("action", ACTION_HZ[action]), ("room", ROOM_HZ[room])]
        for name, hz in order if rng.random() < 0.5 else order[::-1]:
            n_tone = int(rng.uniform(0.15, 0.25) * SR)
            parts += [0.3 * np.sin(2 * np.pi * hz * np.arange(n_tone) / SR), np.zeros(int(0.05 * SR))]
            spans.append((name, t, t + n_tone / SR))
            t += n_tone / SR + 0.05
        audio = np.concatenate(parts) + 0.003 * rng.standard_normal(sum(map(len, parts)))
        clips.append(Clip(audio.astype(np.float32), {"action": action, "room": room}, tone_s=spans))
    return clips


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_encoder(seed=0):
    torch.manual_seed(seed)
    return SpeechEncoder(TWO_BLOCKS).eval()


@pytest.fixture(scope="module")
def data():
    train, test = synthetic_clips(120, seed=0), synthetic_clips(40, seed=1)
    vocab = voice_commands.SlotVocab.from_labels([c.labels for c in train], fields=FIELDS)
    return (
        train,
        test,
        vocab,
        voice_commands.prepare_slu(train, vocab),
        voice_commands.prepare_slu(test, vocab),
    )


@pytest.fixture(scope="module")
def mel_model(data):
    _, _, vocab, train_items, _ = data
    config = voice_commands.SLUConfig(steps=120, batch_size=16, lr_head=3e-3, warmup_steps=10, width=48)
    return voice_commands.train_slu(None, train_items, vocab, config, progress=False)


def test_slot_vocab_sorts_classes_and_marks_unseen_labels():
    vocab = voice_commands.SlotVocab.from_labels(
        [{"action": "open", "room": "none"}, {"action": "close", "room": "hall"}], FIELDS
    )
    assert vocab.fields == FIELDS
    assert vocab.classes == {"action": ("close", "open"), "room": ("hall", "none")}
    assert vocab.encode({"action": "open", "room": "attic"}).tolist() == [1, voice_commands.data.UNSEEN_LABEL]
    with pytest.raises(ValueError, match="missing 'room'"):
        voice_commands.SlotVocab.from_labels([{"action": "open"}], FIELDS)
    with pytest.raises(ValueError, match="at least one"):
        voice_commands.SlotVocab.from_labels([], FIELDS)


def test_head_attention_is_a_distribution_over_real_frames_and_padding_changes_nothing():
    vocab = voice_commands.SlotVocab.from_labels(
        [{"action": "a", "room": "b"}, {"action": "c", "room": "d"}], FIELDS
    )
    torch.manual_seed(0)
    head = voice_commands.SLUHead(16, 3, vocab, width=24).eval()
    layers = torch.randn(2, 3, 20, 16)
    padding = torch.zeros(2, 20, dtype=torch.bool)
    padding[1, 12:] = True
    logits, attention = head(layers, padding)
    assert (
        attention.shape == (2, 2, 20) and logits["action"].shape == (2, 2) and logits["room"].shape == (2, 2)
    )
    torch.testing.assert_close(attention.sum(-1), torch.ones(2, 2))
    assert torch.all(attention[1, :, 12:] == 0)
    alone, _ = head(layers[1:, :, :12], padding[1:, :12])
    torch.testing.assert_close(alone["room"], logits["room"][1:], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(head.mix.weights(), torch.full((3,), 1 / 3))
    with pytest.raises(ValueError, match="expected layers"):
        head(layers[:, :2], padding)


def test_model_features_run_at_the_encoder_frame_rate():
    vocab = voice_commands.SlotVocab.from_labels([{"action": "a", "room": "b"}], FIELDS)
    mels, lengths = torch.randn(2, 101, 80), torch.tensor([101, 60])
    for encoder, n_layers in ((None, 1), (tiny_encoder(), 3)):
        layers, padding = voice_commands.SLUModel(encoder, vocab, width=16).encode(mels, lengths)
        assert layers.shape[:3] == (2, n_layers, 51)
        assert (~padding).sum(1).tolist() == encoder_lengths(lengths).tolist() == [51, 30]


def test_training_from_log_mels_learns_the_synthetic_task_and_attends_to_the_right_tone(data, mel_model):
    train, test, _, _, test_items = data
    scores = voice_commands.evaluate(mel_model, test_items)
    majority = voice_commands.majority_baseline([c.labels for c in train], [c.labels for c in test], FIELDS)
    assert scores["action"] >= 0.9 and scores["room"] >= 0.9 and scores["exact_match"] >= 0.85
    assert majority["exact_match"] < 0.3
    mels, lengths = voice_commands.data._collate(test_items[:10])[:2]
    with torch.no_grad():
        _, attention = mel_model(mels, lengths)
    times = np.arange(attention.shape[-1]) / 50  # 50 frames/s
    share = np.zeros((2, 2))  # share[i, j]: attention of field i's query on field j's tone, averaged
    for clip, weights in zip(test[:10], attention, strict=True):
        for name, start, end in clip.tone_s:
            on_tone = (times >= start - 0.04) & (times <= end + 0.04)
            share[:, FIELDS.index(name)] += weights[:, on_tone].sum(-1).numpy() / 10
    assert share[0, 0] > 0.5 and share[1, 1] > 0.5, share  # each query listens to its own tone
    assert share[0, 0] > 2 * share[0, 1] and share[1, 1] > 2 * share[1, 0], share


def test_frozen_training_keeps_the_encoder_and_end_to_end_changes_it(data):
    _, _, vocab, train_items, _ = data
    encoder = tiny_encoder()
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    frozen = voice_commands.train_slu(
        encoder, train_items[:32], vocab, voice_commands.SLUConfig(steps=3, width=16), progress=False
    )
    for k, v in frozen.encoder.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    config = voice_commands.SLUConfig(steps=3, width=16, freeze_encoder=False)
    tuned = voice_commands.train_slu(encoder, train_items[:32], vocab, config, progress=False)
    assert not torch.equal(tuned.encoder.conv1.weight, before["conv1.weight"])
    for k, v in encoder.state_dict().items():  # the caller's encoder is never touched
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    assert not tuned.training and not frozen.training
    with pytest.raises(ValueError, match="steps >= 1"):
        voice_commands.train_slu(
            encoder, train_items, vocab, voice_commands.SLUConfig(steps=0), progress=False
        )
    with pytest.raises(ValueError, match="at least one training item"):
        voice_commands.train_slu(encoder, [], vocab, progress=False)


def test_frozen_features_keep_no_padding_of_their_batch(data):
    """Each utterance's frozen layers are its own storage, not a view of its padded batch (which kept
    about 220 MB of padding alive in notebook 14)."""
    _, _, vocab, train_items, _ = data
    model = voice_commands.SLUModel(tiny_encoder(), vocab, n_mels=train_items[0].mels.shape[1])
    features = voice_commands.training._frozen_layers(model, train_items[:40])
    lengths = [int(encoder_lengths(torch.tensor([len(it.mels)]))) for it in train_items[:40]]
    assert len(set(lengths)) > 1  # utterances of different lengths, so a batch has padding
    for layers, n in zip(features, lengths, strict=True):
        assert layers.shape == (n, 3, 32)  # frames, the input and two blocks, d_model
        assert layers.untyped_storage().nbytes() == layers.numel() * layers.element_size()


@pytest.mark.parametrize("short", [True, False], ids=["memory short (Binder)", "memory plentiful"])
@pytest.mark.parametrize("frozen", [True, False], ids=["frozen encoder", "log-mel"])
def test_training_trims_the_heap_after_every_step_where_memory_is_short(data, monkeypatch, short, frozen):
    _, _, vocab, train_items, _ = data
    calls = []
    monkeypatch.setattr(workers, "memory_is_short", lambda: short)
    monkeypatch.setattr(workers, "release_free_memory", lambda: calls.append(1) or True)
    config = voice_commands.SLUConfig(steps=3, width=16)
    voice_commands.train_slu(
        tiny_encoder() if frozen else None, train_items[:32], vocab, config, progress=False
    )
    # once per batch of the inputs computed once (32 items: one batch of 32), once per step, and once
    # at the end, when those inputs are freed
    assert len(calls) == ((1 + config.steps + 1) if short else 0)


def test_predict_and_recognise_return_labels_with_probabilities(data, mel_model, tmp_path):
    _, test, vocab, _, test_items = data
    out = voice_commands.predict(mel_model, [c.audio for c in test[:5]])
    probs = voice_commands.predict_items(mel_model, test_items[:5])
    for i, result in enumerate(out):
        assert set(result) == set(FIELDS)
        for f, (label, p) in result.items():
            assert label in vocab.classes[f]
            assert p == pytest.approx(float(probs[f][i].max()), abs=1e-6)
            assert label == vocab.classes[f][int(probs[f][i].argmax())]
    np.testing.assert_allclose(probs["room"].sum(1), 1.0, atol=1e-5)
    stereo_8k = np.stack([test[0].audio[::2], test[0].audio[::2]], axis=1)
    sf.write(tmp_path / "clip.wav", stereo_8k, 8000, subtype="FLOAT")
    from_file = voice_commands.recognise(mel_model, tmp_path / "clip.wav")
    from_array = voice_commands.recognise(mel_model, stereo_8k, sample_rate=8000)
    assert {f: v[0] for f, v in from_file.items()} == {f: v[0] for f, v in from_array.items()}
    assert from_file["room"][1] == pytest.approx(from_array["room"][1], abs=1e-5)
    assert voice_commands.recognise(mel_model, test[0].audio) == out[0]
    with pytest.raises(ValueError, match="list of clips"):
        voice_commands.predict(mel_model, test[0].audio)


def test_scores_exact_match_and_confusions_by_hand():
    refs = [
        {"action": "open", "room": "kitchen"},
        {"action": "close", "room": "none"},
        {"action": "open", "room": "hall"},
    ]
    preds = [{"action": ("open", 0.9), "room": ("kitchen", 0.8)}, {"action": "close", "room": "kitchen"},
             {"action": "close", "room": "kitchen"}]  # fmt: skip
    scores = voice_commands.slu_scores(preds, refs, FIELDS)
    assert scores == pytest.approx({"action": 2 / 3, "room": 1 / 3, "exact_match": 1 / 3})
    assert voice_commands.top_confusions(preds, refs, "room") == [
        (("none", "kitchen"), 1),
        (("hall", "kitchen"), 1),
    ]
    assert voice_commands.majority_baseline(refs, refs, FIELDS)["action"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="as many predictions"):
        voice_commands.slu_scores(preds[:2], refs, FIELDS)


def test_compose_intent_matches_the_corpus_grammar():
    from speechlm.corpus import sample_texts

    for item in sample_texts("train", size=200, seed=3, tasks="commands"):
        labels = item["labels"]
        assert voice_commands.compose_intent(labels["action"], labels["device"]) == labels["intent"]
    with pytest.raises(ValueError, match="non-empty"):
        voice_commands.compose_intent("lock", "")
