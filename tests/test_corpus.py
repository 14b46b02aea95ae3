"""The embedded corpus: synthesis, determinism, speakers, alignments, cache and augmentation."""

import hashlib
import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from speechlm import augment, corpus
from speechlm.corpus import cache, embedded, espeak, grammar, lexicon, voices
from speechlm.corpus.phones import ESPEAK_TO_PHONE, MODIFIERS, PHONES
from speechlm.utils import CacheWarning, cache_dir


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def utts():
    return corpus.load("embedded", split="dev", size=60, seed=4, cache=False, progress=False)


def digest(u):
    return hashlib.sha256(u.audio.tobytes()).hexdigest()


def test_utterance_fields(utts):
    u = utts[0]
    assert u.audio.dtype == np.float32 and u.audio.ndim == 1 and u.sample_rate == 16000
    assert 0 < np.max(np.abs(u.audio)) <= 1
    assert isinstance(u.text, str) and u.text and isinstance(u.speaker, str)
    assert u.labels["task"] in corpus.TASKS and "zh" in u.labels
    assert len(u.words) == len(u.text.split()) and u.phones


def test_same_arguments_give_bit_identical_audio_in_any_order_and_process(utts):
    text, speaker = utts[3].text, utts[3].speaker
    a = corpus.synthesize(text, speaker)
    corpus.synthesize("something else entirely to change the synthesiser state", utts[7].speaker)
    b = corpus.synthesize(text, speaker)
    assert digest(a) == digest(b) and a.phones == b.phones and a.words == b.words
    np.testing.assert_array_equal(a.audio, utts[3].audio)  # the corpus's copy, made amid other utterances
    code = (
        "import hashlib, sys; from speechlm import corpus; "
        f"u = corpus.synthesize({text!r}, {speaker!r}); "
        "sys.stdout.write(hashlib.sha256(u.audio.tobytes()).hexdigest())"
    )
    other_process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other_process.stdout == digest(a)


def test_different_seed_gives_different_utterances(utts):
    other = corpus.load("embedded", split="dev", size=10, seed=5, cache=False, progress=False)
    assert [u.text for u in other] != [u.text for u in utts[:10]]
    assert {digest(u) for u in other}.isdisjoint(digest(u) for u in utts)


def test_speaker_counts_and_disjoint_voices():
    by_split = {s: corpus.speakers(s) for s in grammar.SPLITS}
    assert len(by_split["train"]) >= 150 and len(by_split["dev"]) >= 25 and len(by_split["test"]) >= 25
    variants = {s: {spk.variant for spk in v} for s, v in by_split.items()}
    for a, b in itertools.combinations(grammar.SPLITS, 2):
        assert not variants[a] & variants[b], (a, b)
    ids = [spk.id for v in by_split.values() for spk in v]
    assert len(set(ids)) == len(ids)
    assert len({spk.accent for spk in by_split["train"]}) == len(voices.ACCENTS)


def test_speaker_ids_are_stable_and_parse_back():
    # pinned: a change here would silently relabel every cached corpus and experiment
    assert corpus.speakers("test")[0].id == "en-029+Mario:p58:v43:r188:g-2"
    for spk in corpus.speakers("dev"):
        assert corpus.Speaker.from_id(spk.id) == spk
    with pytest.raises(ValueError, match="not a speaker id"):
        corpus.Speaker.from_id("Alex")
    with pytest.raises(ValueError, match="no variant"):
        corpus.Speaker.from_id("en-us+Nobody:p50:v50:r150:g0")


def test_utterances_use_only_their_splits_speakers(utts):
    assert {u.speaker for u in utts} <= {s.id for s in corpus.speakers("dev")}
    assert len({u.speaker for u in utts}) > 10


def test_alignments_lie_inside_the_audio_in_order_and_match_the_text(utts):
    for u in utts:
        assert [w for w, _, _ in u.words] == u.text.split()
        for _, start, end in u.words:
            assert 0 < start < end <= u.duration_s
        for (_, _, end_a), (_, start_b, _) in itertools.pairwise(u.words):
            assert end_a <= start_b + 1e-9
        assert u.phones[0] == ("sil", 0.0, u.phones[0][2]) and u.phones[-1][2] == pytest.approx(u.duration_s)
        for (_, _, end_a), (_, start_b, _) in itertools.pairwise(u.phones):
            assert end_a == start_b
        assert all(start < end for _, start, end in u.phones)
        assert {p for p, _, _ in u.phones} <= set(PHONES)
        assert u.words[0][1] >= u.phones[0][2] - 1e-9  # silence before the first word


def test_alignments_agree_with_the_audio_energy(utts):
    for u in utts:
        lead = u.audio[: int(u.phones[0][2] * u.sample_rate)]
        assert np.max(np.abs(lead)) < 1e-3  # the leading "sil" is silent
        for word, start, end in u.words:
            seg = u.audio[int(start * u.sample_rate) : int(end * u.sample_rate)]
            assert np.sqrt(np.mean(seg**2)) > 3e-3, (u.text, word)  # every word is audible


def test_every_phoneme_the_grammar_produces_is_in_the_table():
    words = grammar.vocabulary()
    requests = [
        espeak.Request(" ".join(words[i : i + 60]), f"{accent}+m1")
        for accent in voices.ACCENTS
        for i in range(0, len(words), 60)
    ]
    seen = {
        e.phoneme.lstrip("',") for s in espeak.synth_many(requests) for e in s.events if e.kind == "phoneme"
    }
    unknown = {m for m in seen if m not in ESPEAK_TO_PHONE and m not in MODIFIERS and not m.startswith("_")}
    assert not unknown
    assert len(PHONES) == 40 and PHONES[0] == "sil"


def test_tasks_filter_and_labels(utts):
    only = corpus.load("embedded", split="test", size=12, tasks=["digits"], cache=False, progress=False)
    assert {u.labels["task"] for u in only} == {"digits"}
    for u in only:
        assert u.labels["digits"] == "".join(str(lexicon.DIGITS.index(w)) for w in u.text.split())
    scene_utts = [u for u in utts if u.labels["task"] == "scenes"]
    for a, b in itertools.pairwise(scene_utts):
        if a.labels["scene"] == b.labels["scene"]:
            assert a.speaker == b.speaker  # one narrator per scene


def test_cache_returns_the_same_corpus_and_is_keyed_by_version(monkeypatch):
    fresh = corpus.load("embedded", split="test", size=6, seed=1, progress=False)
    paths = list(cache_dir("corpus", "embedded").glob("*.npz"))
    assert len(paths) == 1
    cached = corpus.load("embedded", split="test", size=6, seed=1, progress=False)
    for a, b in zip(fresh, cached, strict=True):
        np.testing.assert_array_equal(a.audio, b.audio)
        assert (a.text, a.speaker, a.words, a.phones, a.labels, a.id) == (
            b.text,
            b.speaker,
            b.words,
            b.phones,
            b.labels,
            b.id,
        )
    calls = []
    real_generate = embedded._generate
    monkeypatch.setattr(embedded, "_generate", lambda *a: calls.append(a) or real_generate(*a))
    corpus.load("embedded", split="test", size=6, seed=1, progress=False)
    assert calls == []  # served from the cache
    monkeypatch.setattr(embedded, "generator_version", lambda: "a-newer-generator")
    corpus.load("embedded", split="test", size=6, seed=1, progress=False)
    assert len(calls) == 1  # a new generator version rebuilds
    assert len(list(cache_dir("corpus", "embedded").glob("*.npz"))) == 2


def test_a_cache_file_of_another_version_is_not_reused(tmp_path):
    utts = corpus.load("embedded", split="test", size=3, cache=False, progress=False)
    path = tmp_path / "c.npz"
    cache.write(path, utts, "old-version")
    assert cache.read(path, "old-version") is not None
    assert cache.read(path, "new-version") is None


def test_an_interrupted_write_leaves_no_cache(monkeypatch):
    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", explode)
    with pytest.raises(KeyboardInterrupt):
        corpus.load("embedded", split="test", size=3, seed=9, progress=False)
    folder = cache_dir("corpus", "embedded")
    assert list(folder.iterdir()) == []  # neither a half-written corpus nor a temporary file


def test_a_truncated_cache_file_is_rebuilt():
    first = corpus.load("embedded", split="test", size=3, seed=8, progress=False)
    (path,) = cache_dir("corpus", "embedded").glob("*.npz")
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.warns(CacheWarning, match=str(path.name)):
        again = corpus.load("embedded", split="test", size=3, seed=8, progress=False)
    np.testing.assert_array_equal(first[2].audio, again[2].audio)


def test_noise_and_reverb_are_reproducible_and_change_the_audio():
    clean = corpus.load("embedded", split="test", size=4, seed=2, cache=False, progress=False)
    noisy = corpus.load(
        "embedded", split="test", size=4, seed=2, noise_snr_db=10, cache=False, progress=False
    )
    again = corpus.load(
        "embedded", split="test", size=4, seed=2, noise_snr_db=10, cache=False, progress=False
    )
    wet = corpus.load("embedded", split="test", size=4, seed=2, reverb=True, cache=False, progress=False)
    for c, n, a, w in zip(clean, noisy, again, wet, strict=True):
        np.testing.assert_array_equal(n.audio, a.audio)
        snr = 10 * np.log10(np.mean(c.audio.astype(np.float64) ** 2) / np.mean((n.audio - c.audio) ** 2.0))
        assert snr == pytest.approx(10, abs=0.1)
        assert len(w.audio) == len(c.audio) and not np.array_equal(w.audio, c.audio)
        assert n.words == c.words


def test_add_noise_hits_the_requested_snr_for_white_and_pink():
    rng = np.random.default_rng(0)
    x = np.sin(np.linspace(0, 300, 16000)).astype(np.float32) * 0.3
    for color in ("white", "pink"):
        y = augment.add_noise(x, 5.0, noise=color, rng=rng)
        snr = 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean((y - x) ** 2.0))
        assert snr == pytest.approx(5.0, abs=0.05)


def test_room_impulse_response_decays_at_the_requested_rate():
    h = corpus.augment.room_impulse_response(np.random.default_rng(1), 16000, rt60_s=0.5)
    assert len(h) == 8000 and h[0] == 1.0
    early, late = np.sum(h[200:1600] ** 2), np.sum(h[6000:7400] ** 2)  # 0.35 s apart: -42 dB expected
    assert 10 * np.log10(early / late) == pytest.approx(42, abs=6)


def test_frame_phones(utts):
    u = utts[0]
    labels = u.frame_phones(0.01)
    assert len(labels) == int(np.ceil(u.duration_s / 0.01)) and labels[0] == "sil"
    middle = (u.phones[1][1] + u.phones[1][2]) / 2
    assert labels[round(middle / 0.01)] == u.phones[1][0] or u.phones[1][2] - u.phones[1][1] < 0.02


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"name": "timit"}, ValueError, "unknown corpus"),
        ({"split": "validation"}, ValueError, "split must be"),
        ({"size": 0}, ValueError, "size must be"),
        ({"tasks": ["jokes"]}, ValueError, "tasks must be"),
        ({"noise_snr_db": float("nan")}, ValueError, "noise_snr_db"),
    ],
)
def test_bad_load_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        corpus.load(**{"progress": False, **kwargs})


def test_synthesize_rejects_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        corpus.synthesize("   ")
    with pytest.raises(TypeError, match="speaker must be"):
        corpus.synthesize("hello", speaker=3)


def _espeak_servers() -> int:
    """How many eSpeak servers this process runs (Linux /proc)."""
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        count += int(stat[1]) == os.getpid() and b"espeak_server" in cmdline
    return count


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_an_abandoned_run_blocks_nothing_and_leaves_no_process():
    espeak.close()
    run = espeak.synth_many([espeak.Request(f"number {i}") for i in range(40)])
    next(run)  # abandoned half-way, as by an interrupted notebook cell
    assert corpus.synthesize("still works").words[0][0] == "still"  # another pair of servers
    assert _espeak_servers() == 4
    run.close()
    assert _espeak_servers() == 2  # the abandoned run's servers stopped; the idle pair remains
    espeak.close()
    assert _espeak_servers() == 0
