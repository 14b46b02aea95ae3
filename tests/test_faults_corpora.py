"""Issue 16, real corpora and audio I/O: every bad input is an error that names the file or argument
and the fix; nothing is skipped, truncated or mixed into another split without a word.

Fixture folders imitate each corpus's layout; downloads go to a local HTTP server on 127.0.0.1.
"""

import http.server
import tarfile
import threading
from typing import ClassVar

import numpy as np
import pytest
import soundfile as sf

from speechlm import audio, corpus
from speechlm.audio import AudioError
from speechlm.corpus import download
from speechlm.utils import cache_dir


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "cache"))


def write_tone(path, rate=16000, seconds=0.1, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(rate * seconds)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), rate, format=fmt)
    return path


def write_utt(folder, name, text="hello", suffix=".wav", encoding="utf-8"):
    write_tone(folder / f"{name}{suffix}", fmt="FLAC" if suffix == ".flac" else None)
    (folder / f"{name}.txt").write_bytes(text.encode(encoding))


def fsdd_layout(root):
    for take in (0, 5):
        write_tone(root / "recordings" / f"3_theo_{take}.wav", 8000)


def speech_commands_layout(root, lists=True):
    for word, speaker in (("yes", "0a7c2a8d"), ("no", "0b09edd3"), ("yes", "0c40e715")):
        write_tone(root / word / f"{speaker}_nohash_0.wav")
    if lists:
        (root / "validation_list.txt").write_text("no/0b09edd3_nohash_0.wav\n", encoding="utf-8")
        (root / "testing_list.txt").write_text("yes/0c40e715_nohash_0.wav\n", encoding="utf-8")


def librispeech_layout(root, subset="dev-clean", line=" HELLO THERE"):
    chapter = root / "LibriSpeech" / subset / "1272" / "128104"
    write_tone(chapter / "1272-128104-0000.flac", fmt="FLAC")
    (chapter / "1272-128104.trans.txt").write_text(f"1272-128104-0000{line}\n", encoding="utf-8")


def two_splits(root):
    for split in ("train", "test"):
        write_utt(root / split / "ann", "x", split)


def speakers_only(root):
    write_utt(root / "ann", "x")
    write_utt(root / "bob", "y")


# --- 1. the folder corpus never leaks one split into another -------------------------------


@pytest.mark.parametrize(
    ("layout", "split", "error", "message"),
    [
        (
            two_splits,
            "dev",
            FileNotFoundError,
            r"has no dev/ folder; its split folders are \['train', 'test'\]",
        ),
        (two_splits, "valid", ValueError, r"splits \('train', 'dev', 'test'\).*'all'.*got split='valid'"),
        (two_splits, "all", ValueError, r"has split folders \['train', 'test'\]: load each with split="),
        (speakers_only, "train", FileNotFoundError, r"has no split folders .*pass split='all'"),
        (speakers_only, "test", FileNotFoundError, r"no 'test' split: pass split='all'"),
    ],
)
def test_folder_split_that_is_not_there_is_an_error(tmp_path, layout, split, error, message):
    layout(tmp_path / "c")
    with pytest.raises(error, match=message) as info:
        corpus.load("folder", root=tmp_path / "c", split=split, progress=False)
    assert str(tmp_path / "c") in str(info.value)


def test_folder_reads_only_the_split_asked_for_or_all_when_told(tmp_path):
    two_splits(tmp_path / "c")
    assert [u.text for u in corpus.load("folder", root=tmp_path / "c", split="test", progress=False)] == [
        "test"
    ]
    speakers_only(tmp_path / "s")
    utts = corpus.load("folder", root=tmp_path / "s", split="all", progress=False)
    assert [(u.id, u.speaker) for u in utts] == [("folder-ann/x", "ann"), ("folder-bob/y", "bob")]


# --- 2. a root in the wrong layout names the root and the layout expected --------------------


@pytest.mark.parametrize(
    ("name", "layout", "kwargs", "error", "message"),
    [
        (
            "speech_commands",
            None,
            {},
            FileNotFoundError,
            r"no Speech Commands clips under .*yes/0a7c2a8d_nohash_0",
        ),
        (
            "speech_commands",
            fsdd_layout,
            {},
            ValueError,
            r"recordings/3_theo_0\.wav.* not named like Speech Co",
        ),
        (
            "speech_commands",
            lambda root: speech_commands_layout(root, lists=False),
            {},
            FileNotFoundError,
            r"has no validation_list\.txt: .*copy both files from the release",
        ),
        ("fsdd", None, {}, FileNotFoundError, r"no FSDD recordings under .*recordings/0_jackson_0\.wav"),
        ("fsdd", speech_commands_layout, {}, FileNotFoundError, r"no FSDD recordings under"),
        (
            "fsdd",
            lambda root: (fsdd_layout(root), write_tone(root / "recordings" / "3_theo_0 (copy).wav")),
            {},
            ValueError,
            r"3_theo_0 \(copy\)\.wav in .* not named like FSDD recordings",
        ),
        (
            "librispeech",
            None,
            {"split": "dev"},
            FileNotFoundError,
            r"no LibriSpeech subset 'dev-clean' under .*LibriSpeech/dev-clean/\{speaker\}.*found no LibriSp",
        ),
        (
            "librispeech",
            lambda root: librispeech_layout(root, line=""),
            {"split": "dev"},
            ValueError,
            r"1272-128104\.trans\.txt, line 1: expected '\{id\} \{TRANSCRIPT\}'",
        ),
    ],
)
def test_wrong_layout_is_an_error_naming_root_and_layout(tmp_path, name, layout, kwargs, error, message):
    root = tmp_path / "root"
    root.mkdir()
    if layout is not None:
        layout(root)
    with pytest.raises(error, match=message) as info:
        corpus.load(name, root=root, progress=False, **kwargs)
    assert str(root) in str(info.value)


def test_librispeech_subset_folder_is_not_read_as_another_subset(tmp_path):
    librispeech_layout(tmp_path)
    dev_clean = tmp_path / "LibriSpeech" / "dev-clean"
    assert [u.text for u in corpus.load("librispeech", root=dev_clean, split="dev", progress=False)] == [
        "hello there"
    ]
    with pytest.raises(FileNotFoundError, match=r"one subset folder, 'dev-clean': pass subset='dev-clean'"):
        corpus.load("librispeech", root=dev_clean, split="test", progress=False)


def test_speech_commands_splits_come_from_the_lists(tmp_path):
    speech_commands_layout(tmp_path)
    texts = {s: [u.id for u in corpus.load("speech_commands", root=tmp_path, split=s, progress=False)]
             for s in ("train", "dev", "test")}  # fmt: skip
    assert texts == {
        "train": ["speech_commands-yes-0a7c2a8d_nohash_0"],
        "dev": ["speech_commands-no-0b09edd3_nohash_0"],
        "test": ["speech_commands-yes-0c40e715_nohash_0"],
    }
    (tmp_path / "testing_list.txt").write_text("yes/elsewhere_nohash_0.wav\n", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match=r"no test clips .*none of the clips listed in testing_list"):
        corpus.load("speech_commands", root=tmp_path, split="test", progress=False)


# --- 3. a truncated audio file is an error, a short complete one is not ----------------------


def test_truncated_wav_names_the_file_both_counts_and_the_fix(tmp_path):
    full = write_tone(tmp_path / "full.wav", 22050, seconds=1.0)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[:1000])  # 44-byte header + 478 samples of 22,050
    with pytest.raises(
        AudioError, match=r"cut\.wav is truncated: .*declares 22050 samples .*only 478"
    ) as info:
        audio.load(cut)
    assert "download or export it again" in str(info.value)
    write_utt(tmp_path / "c" / "train", "x")
    (tmp_path / "c" / "train" / "x.wav").write_bytes(cut.read_bytes())
    with pytest.raises(AudioError, match=r"x\.wav is truncated"):
        corpus.load("folder", root=tmp_path / "c", split="train", progress=False)


def test_short_complete_files_still_load(tmp_path):
    short = write_tone(tmp_path / "short.wav", 22050, seconds=478 / 22050)
    assert audio.load(short)[0].shape == (478,)
    streamed = bytearray(write_tone(tmp_path / "s.wav", seconds=0.5).read_bytes())
    at = streamed.index(b"data") + 4
    streamed[at : at + 4] = b"\xff\xff\xff\xff"  # the size placeholder some streaming writers leave
    (tmp_path / "s.wav").write_bytes(bytes(streamed))
    assert audio.load(tmp_path / "s.wav")[0].shape == (8000,)


def test_truncated_flac_is_an_error_too(tmp_path):
    full = write_tone(tmp_path / "full.flac", seconds=1.0, fmt="FLAC").read_bytes()
    (tmp_path / "cut.flac").write_bytes(full[: len(full) // 2])
    with pytest.raises(AudioError, match=r"could not read .*cut\.flac.*check that the download finished"):
        audio.load(tmp_path / "cut.flac")


# --- 4. folder corpus transcripts and file names ----------------------------------------------


def bom(folder):
    write_utt(folder, "a", "\ufeffhello there")


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda f: write_utt(f, "a", "  \n"),
            ValueError,
            r"a\.txt is empty: write the words spoken in a\.wav",
        ),
        (lambda f: write_utt(f, "a", "café", encoding="latin-1"), ValueError, r"a\.txt is not UTF-8 .*UTF-8"),
        (lambda f: write_utt(f, "a", "hello", encoding="utf-16"), ValueError, r"a\.txt is not UTF-8 .*UTF-8"),
        (
            lambda f: write_utt(f, "a", "hi", encoding="utf-16-le"),
            ValueError,
            r"a\.txt holds NUL .*save it as",
        ),
        (
            lambda f: (write_utt(f, "a"), (f / "b.mp3").write_bytes(b"ID3"), (f / "b.txt").write_text("x")),
            ValueError,
            r"reads \.wav, \.flac, \.ogg files, and would leave out ann/b\.mp3 .*ffmpeg -i b\.mp3 b\.wav",
        ),
        (
            lambda f: (write_utt(f, "a"), write_utt(f, "a", suffix=".flac")),
            ValueError,
            r"a\.flac and .*a\.wav are two recordings with one name",
        ),
        (lambda f: write_tone(f / "a.wav"), FileNotFoundError, r"a\.wav has no transcript: expected a\.txt"),
        (
            lambda f: (f / "notes.md").write_text("x"),
            FileNotFoundError,
            r"no audio files \(\.wav, \.flac, \.ogg",
        ),
    ],
)
def test_folder_transcript_and_file_faults_name_the_file(tmp_path, make, error, message):
    folder = tmp_path / "c" / "train" / "ann"
    folder.mkdir(parents=True)
    make(folder)
    with pytest.raises(error, match=message) as info:
        corpus.load("folder", root=tmp_path / "c", split="train", progress=False)
    assert str(tmp_path / "c") in str(info.value)


def test_folder_transcript_bom_is_dropped(tmp_path):
    write_utt(tmp_path / "ann", "a", "\ufeffhello there\n")
    assert [u.text for u in corpus.load("folder", root=tmp_path, split="all", progress=False)] == [
        "hello there"
    ]


# --- 5. size is validated the same way for every real corpus ----------------------------------

SIZE_ROOTS = {
    "fsdd": (fsdd_layout, {"split": "test"}),
    "speech_commands": (speech_commands_layout, {}),
    "librispeech": (librispeech_layout, {"split": "dev"}),
    "folder": (speakers_only, {"split": "all"}),
}


@pytest.mark.parametrize("name", list(SIZE_ROOTS))
@pytest.mark.parametrize(
    ("size", "error", "message"),
    [
        (-1, ValueError, r"size must be a positive number of utterances or None \(all of them\), got -1"),
        (0, ValueError, r"size must be a positive number .* got 0"),
        ("2", TypeError, r"size must be a whole number of utterances or None .*got str '2'"),
        (1.0, TypeError, r"size must be a whole number .*got float 1\.0"),
        (True, TypeError, r"size must be a whole number .*got bool True"),
    ],
)
def test_bad_size_is_refused_for_every_real_corpus(tmp_path, name, size, error, message):
    layout, kwargs = SIZE_ROOTS[name]
    layout(tmp_path)
    with pytest.raises(error, match=message):
        corpus.load(name, root=tmp_path, size=size, progress=False, **kwargs)
    assert len(corpus.load(name, root=tmp_path, size=np.int64(1), progress=False, **kwargs)) == 1


def test_root_of_the_wrong_type_is_named(tmp_path):
    with pytest.raises(TypeError, match=r"root must be the path of a folder .*got 3"):
        corpus.load("fsdd", root=3)


# --- 12. audio arguments, formats that save cannot write, downloads ---------------------------


@pytest.mark.parametrize("path", [None, 3, np.zeros(3)])
def test_load_and_save_need_a_path(path):
    with pytest.raises(TypeError, match=r"audio\.load needs the path of an audio file"):
        audio.load(path)
    with pytest.raises(TypeError, match=r"audio\.save needs the path of an audio file"):
        audio.save(path, np.zeros(100, np.float32), 16000)


def ragged():
    return [[0.1, 0.2], [0.3]]


def grad_tensor():
    torch = pytest.importorskip("torch")
    return torch.zeros(1600, requires_grad=True)


@pytest.mark.parametrize(
    ("make", "fix"),
    [
        (ragged, r"a list of lists needs rows of equal length"),
        (grad_tensor, r"\.detach\(\)\.cpu\(\)\.numpy\(\)"),
    ],
)
@pytest.mark.parametrize(
    "call",
    [
        audio.check_audio,
        audio.to_mono,
        audio.normalize,
        lambda x: audio.resample(x, 16000, 8000),
        lambda x: audio.save("never.wav", x, 16000),
    ],
)
def test_arrays_numpy_cannot_read_get_an_audio_error_with_the_fix(make, fix, call):
    with pytest.raises(AudioError, match=r"audio cannot be read as an array of samples .*" + fix):
        call(make())


@pytest.mark.parametrize("suffix", [".mp3", ".m4a", ""])
def test_save_names_what_it_writes_and_how_to_convert(tmp_path, suffix):
    with pytest.raises(AudioError, match=r"writes \.wav, \.flac or \.ogg \(Vorbis\), not .*ffmpeg -i a\.wav"):
        audio.save(tmp_path / f"a{suffix}", np.zeros(100, np.float32), 16000)
    assert list(tmp_path.iterdir()) == []


def test_save_ogg_writes_vorbis_and_checks_the_subtype(tmp_path):
    x = 0.3 * np.sin(np.arange(16000) / 5).astype(np.float32)
    y, rate = audio.load(audio.save(tmp_path / "a.ogg", x, 16000))
    assert sf.info(tmp_path / "a.ogg").subtype == "VORBIS" and rate == 16000 and y.shape == x.shape
    assert np.corrcoef(x, y)[0, 1] > 0.99  # lossy, but the same sound
    with pytest.raises(AudioError, match=r"FLAC files cannot hold subtype 'FLOAT'; choose one of \["):
        audio.save(tmp_path / "b.flac", x, 16000, subtype="FLOAT")
    audio.save(tmp_path / "c.wav", x, 16000, subtype="FLOAT")
    assert sf.info(tmp_path / "c.wav").subtype == "FLOAT"


class _Server(http.server.BaseHTTPRequestHandler):
    """Serves ``files[path] = (body, declared length)``; a declared length above len(body) is a cut."""

    files: ClassVar[dict] = {}

    def do_GET(self):
        if self.path not in self.files:
            self.send_error(404)
            return
        body, length = self.files[self.path]
        self.send_response(200)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Server.files
    httpd.shutdown()
    httpd.server_close()
    _Server.files.clear()


@pytest.fixture
def archive(tmp_path):
    fsdd_layout(tmp_path / "fsdd-1.0")
    path = tmp_path / "fsdd-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(tmp_path / "fsdd-1.0", arcname="fsdd-1.0")
    return path.read_bytes()


def test_download_from_a_local_server_is_checked_and_unpacked(server, archive, tmp_path):
    base, files = server
    files["/fsdd-1.0.tar.gz"] = (archive, len(archive))
    sha = download.sha256_of(tmp_path / "fsdd-1.0.tar.gz")
    target = download.fetch("fsdd", f"{base}/fsdd-1.0.tar.gz", sha)
    assert len(corpus.load("fsdd", root=target, split="test", progress=False)) == 1


@pytest.mark.parametrize(
    ("serve", "reason"),
    [
        (None, r"could not connect to .*404"),
        (lambda a: (a[: len(a) // 2], len(a)), r"stopped after \d+ of \d+ bytes .*nothing was kept"),
        (lambda a: (a, len(a)), r"has SHA-256 [0-9a-f]{64}, expected 0{64} \(it was deleted\)"),
    ],
)
def test_failed_download_names_url_target_and_the_way_by_hand(server, archive, serve, reason):
    base, files = server
    if serve is not None:
        files["/fsdd-1.0.tar.gz"] = serve(archive)
    url = f"{base}/fsdd-1.0.tar.gz"
    with pytest.raises(corpus.CorpusUnavailableError, match=reason) as info:
        download.fetch("fsdd", url, "0" * 64)
    target = cache_dir("downloads") / "fsdd-1.0.tar.gz"
    message = str(info.value)
    assert f"download {url}" in message and f"put the archive at {target}" in message
    assert "root=PATH" in message and "corpus.load('embedded'" in message
    assert list(cache_dir("downloads").iterdir()) == []  # nothing half-written is kept
    assert list(cache_dir("corpus", "fsdd").iterdir()) == []
