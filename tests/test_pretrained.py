from dataclasses import replace

import numpy as np
import pytest
import torch
from tiny_models import CACHED

from speechlm import checkpoints, pretrained, ssl
from speechlm.ctc import ALPHABET
from speechlm.ssl.pretrain import HubertRecipe

TINY = pretrained.PretrainedRecipe(
    "tiny-test",
    version=1,
    hubert=HubertRecipe(
        encoder=CACHED,
        n_utterances=6, n_clusters=4, steps=4, iteration2_steps=2, iteration2_layer=1, batch_size=3,
        warmup_steps=2,
    ),
)  # fmt: skip


@pytest.fixture
def fake_corpus(tmp_path, monkeypatch):
    """A temporary cache and six synthetic "utterances" (tones with noise) instead of the corpus."""
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models train much faster on one thread of a busy machine
    rng = np.random.default_rng(0)
    t = np.arange(16_000) / 16_000
    tones = [
        np.sin(2 * np.pi * f * t) * 0.3 + 0.01 * rng.standard_normal(t.size) for f in (200, 300, 450, 700)
    ]
    audio = [tone.astype(np.float32)[: 8000 + 900 * i] for i, tone in enumerate(tones + tones[:2])]
    calls = []

    def fake_audio(recipe):
        calls.append(recipe.name)
        return audio

    monkeypatch.setattr(pretrained, "_training_audio", fake_audio)
    yield calls
    torch.set_num_threads(threads)


def test_load_trains_once_then_reads_the_cache(fake_corpus):
    first = pretrained.load(TINY, progress=False)
    assert fake_corpus == ["tiny-test"]
    path = pretrained.cache_path(TINY)
    assert path.exists() and path.name.startswith("tiny-test-v1-")
    assert not list(path.parent.glob("*.tmp"))  # written atomically
    second = pretrained.load(TINY, progress=False)
    assert fake_corpus == ["tiny-test"]  # not trained again
    assert not second.training
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    info = pretrained.load_info(TINY)
    assert set(info) == {"accuracy_it1", "accuracy_it2", "time_s"}
    assert 0.0 <= info["accuracy_it1"] <= 1.0
    state = torch.load(path, weights_only=True)  # plain tensors and numbers: loads without pickled code
    assert state["key"] == TINY.key()


def test_training_is_announced_before_it_starts_and_only_then(fake_corpus, capsys, monkeypatch):
    """A notebook cell that trains for minutes says so first: the message is printed before the
    training audio is read, and a cached load prints nothing."""
    seen_before_training = []
    fake = pretrained._training_audio

    def audio_after_the_message(recipe):
        seen_before_training.append(capsys.readouterr().out)
        return fake(recipe)

    monkeypatch.setattr(pretrained, "_training_audio", audio_after_the_message)
    pretrained.load(TINY, progress=False)
    (before,) = seen_before_training
    assert "encoder 'tiny-test' is not in the cache yet: training it now, once" in before
    assert "minutes" in before  # an unknown recipe's cost is stated as a range
    pretrained.load(TINY, progress=False)
    assert capsys.readouterr().out == "" and len(seen_before_training) == 1
    checkpoints.announce_training("encoder", "hubert", pretrained.TRAINING_TIME["hubert"])
    assert "about 10 minutes on a 2-core CPU" in capsys.readouterr().out


def test_training_is_deterministic(fake_corpus, tmp_path, monkeypatch):
    first = pretrained.load(TINY, progress=False).state_dict()
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "again"))
    second = pretrained.load(TINY, progress=False).state_dict()
    assert len(fake_corpus) == 2
    for name in first:
        torch.testing.assert_close(first[name], second[name], rtol=0, atol=0, msg=name)


def test_cache_key_changes_with_any_setting_and_version():
    keys = {
        TINY.key(),
        pretrained.PretrainedRecipe("tiny-test", version=2, hubert=TINY.hubert).key(),
        pretrained.PretrainedRecipe("tiny-test", version=1, hubert=HubertRecipe(steps=5)).key(),
    }
    assert len(keys) == 3
    assert TINY.key() == pretrained.PretrainedRecipe("tiny-test", 1, TINY.hubert).key()
    # the objective is in the key of a contrastive recipe; HuBERT recipes kept the key they had before
    # the field existed, so the course's cached encoder stays valid
    assert replace(TINY, objective="wav2vec2").key() != TINY.key()
    # the loss's frames likewise: in the key only when they are not HuBERT's masked ones
    assert replace(TINY, hubert=replace(TINY.hubert, loss_on="all")).key() != TINY.key()
    assert replace(TINY, hubert=replace(TINY.hubert, loss_on="masked")).key() == TINY.key()
    # and the target variants of issue 21: in the key only when they are not the k-means of one codebook
    for variant in ({"targets": "random_projection"}, {"ensemble": (50,)}):
        assert replace(TINY, hubert=replace(TINY.hubert, **variant)).key() != TINY.key(), variant
    assert replace(TINY, hubert=replace(TINY.hubert, targets="kmeans", ensemble=())).key() == TINY.key()
    assert pretrained.cache_path("hubert").name == "hubert-v2-ee14b59c226f.pt"
    with pytest.raises(ValueError, match="objective must be one of"):
        replace(TINY, objective="bert")
    with pytest.raises(ValueError, match="loss_on must be"):
        HubertRecipe(loss_on="unmasked")


def test_all_frames_recipe_scores_every_frame_in_both_iterations(fake_corpus, monkeypatch):
    from speechlm.ssl import pretrain

    built = []

    class Recorded(ssl.HuBERT):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self.loss_on)

    monkeypatch.setattr(pretrain, "HuBERT", Recorded)
    recipe = replace(TINY, name="tiny-all", hubert=replace(TINY.hubert, loss_on="all"))
    encoder = pretrained.load(recipe, progress=False)
    assert built == ["all", "all"] and encoder.config == TINY.hubert.encoder
    assert pretrained.cache_path(recipe) != pretrained.cache_path(TINY)


def test_contrastive_recipe_trains_the_same_encoder_with_wav2vec2(fake_corpus):
    recipe = replace(TINY, name="tiny-w2v", objective="wav2vec2")
    encoder = pretrained.load(recipe, progress=False)
    assert fake_corpus == ["tiny-w2v"] and encoder.config == TINY.hubert.encoder
    info = pretrained.load_info(recipe)
    assert set(info) == {"loss_start", "loss", "accuracy", "perplexity", "time_s"}
    assert 0.0 <= info["accuracy"] <= 1.0 and 1.0 <= info["perplexity"] <= 2 * 64
    hubert = pretrained.load(TINY, progress=False).state_dict()
    assert set(encoder.state_dict()) == set(hubert)  # the same encoder, fine-tuned the same way
    assert any(not torch.equal(v, hubert[k]) for k, v in encoder.state_dict().items())


def test_data2vec_recipe_trains_the_same_encoder_with_a_moving_teacher(fake_corpus):
    recipe = replace(TINY, name="tiny-d2v", objective="data2vec")
    encoder = pretrained.load(recipe, progress=False)
    assert fake_corpus == ["tiny-d2v"] and encoder.config == TINY.hubert.encoder
    info = pretrained.load_info(recipe)
    assert set(info) == {"loss_start", "loss", "target_std", "cosine", "time_s"}
    assert info["target_std"] > 0.1  # the teacher's normalised targets vary: no collapse
    assert pretrained.cache_path(recipe) != pretrained.cache_path(replace(recipe, objective="wav2vec2"))
    hubert = pretrained.load(TINY, progress=False).state_dict()
    assert set(encoder.state_dict()) == set(hubert)  # the student, without its teacher or head


def test_wav2vec2_pretraining_lowers_its_contrastive_loss():
    from speechlm.ssl.pretrain import pretrain_wav2vec2

    rng = np.random.default_rng(0)
    audio = []
    for _ in range(12):  # rising chirps: a masked stretch is predictable from its neighbours
        f0 = rng.uniform(200, 400)
        chirp = np.sin(2 * np.pi * np.cumsum(np.linspace(f0, 8 * f0, 16_000)) / 16_000)
        audio.append((0.3 * chirp + 0.01 * rng.standard_normal(16_000)).astype(np.float32))
    recipe = replace(TINY.hubert, steps=150, iteration2_steps=0, batch_size=4, warmup_steps=10, lr=5e-3)
    torch.set_num_threads(1)
    _, info = pretrain_wav2vec2(audio, recipe, progress=False)
    assert info["loss"] < info["loss_start"] - 0.3, info
    assert info["loss"] < np.log(1 + 10) - 0.2, info  # below chance among the 10 distractors
    assert info["accuracy"] > 1 / 11 and info["perplexity"] < 2 * 64
    with pytest.raises(ValueError, match="at least one utterance"):
        pretrain_wav2vec2([], recipe)


def test_unknown_recipe_and_missing_info(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path))
    with pytest.raises(KeyError, match=r"known: .*hubert"):
        pretrained.load("nope")
    with pytest.raises(FileNotFoundError, match="call load"):
        pretrained.load_info(TINY)
    assert "hubert" in pretrained.RECIPES


def test_benchmark_defaults_share_the_course_encoder_cache(benchmark_module):
    """benchmarks/label_efficiency.py with default settings must reuse the encoder notebook 11 caches."""
    module = benchmark_module("label_efficiency")
    args = module.parse_args([])
    course = pretrained.RECIPES["hubert"]
    assert module.pretraining_recipe(args, course.hubert.n_utterances) == course
    assert pretrained.cache_path(module.pretraining_recipe(args, 1000)) == pretrained.cache_path("hubert")


def test_load_asr_fine_tunes_once_then_reads_the_cache(fake_corpus, monkeypatch):
    from speechlm import finetune

    monkeypatch.setitem(pretrained.RECIPES, "tiny-test", TINY)
    recipe = pretrained.ASRRecipe(
        "tiny-asr", version=1, encoder="tiny-test",
        finetune=finetune.FinetuneConfig(steps=4, batch_size=2, warmup_steps=1, eval_every=2),
    )  # fmt: skip
    t = np.arange(12_000) / 16_000
    clips = [(0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32) for f in (220, 330, 440)]
    labelled = []

    def fake_labelled(recipe, vocab):
        utterances = [type("U", (), {"audio": a, "sample_rate": 16_000, "text": w}) for a, w in
                      zip(clips, ["ab", "ba", "a b"], strict=True)]  # fmt: skip
        labelled.append(recipe.name)
        items = finetune.prepare(utterances, vocab)
        return items, items[:1]

    monkeypatch.setattr(pretrained, "_labelled", fake_labelled)
    asr = pretrained.load_asr(recipe, progress=False)
    assert labelled == ["tiny-asr"] and fake_corpus == ["tiny-test"]  # the encoder was pretrained first
    path = pretrained.cache_dir("pretrained") / f"{recipe.key()}.pt"
    assert path.exists() and not list(path.parent.glob("*.tmp"))
    hyps = asr.transcribe(clips)
    assert len(hyps) == 3 and all(set(h) <= set(ALPHABET) for h in hyps)
    assert 0.0 <= asr.info["dev_cer"] and asr.info["time_s"] > 0
    again = pretrained.load_asr(recipe, progress=False)
    assert labelled == ["tiny-asr"]  # read from the cache, not fine-tuned again
    assert again.transcribe(clips) == hyps
    for (name, a), (_, b) in zip(
        asr.model.state_dict().items(), again.model.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    # the key follows the encoder recipe it starts from
    other = pretrained.ASRRecipe("tiny-asr", version=1, encoder="hubert", finetune=recipe.finetune)
    assert other.key() != recipe.key()
    with pytest.raises(TypeError, match="list of clips"):
        asr.transcribe(clips[0])
    with pytest.raises(ValueError, match="16000 Hz"):
        asr.transcribe(clips, sample_rate=8000)
    with pytest.raises(KeyError, match=r"known: .*ctc"):
        pretrained.load_asr("nope")
