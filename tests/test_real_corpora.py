"""Real corpora through corpus.load, on fixture folders that imitate each layout; never the network."""

import tarfile
import urllib.error

import numpy as np
import pytest
import soundfile as sf

from speechlm import corpus
from speechlm.corpus import download, folder, real
from speechlm.utils import cache_dir


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """A private cache, and a network that is down: any download attempt fails like offline."""
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "cache"))
    timeouts = []

    def no_network(url, timeout=None):
        timeouts.append(timeout)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(download.urllib.request, "urlopen", no_network)
    return timeouts


def write_tone(path, rate, seconds=0.25, freq=300.0, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(rate * seconds)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate, format=fmt)


@pytest.fixture
def fsdd_root(tmp_path):
    root = tmp_path / "free-spoken-digit-dataset-1.0.9"
    for digit in (0, 3, 7):
        for speaker in ("jackson", "theo"):
            for take in range(7):
                write_tone(root / "recordings" / f"{digit}_{speaker}_{take}.wav", 8000, freq=200 + 50 * digit)
    (root / "README.md").write_text("fixture")
    return root


def test_fsdd_reads_the_official_split_and_resamples_to_16k(fsdd_root):
    train = corpus.load("fsdd", root=fsdd_root, split="train", progress=False)
    test = corpus.load("fsdd", root=fsdd_root / "recordings", split="test", progress=False)
    assert len(train) == 3 * 2 * 2 and len(test) == 3 * 2 * 5
    u = next(u for u in test if u.id == "fsdd-7_theo_4")
    assert (
        u.text == "seven"
        and u.speaker == "theo"
        and u.labels == {"task": "digits", "digit": 7, "digits": "7"}
    )
    assert u.sample_rate == 16000 and u.audio.dtype == np.float32 and len(u.audio) == 2 * 2000
    assert u.words == [] and u.phones == []
    assert len(corpus.load("fsdd", root=fsdd_root, split="train", size=5, progress=False)) == 5
    with pytest.raises(ValueError, match="splits"):
        corpus.load("fsdd", root=fsdd_root, split="dev")


def test_speech_commands_layout_and_split_lists(tmp_path):
    root = tmp_path / "sc"
    for word in ("yes", "no"):
        for i, speaker in enumerate(("0a7c2a8d", "0b09edd3", "0c40e715")):
            write_tone(root / word / f"{speaker}_nohash_{i}.wav", 16000, seconds=1.0)
    write_tone(root / "_background_noise_" / "white_noise.wav", 16000, seconds=2.0)
    (root / "validation_list.txt").write_text("yes/0b09edd3_nohash_1.wav\n")
    (root / "testing_list.txt").write_text("no/0c40e715_nohash_2.wav\nyes/0c40e715_nohash_2.wav\n")
    train = corpus.load("speech_commands", root=root, split="train", progress=False)
    dev = corpus.load("speech_commands", root=root, split="dev", progress=False)
    test = corpus.load("speech_commands", root=root, split="test", progress=False)
    assert (len(train), len(dev), len(test)) == (3, 1, 2)
    assert dev[0].text == "yes" and dev[0].speaker == "0b09edd3" and dev[0].labels["keyword"] == "yes"
    assert all(u.labels["task"] == "keywords" and len(u.audio) == 16000 for u in train + dev + test)


def test_librispeech_layout(tmp_path):
    chapter = tmp_path / "LibriSpeech" / "dev-clean" / "1272" / "128104"
    for n in range(3):
        write_tone(chapter / f"1272-128104-{n:04d}.flac", 16000, fmt="FLAC")
    (chapter / "1272-128104.trans.txt").write_text(
        "1272-128104-0000 MISTER QUILTER IS THE APOSTLE\n1272-128104-0001 NOR IS MISTER QUILTER'S MANNER\n"
        "1272-128104-0002 HE HAS GRAVE DOUBTS\n"
    )
    utts = corpus.load("librispeech", root=tmp_path, split="dev", progress=False)
    assert [u.text for u in utts] == [
        "mister quilter is the apostle",
        "nor is mister quilter's manner",
        "he has grave doubts",
    ]
    assert utts[1].speaker == "1272" and utts[1].labels == {"task": "asr", "subset": "dev-clean"}
    with pytest.raises(FileNotFoundError, match=r"no LibriSpeech subset 'test-clean'.*\['dev-clean'\]"):
        corpus.load("librispeech", root=tmp_path, split="test", progress=False)


def test_folder_layout(tmp_path):
    write_tone(tmp_path / "a.wav", 22050)
    (tmp_path / "a.txt").write_text("hello there\n")
    write_tone(tmp_path / "alice" / "b.flac", 8000, fmt="FLAC")
    (tmp_path / "alice" / "b.txt").write_text("good morning")
    utts = corpus.load("folder", root=tmp_path, split="all", progress=False)
    assert [(u.text, u.speaker) for u in utts] == [("hello there", "unknown"), ("good morning", "alice")]
    assert all(u.sample_rate == 16000 and abs(u.duration_s - 0.25) < 1e-3 for u in utts)
    (tmp_path / "alice" / "c.wav").write_bytes((tmp_path / "a.wav").read_bytes())
    with pytest.raises(FileNotFoundError, match=r"no transcript: expected c\.txt"):
        corpus.load("folder", root=tmp_path, split="all", progress=False)


def test_folder_uses_the_split_subfolder_when_present(tmp_path):
    for split in ("train", "test"):
        write_tone(tmp_path / split / "x.wav", 16000)
        (tmp_path / split / "x.txt").write_text(split)
    assert [u.text for u in corpus.load("folder", root=tmp_path, split="test", progress=False)] == ["test"]


def test_split_groups_assigns_whole_groups_in_the_given_shares():
    groups = [f"level{i}" for i in range(20)]
    split = folder.split_groups(groups, test=0.15, dev=0.1, seed=0)
    assert set(split) == set(groups)
    assert sorted(split.values()) == ["dev"] * 2 + ["test"] * 3 + ["train"] * 15
    assert folder.split_groups(groups, 0.15, 0.1, seed=0) == split  # seeded
    assert folder.split_groups(groups, 0.15, 0.1, seed=1) != split
    assert set(folder.split_groups(groups, 0, 0).values()) == {"train"}
    with pytest.raises(ValueError, match="shares"):
        folder.split_groups(groups, test=0.8, dev=0.3)


def test_write_folder_writes_what_load_folder_reads(tmp_path):
    write_tone(tmp_path / "src" / "one.wav", 8000)
    write_tone(tmp_path / "src" / "two.flac", 22050, fmt="FLAC")
    src = tmp_path / "src"
    entries = [
        {"split": "train", "speaker": "ann", "name": "p1", "audio": src / "one.wav", "text": "Hello\n there"},
        {"split": "test", "speaker": "ann", "name": "p2", "audio": src / "two.flac", "text": "Good morning."},
        {"split": "train", "speaker": "bob", "name": "p1", "audio": src / "one.wav", "text": "again"},
    ]  # fmt: skip
    out = tmp_path / "corpus"
    assert folder.write_folder(out, entries) == {"train": 2, "dev": 0, "test": 1}
    train = corpus.load("folder", root=out, split="train", progress=False)
    assert [(u.speaker, u.text) for u in train] == [("ann", "Hello there"), ("bob", "again")]
    test = corpus.load("folder", root=out, split="test", progress=False)
    assert [(u.speaker, u.text, u.sample_rate) for u in test] == [("ann", "Good morning.", 16000)]
    assert (out / "test" / "ann" / "p2.flac").read_bytes() == (tmp_path / "src/two.flac").read_bytes()
    assert not (tmp_path / "corpus.partial").exists()
    with pytest.raises(FileExistsError, match="exists"):
        folder.write_folder(out, entries)
    bad = [
        ({"split": "valid"}, ValueError, "split must be one of"),
        ({"name": "a/b"}, ValueError, "file names"),
        ({"speaker": ""}, ValueError, "file names"),
        ({"audio": tmp_path / "src/missing.wav"}, FileNotFoundError, "not an audio file"),
        ({"audio": tmp_path / "src"}, FileNotFoundError, "not an audio file"),
        ({"text": "  "}, ValueError, "empty transcript"),
    ]
    for change, error, message in bad:
        with pytest.raises(error, match=message):
            folder.write_folder(tmp_path / "other", [entries[0], {**entries[1], **change}])
        assert not (tmp_path / "other").exists() and not (tmp_path / "other.partial").exists()
    with pytest.raises(ValueError, match="two recordings would be written as train/ann/p1"):
        folder.write_folder(tmp_path / "other", [entries[0], {**entries[2], "speaker": "ann"}])
    with pytest.raises(ValueError, match="no recordings"):
        folder.write_folder(tmp_path / "other", [])


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("fsdd", {}), ("speech_commands", {"split": "dev"}), ("librispeech", {"subset": "dev-clean"})],
)
def test_offline_download_fails_fast_with_a_helpful_message(offline, name, kwargs):
    with pytest.raises(corpus.CorpusUnavailableError) as info:
        corpus.load(name, progress=False, **kwargs)
    message = str(info.value)
    assert f"the {name} corpus is not available" in message
    assert "internet" in message and "root=" in message and "corpus.load('embedded'" in message
    assert offline == [download.TIMEOUT_S] and download.TIMEOUT_S <= 10  # one short attempt


def test_missing_root_folder_and_unknown_subset(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        corpus.load("fsdd", root=tmp_path / "missing")
    with pytest.raises(ValueError, match="no pinned download"):
        corpus.load("librispeech", subset="train-other-960")
    with pytest.raises(corpus.CorpusUnavailableError, match="needs root"):
        corpus.load("folder")


def test_download_is_checksummed_then_unpacked_once(fsdd_root, tmp_path, monkeypatch):
    archive = tmp_path / "v1.0.9.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(fsdd_root, arcname=fsdd_root.name)
    fetched = []

    def fake_download(url, path, corpus_name, timeout_s):
        fetched.append(url)
        path.write_bytes(archive.read_bytes())

    monkeypatch.setattr(download, "_download", fake_download)
    url = real.RELEASES["fsdd"][0]
    monkeypatch.setitem(real.RELEASES, "fsdd", (url, "0" * 64))
    with pytest.raises(corpus.CorpusUnavailableError, match="expected 0000"):
        corpus.load("fsdd", split="test", progress=False)
    assert not (cache_dir("downloads") / archive.name).exists()  # the bad file is deleted

    monkeypatch.setitem(real.RELEASES, "fsdd", (url, download.sha256_of(archive)))
    utts = corpus.load("fsdd", split="test", progress=False)
    again = corpus.load("fsdd", split="test", progress=False)
    assert len(utts) == len(again) == 30 and fetched == [url, url]  # unpacked once, not downloaded again
    assert not list(cache_dir("corpus", "fsdd").glob(".*"))  # no leftover temporary folder
