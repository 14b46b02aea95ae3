import json
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tiny_models import ONE_BLOCK

from benchmarks.ctc_curves import against_course, comparison_table, label_ratio, markdown_table
from speechlm import features, finetune, label_efficiency, ssl
from speechlm.ctc import ALPHABET, CharVocab, normalize_text
from speechlm.features import log_mel_features
from speechlm.label_efficiency.arms import _encoder_lrs, _freeze_steps
from speechlm.label_efficiency.word_shots import _draw_shots

pytestmark = pytest.mark.usefixtures("one_thread")


def _tone(freq: float, n: int, rng) -> np.ndarray:
    t = np.arange(n) / 16_000
    return (0.3 * np.sin(2 * np.pi * freq * t) + 0.003 * rng.standard_normal(n)).astype(np.float32)


def _ctc_items(n: int = 20):
    """Utterances of two "words": a low tone says "a", a high tone "b"."""
    rng = np.random.default_rng(0)
    utts = []
    for _ in range(n):
        text = "".join(rng.choice(["a", "b"], size=int(rng.integers(2, 4))))
        gap = np.zeros(1600, np.float32)
        audio = np.concatenate(
            [gap] + [np.concatenate([_tone(300 if c == "a" else 2500, 3200, rng), gap]) for c in text]
        )
        utts.append(SimpleNamespace(audio=audio, sample_rate=16_000, text=text, id=""))
    return finetune.prepare(utts, CharVocab(ALPHABET))


def test_label_ratio_interpolates_the_scratch_curve_in_log_budget():
    # scratch reaches 0.4 halfway (in log budget) between 10 and 100 labels: 10**1.5 = 31.6 labels
    assert label_ratio([10, 100], [0.4, 0.3], [0.5, 0.3]) == pytest.approx(10**0.5)
    assert label_ratio([10, 20, 40], [0.4, 0.3, 0.2], [0.6, 0.4, 0.3]) == pytest.approx(2.0)
    assert label_ratio([10, 100], [0.5, 0.3], [0.45, 0.3]) == 1.0  # scratch already better
    assert label_ratio([10, 100], [0.2, 0.1], [0.5, 0.3]) is None  # never that low
    with pytest.raises(ValueError, match="same length"):
        label_ratio([10, 100], [0.2], [0.5, 0.3])


def test_markdown_table():
    row = {
        "budget": 25,
        "pretrained_cer": 0.45,
        "scratch_cer": 0.6,
        "pretrained_wer": 0.9,
        "scratch_wer": 1.0,
    }
    table = markdown_table([{**row, "relative_gain": 0.25}])
    assert table.splitlines()[2] == "| 25 | 0.450 | 0.600 | 0.900 | 1.000 | +25% |"


def test_another_encoder_is_fine_tuned_against_the_course_curve_with_its_scratch_arm(monkeypatch):
    from speechlm import pretrained

    course_rows = [
        {"budget": b, "pretrained_cer": 0.5, "scratch_cer": 0.6, "relative_gain": 1 / 6}
        for b in (25, 50, 100)
    ]
    calls = {}
    monkeypatch.setattr(
        label_efficiency,
        "load_ctc_curve",
        lambda recipe, progress: (
            {"rows": course_rows} if recipe == label_efficiency.CTCCurveRecipe() else None
        ),
    )
    monkeypatch.setattr(label_efficiency, "course_ctc_items", lambda n, progress: (["l"] * n, ["d"], ["t"]))

    def fake_curve(encoder, labelled, dev, test, recipe, *, scratch, workers, progress):
        calls.update(encoder=encoder, n=len(labelled), recipe=recipe, scratch=scratch, workers=workers)
        return [{**r, "pretrained_cer": 0.45, "relative_gain": 0.25} for r in scratch]

    monkeypatch.setattr(label_efficiency, "ctc_curve", fake_curve)
    encoder = ssl.SpeechEncoder(pretrained.RECIPES["hubert"].hubert.encoder)
    rows, course = against_course(encoder, workers=2, progress=False)
    assert calls == {"encoder": encoder, "n": 100, "recipe": label_efficiency.CTCCurveRecipe(),
                     "scratch": course_rows, "workers": 2}  # fmt: skip
    assert course == course_rows and [r["budget"] for r in rows] == [25, 50, 100]
    table = comparison_table("v", rows, course).splitlines()
    assert table[0].startswith("| labeled utterances | CER v | CER course encoder |")
    assert table[2] == "| 25 | 0.450 | 0.500 | 0.600 | +25% | +17% |" and len(table) == 5
    with pytest.raises(ValueError, match="course encoder's architecture"):
        against_course(ssl.SpeechEncoder(ONE_BLOCK), progress=False)


def test_ctc_curve_compares_the_two_arms_fairly_and_in_parallel():
    items = _ctc_items()
    torch.manual_seed(0)
    encoder = ssl.SpeechEncoder(ONE_BLOCK)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    recipe = label_efficiency.CTCCurveRecipe(budgets=(4, 8), steps=6, encoder_lrs=(1e-3, 3e-3), hidden=8,
                                              freeze_fraction=0.5, eval_every=3)  # fmt: skip
    rows = label_efficiency.ctc_curve(
        encoder, items[:8], items[8:12], items[12:], recipe, workers=1, progress=False
    )
    assert [r["budget"] for r in rows] == [4, 8]
    for r in rows:
        assert r["pretrained_lr"] in (1e-3, 3e-3) and r["scratch_lr"] in (1e-3, 3e-3)
        assert r["relative_gain"] == pytest.approx(1 - r["pretrained_cer"] / r["scratch_cer"])
        assert 0.0 <= r["pretrained_cer"] and 0.0 <= r["scratch_wer"]
        assert r["pretrained_best_step"] in (3, 6)
    assert all(torch.equal(v, encoder.state_dict()[k]) for k, v in before.items())
    # two worker processes give exactly the same numbers as one
    parallel = label_efficiency.ctc_curve(
        encoder, items[:8], items[8:12], items[12:], recipe, workers=2, progress=False
    )
    strip = [{k: v for k, v in r.items() if not k.endswith("seconds")} for r in rows]
    assert [{k: v for k, v in r.items() if not k.endswith("seconds")} for r in parallel] == strip
    # the scratch arm of earlier rows is reused: only the pretrained runs train again
    reused = label_efficiency.ctc_curve(
        encoder, items[:8], items[8:12], items[12:], recipe, scratch=parallel, workers=1, progress=False
    )
    assert [{k: v for k, v in r.items() if not k.endswith("seconds")} for r in reused] == strip
    assert [r["scratch_seconds"] for r in reused] == [r["scratch_seconds"] for r in parallel]
    with pytest.raises(ValueError, match="budgets"):
        label_efficiency.ctc_curve(
            encoder, items[:8], items[8:12], items[12:], recipe, scratch=parallel[:1], progress=False
        )


def test_a_frozen_pretrained_arm_runs_once_and_bad_budgets_are_refused():
    items = _ctc_items(12)
    encoder = ssl.SpeechEncoder(ONE_BLOCK)
    recipe = label_efficiency.CTCCurveRecipe(budgets=(4,), steps=3, encoder_lrs=(1e-3, 3e-3), eval_every=3)
    assert _encoder_lrs("scratch", recipe) == (1e-3, 3e-3)
    assert _encoder_lrs("pretrained", recipe) == (1e-3, 3e-3)  # frozen 1 step of 3, then trains
    assert (
        _freeze_steps("pretrained", recipe),
        _freeze_steps("scratch", recipe),
    ) == (1, 0)
    frozen = replace(recipe, freeze_fraction=1.0)
    assert _encoder_lrs("pretrained", frozen) == (1e-3,)  # frozen throughout: lr irrelevant
    with pytest.raises(ValueError, match="increasing positive"):
        label_efficiency.ctc_curve(
            encoder, items, items, items, label_efficiency.CTCCurveRecipe(budgets=(8, 4))
        )
    with pytest.raises(ValueError, match="exceeds the 12 labelled"):
        label_efficiency.ctc_curve(
            encoder, items, items, items, label_efficiency.CTCCurveRecipe(budgets=(4, 20))
        )
    with pytest.raises(ValueError, match="dev and test"):
        label_efficiency.ctc_curve(encoder, items, [], items, recipe)


def test_shots_curve_draws_k_per_class_and_learns_tones():
    rng = np.random.default_rng(1)
    freqs = [300, 1200, 3000]

    def data(per_class):
        mels, labels = [], []
        for c, f in enumerate(freqs):
            for _ in range(per_class):
                mels.append(log_mel_features(_tone(f * rng.uniform(0.95, 1.05), 4000, rng)))
                labels.append(c)
        return mels, labels

    train, dev, test = data(4), data(3), data(4)
    picked = _draw_shots(train[1], 2, draw=0, seed=0)
    assert len(picked) == 6 and sorted(np.bincount([train[1][i] for i in picked])) == [2, 2, 2]
    assert picked != _draw_shots(train[1], 2, draw=1, seed=0)
    with pytest.raises(ValueError, match="fewer than shots=5"):
        _draw_shots(train[1], 5, draw=0, seed=0)
    torch.manual_seed(0)
    encoder = ssl.SpeechEncoder(ONE_BLOCK)
    recipe = label_efficiency.ShotsRecipe(shots=(1, 3), draws=2, steps=40, lr_head=5e-3, encoder_lrs=(3e-3,),
                                          freeze_fraction=0.5, eval_every=10)  # fmt: skip
    rows = label_efficiency.shots_curve(encoder, train, dev, test, recipe, workers=1, progress=False)
    assert [(r["shots"], r["labelled"]) for r in rows] == [(1, 3), (3, 9)]
    assert rows[0]["chance"] == pytest.approx(1 / 3)
    assert len(rows[1]["scratch_accuracies"]) == 2
    assert rows[1]["scratch_accuracy"] == pytest.approx(np.mean(rows[1]["scratch_accuracies"]))
    assert rows[1]["scratch_accuracy"] > 0.9 and rows[1]["pretrained_accuracy"] > 0.9  # tones are easy
    with pytest.raises(ValueError, match="as many log-mel tensors as labels"):
        label_efficiency.shots_curve(encoder, (train[0], train[1][:-1]), dev, test, recipe)


def test_cached_curves_are_computed_once_and_never_half_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path))
    calls = []

    def compute():
        calls.append(capsys.readouterr().out)  # what was printed before the runs started
        return [{"budget": 25}]

    first = label_efficiency._cached("ctc", {"a": 1}, compute, progress=False)
    assert "not in the cache yet: training their runs now, once (about 8 to 10 minutes" in calls[0]
    second = label_efficiency._cached("ctc", {"a": 1}, compute, progress=False)
    assert first["rows"] == second["rows"] == [{"budget": 25}] and len(calls) == 1
    assert capsys.readouterr().out == ""  # read from the cache: nothing announced
    files = list((tmp_path / "results").iterdir())
    assert len(files) == 1 and json.loads(files[0].read_text())["settings"] == {"a": 1}
    label_efficiency._cached("ctc", {"a": 2}, compute, progress=False)  # other settings: another file
    assert len(calls) == 2

    def fails():
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        label_efficiency._cached("ctc", {"a": 3}, fails, progress=False)
    assert len(list((tmp_path / "results").iterdir())) == 2  # nothing half-written


def test_benchmark_runs_the_whole_pipeline_on_a_folder_corpus(
    tmp_path, capsys, monkeypatch, benchmark_module
):
    """benchmarks/label_efficiency.py --corpus folder: pretraining, then both arms at each budget."""
    import soundfile as sf

    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    for split, n in (("train", 10), ("dev", 3), ("test", 3)):
        for i in range(n):
            text = "".join(rng.choice(["a", "b"], size=3))
            gap = np.zeros(800, np.float32)
            audio = np.concatenate(
                [gap] + [np.concatenate([_tone(300 if c == "a" else 2500, 3200, rng), gap]) for c in text]
            )
            folder = tmp_path / "corpus" / split / f"speaker{i % 2}"
            folder.mkdir(parents=True, exist_ok=True)
            sf.write(folder / f"utt{i}.wav", audio, 16_000)
            (folder / f"utt{i}.txt").write_text(text)
    module = benchmark_module("label_efficiency")
    root = str(tmp_path / "corpus")
    quick = "--budgets 4 8 --steps 2 --pretrain-steps 2 --iteration2-steps 0 --encoder-lrs 1e-3 --workers 1"
    module.main(["--corpus", "folder", "--root", root, *quick.split()])
    out = capsys.readouterr().out
    assert "folder: 10 unlabeled utterances" in out and "3 test utterances" in out
    table = [line for line in out.splitlines() if line.startswith("| 4 |") or line.startswith("| 8 |")]
    assert len(table) == 2 and "label ratio at equal CER" in out
    with pytest.raises(SystemExit, match="train/ and test/"):
        module.main(["--corpus", "folder", "--root", str(tmp_path / "corpus" / "train")])
    # a budget larger than the labelable utterances fails before any pretraining
    with monkeypatch.context() as m, pytest.raises(ValueError, match=r"largest budget \(11\) exceeds the 10"):
        m.setattr(module, "pretrain_hubert", lambda *a, **k: pytest.fail("pretrained anyway"))
        module.main(["--corpus", "folder", "--root", root, *quick.replace("4 8", "4 11").split()])
    # FSDD's layout: {digit}_{speaker}_{take}.wav at 8 kHz, takes 0-4 are its test split
    recordings = tmp_path / "fsdd" / "recordings"
    recordings.mkdir(parents=True)
    for digit in range(3):
        for speaker in ("ann", "bob"):
            for take in range(8):
                sf.write(
                    recordings / f"{digit}_{speaker}_{take}.wav", _tone(300 + 900 * digit, 4000, rng), 8000
                )
    module.main(
        [
            "--corpus",
            "fsdd",
            "--root",
            str(tmp_path / "fsdd"),
            "--dev-size",
            "4",
            "--test-size",
            "6",
            *quick.split(),
        ]
    )
    out = capsys.readouterr().out
    assert "fsdd: 14 unlabeled utterances" in out and "6 test utterances" in out


def test_fillets_corpus_writes_a_level_split_folder_corpus(tmp_path, benchmark_module):
    """benchmarks/fillets_corpus.py: the game's recorded lines with their transcripts, split by level."""
    import soundfile as sf

    from speechlm import corpus

    data = tmp_path / "fillets-ng"
    rng = np.random.default_rng(0)
    for level in range(10):
        script = data / "script" / f"level{level}"
        script.mkdir(parents=True)
        lua = []
        for i, (font, line) in enumerate([("font_small", 'Zoë zegt \\"hoi\\".'), ("font_big", "Wat?")]):
            line_id = f"l{level}-{'m' if font == 'font_small' else 'v'}-{i}"
            lua.append(f'dialogId("{line_id}", "{font}", "English {i}.")\ndialogStr("{line}")\n')
            sounds = data / "sound" / f"level{level}" / "nl"
            sounds.mkdir(parents=True, exist_ok=True)
            seconds = 0.2 if (level, i) == (0, 1) else 1.0  # one line too short to keep
            sf.write(sounds / f"{line_id}.ogg", _tone(400, int(22050 * seconds), rng), 22050, format="OGG")
        lua.append('dialogId("l-x-0", "font_small", "Not recorded.")\ndialogStr("Niet opgenomen.")\n')
        (script / "dialogs_nl.lua").write_text("\n".join(lua), encoding="utf-8")
    module = benchmark_module("fillets_corpus")
    out = tmp_path / "fillets-nl"
    module.main([str(data), str(out), "--test", "0.2", "--dev", "0.1"])
    splits = {s: corpus.load("folder", root=out, split=s, progress=False) for s in ("train", "dev", "test")}
    assert {s: len(u) for s, u in splits.items()} == {"train": 13, "dev": 2, "test": 4}
    levels = {s: {u.id.split("/")[-1].split("-")[0] for u in utts} for s, utts in splits.items()}
    assert not levels["train"] & levels["test"] and not levels["train"] & levels["dev"]
    test = splits["test"]
    assert {u.speaker for u in test} == {"small-fish", "big-fish"} and test[0].sample_rate == 16_000
    assert sorted({u.text for u in test}) == ["Wat?", 'Zoë zegt "hoi".']
    assert normalize_text('Zoë zegt "hoi".') == "zoe zegt hoi"
    assert not (tmp_path / "fillets-nl.partial").exists()
    with pytest.raises(SystemExit, match="exists"):
        module.main([str(data), str(out)])
    with pytest.raises(FileNotFoundError, match=r"dialogs_cs\.lua"):
        module.main([str(data), str(tmp_path / "other"), "--language", "cs"])


def test_asterisk_corpus_keeps_prompts_whose_text_says_what_is_spoken(tmp_path, benchmark_module):
    """benchmarks/asterisk_corpus.py: prompts with their transcripts, split by text."""
    import gzip

    import soundfile as sf

    from speechlm import corpus

    data = tmp_path / "asterisk"
    sounds = data / "usr/share/asterisk/sounds/en_US_f_Allison"
    prompts = {
        "digits/7": "seven",
        "letters/plus": "plus [+]",  # the note goes: "plus"
        "silence/1": "(1 second of silence)",  # only a note: left out
        "beep": "[this is a simple beep tone]",
        "vm-press": "Press 1 to listen.",  # a digit: how is it said? left out
        "dictate/help": "press # to exit",  # a key: left out
        "agent-incorrect": "Login incorrect.",
        "vm-incorrect": "Login incorrect.",  # the same text under two names: one split
        "demo-long": "A very long prompt.",  # longer than --max-seconds
        "not-recorded": "Nothing to hear.",
    }
    rng = np.random.default_rng(0)
    for i, name in enumerate(prompts):
        if name != "not-recorded":
            (sounds / name).parent.mkdir(parents=True, exist_ok=True)
            seconds = 3.0 if name == "demo-long" else 0.5
            sf.write(sounds / f"{name}.wav", _tone(300 + 100 * i, int(8000 * seconds), rng), 8000)
    for i in range(20):  # enough texts for three splits
        prompts[f"word{i}"] = f"Word number {'abcdefghijklmnopqrst'[i]}."
        sf.write(sounds / f"word{i}.wav", _tone(500 + 50 * i, 4000, rng), 8000)
    doc = data / "usr/share/doc/asterisk-core-sounds-en"
    doc.mkdir(parents=True)
    listing = "; Core Asterisk Sounds in English\n\n" + "".join(f"{k}: {v}\n" for k, v in prompts.items())
    with gzip.open(doc / "core-sounds-en.txt.gz", "wt", encoding="utf-8") as f:
        f.write(listing)
    module = benchmark_module("asterisk_corpus")
    assert module.spoken_text("plus [+]") == "plus" and module.spoken_text("(2 seconds of silence)") is None
    assert (
        module.spoken_text("Dial 2 now.") is None and module.spoken_text("...to confirm.") == "...to confirm."
    )
    out = tmp_path / "asterisk-en"
    module.main([str(data), str(out), "--max-seconds", "2"])
    splits = {s: corpus.load("folder", root=out, split=s, progress=False) for s in ("train", "dev", "test")}
    assert {s: len(u) for s, u in splits.items()} == {"train": 15, "dev": 3, "test": 6}
    names = {u.id.split("/")[-1]: (s, u.text) for s, utts in splits.items() for u in utts}
    assert names["digits-7"][1] == "seven" and names["letters-plus"][1] == "plus"
    assert not {"silence-1", "beep", "vm-press", "dictate-help", "demo-long", "not-recorded"} & set(names)
    assert names["agent-incorrect"] == names["vm-incorrect"]  # same split, same text
    texts = {s: {u.text for u in utts} for s, utts in splits.items()}
    assert not texts["train"] & texts["test"] and not texts["train"] & texts["dev"]
    assert {u.speaker for utts in splits.values() for u in utts} == {"en-prompts"}
    assert splits["test"][0].sample_rate == 16_000
    with pytest.raises(SystemExit, match="exists"):
        module.main([str(data), str(out)])
    with pytest.raises(FileNotFoundError, match="asterisk-core-sounds-fr"):
        module.main([str(data), str(tmp_path / "other"), "--language", "fr"])


def test_benchmark_cuts_a_real_corpus_for_pretraining_and_labels_only_short_utterances(benchmark_module):
    module = benchmark_module("label_efficiency")
    audio = np.arange(25, dtype=np.float32)
    pieces = module.cut(audio, 10)
    assert [len(x) for x in pieces] == [8, 8, 9] and np.array_equal(np.concatenate(pieces), audio)
    assert [len(x) for x in module.cut(audio, 25)] == [25] and [len(x) for x in module.cut(audio, 5)] == [
        5
    ] * 5
    utts = [SimpleNamespace(audio=np.zeros(int(s * 16_000), np.float32)) for s in (2.0, 7.0, 5.0, 12.5, 1.0)]
    audio, pool = module.real_corpus_data(utts, 5.0)
    assert [len(x) for x in audio] == [32_000, 56_000, 56_000, 80_000, 66_666, 66_667, 66_667, 16_000]
    assert pool == [utts[0], utts[2], utts[4]]  # in order, none longer than 5 s
    audio, pool = module.real_corpus_data(utts, 0)  # off
    assert [len(x) for x in audio] == [len(u.audio) for u in utts] and pool == utts
    with pytest.raises(SystemExit, match="must be positive"):
        module.real_corpus_data(utts, -1)


def test_pretraining_variants_change_only_what_is_asked(benchmark_module):
    from speechlm import pretrained

    module = benchmark_module("pretraining_variants")
    course = pretrained.RECIPES["hubert"]
    args = SimpleNamespace(
        name="v", utterances=3000, steps=None, iteration2_steps=None, clusters=None, dropout=0.0,
        objective="hubert", loss_on=None,
    )  # fmt: skip
    recipe = module.variant(args)
    assert recipe.name == "v" and recipe.key() != course.key() and recipe.objective == "hubert"
    contrastive = module.variant(SimpleNamespace(**{**vars(args), "objective": "wav2vec2"}))
    assert contrastive.objective == "wav2vec2" and contrastive.hubert == recipe.hubert
    assert recipe.hubert == replace(
        course.hubert, n_utterances=3000, encoder=replace(course.hubert.encoder, dropout=0.0)
    )
    all_frames = module.variant(SimpleNamespace(**{**vars(args), "loss_on": "all"}))
    assert all_frames.hubert == replace(recipe.hubert, loss_on="all") and all_frames.key() != recipe.key()
    with pytest.raises(SystemExit, match="must differ"):
        module.variant(SimpleNamespace(**{**vars(args), "name": "hubert"}))
    # issue 21's variants: data2vec, a cluster ensemble, random-projection units
    data2vec = module.variant(SimpleNamespace(**{**vars(args), "objective": "data2vec"}))
    assert data2vec.objective == "data2vec" and data2vec.hubert == recipe.hubert
    ensemble = module.variant(SimpleNamespace(**{**vars(args), "ensemble": [50, 200]}))
    assert ensemble.hubert == replace(recipe.hubert, ensemble=(50, 200))
    rq = module.variant(SimpleNamespace(**{**vars(args), "targets": "random_projection"}))
    assert rq.hubert == replace(recipe.hubert, targets="random_projection")
    assert len({recipe.key(), data2vec.key(), ensemble.key(), rq.key()}) == 4


def test_oracle_targets_give_every_encoder_frame_its_phone(benchmark_module):
    module = benchmark_module("oracle_targets")
    # 1 s and 0.5 s of log-mel frames (10 ms): 50 and 25 encoder frames (20 ms)
    mels = [torch.zeros(100, 80), torch.zeros(50, 80)]
    utts = [
        SimpleNamespace(phones=[("h", 0.1, 0.3), ("a", 0.3, 0.6)]),
        SimpleNamespace(phones=[("a", 0.0, 0.2), ("z", 0.2, 0.5)]),
    ]
    targets, inventory = module.phone_targets(utts, mels)
    assert inventory == ["a", "h", "sil", "z"]
    lengths = [int(features.encoder_lengths(torch.tensor(len(m)))) for m in mels]
    assert [len(t) for t in targets] == lengths and all(t.dtype == np.int64 for t in targets)
    first = np.array(inventory)[targets[0]]
    assert (first[:5] == "sil").all() and (first[5:15] == "h").all() and (first[15:30] == "a").all()
    assert (first[30:] == "sil").all()
    second = np.array(inventory)[targets[1]]
    assert (second[:10] == "a").all() and (second[10:25] == "z").all() and (second[25:] == "sil").all()
    with pytest.raises(ValueError, match="steps must be positive"):
        module.pretrain_on_phones("masked", steps=-1)
    with pytest.raises(ValueError, match="loss_on must be"):
        module.pretrain_on_phones("unmasked")
