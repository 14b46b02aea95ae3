"""Bad input to the embedded corpus, synthesis, augmentation and the corpus CLI: a clear error, never silence.

Each fault is raised where the bad value enters, names the argument (or the
characters, or the file) and says what is allowed; the eSpeak servers die with
the process that started them, even when it is killed with SIGKILL.
"""

import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from speechlm import augment, corpus
from speechlm.audio import AudioError
from speechlm.corpus import augment as corpus_augment
from speechlm.corpus import espeak, espeak_server, grammar, synthesis
from speechlm.corpus.__main__ import main as corpus_main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "cache"))


# --- synthesize: what the English voices can speak -----------------------------------------------


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("你好世界", ["'你' (U+4F60 CJK UNIFIED IDEOGRAPH-4F60)", "'界'", "English", "labels['zh']"]),
        ("turn on the 灯", ["'灯' (U+706F", "Latin alphabet"]),
        ("Привет", ["CYRILLIC CAPITAL LETTER PE", "English"]),
        ("call ١٢", ["ARABIC-INDIC DIGIT ONE"]),
        ("...", ["nothing to speak", "no letter or digit"]),
        ("?! -", ["nothing to speak"]),
        ("hello\x00world", ["'\\x00' (U+0000 a control character)", "remove them"]),
        ("bell\x07", ["U+0007"]),
        ("zero\u200bwidth", ["U+200B ZERO WIDTH SPACE"]),
        ("", ["non-empty string"]),
        ("   ", ["non-empty string"]),
        (42, ["non-empty string", "42"]),
    ],
)
def test_synthesize_refuses_text_english_espeak_cannot_speak(text, needles):
    with pytest.raises(ValueError) as info:
        corpus.synthesize(text)
    for needle in needles:
        assert needle in str(info.value)


def test_synthesize_many_and_a_raw_espeak_request_refuse_too():
    bad = [("fine", corpus.speakers("train")[0], {}, "a"), ("你好", corpus.speakers("train")[0], {}, "b")]
    with pytest.raises(ValueError, match=r"U\+4F60"):
        list(synthesis.synthesize_many(bad))
    with pytest.raises(ValueError, match=r"U\+0000"):  # eSpeak would stop speaking at the NUL
        espeak.Request("hello\x00world")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("café naïve", ["café", "naïve"]),
        ("line one\nline\ttwo", ["line", "one", "line", "two"]),
        ("say \u201chello\u201d", ["say", "hello"]),  # curly quotes do not stick to the word
    ],
)
def test_english_with_accents_whitespace_and_quotes_is_spoken(text, words):
    utt = corpus.synthesize(text)
    assert [w for w, _, _ in utt.words] == words
    assert all(0 <= s < e <= utt.duration_s for _, s, e in utt.words)


# --- corpus.load("embedded", ...) and the grammar: size, seed, noise, reverb ---------------------


@pytest.mark.parametrize(
    ("kwargs", "needles"),
    [
        ({"noise_snr_db": "10"}, ["noise_snr_db must be a number of dB in -20..80", "str '10'"]),
        ({"noise_snr_db": 1e6}, ["noise_snr_db must be in -20..80 dB", "got 1000000.0", "16-bit"]),
        ({"noise_snr_db": -1e6}, ["noise_snr_db must be in -20..80 dB", "drowns"]),
        ({"noise_snr_db": math.nan}, ["noise_snr_db must be a finite number", "nan"]),
        ({"noise_snr_db": math.inf}, ["noise_snr_db must be a finite number", "inf"]),
        ({"noise_snr_db": True}, ["noise_snr_db must be a number of dB", "bool True"]),
        ({"size": 0}, ["size must be a positive integer, got 0"]),
        ({"size": -5}, ["size must be a positive integer, got -5"]),
        ({"size": "10"}, ["size must be an integer, got str '10'"]),
        ({"size": 10.0}, ["size must be an integer, got float 10.0", "pass size=10"]),
        ({"size": True}, ["size must be an integer, got bool"]),
        ({"size": 10**9}, ["size must be at most 50,000, got 1,000,000,000", "memory", "distinct"]),
        ({"seed": -1}, ["seed must be a non-negative integer", "-1"]),
        ({"seed": 1.5}, ["seed must be a non-negative integer", "float 1.5"]),
        ({"reverb": "yes"}, ["reverb must be True or False", "str 'yes'"]),
    ],
)
def test_load_embedded_refuses_bad_arguments_before_any_work(kwargs, needles, tmp_path):
    with pytest.raises(ValueError) as info:
        corpus.load("embedded", **{"split": "dev", "size": 3, "progress": False, **kwargs})
    for needle in needles:
        assert needle in str(info.value)
    assert not (tmp_path / "cache").exists()  # nothing generated, nothing cached


def test_the_largest_allowed_size_passes_the_check(monkeypatch):
    from speechlm.corpus import embedded

    seen = []
    monkeypatch.setattr(embedded, "_generate", lambda *args: seen.append(args[1]) or [])
    assert corpus.load("embedded", size=embedded.MAX_SIZE, cache=False, progress=False) == []
    assert seen == [50_000]


@pytest.mark.parametrize(
    ("call", "needles"),
    [
        (lambda: grammar.sample_texts(size=10**7), ["size must be at most 1,000,000", "distinct sentences"]),
        (lambda: grammar.sample_texts(size=-1), ["size must be a non-negative integer, got -1"]),
        (lambda: grammar.sample_texts(size=2.5), ["size must be an integer, got float 2.5"]),
        (lambda: grammar.sample_texts(seed=-3), ["seed must be a non-negative integer"]),
        (lambda: grammar.sample_scenes(size="3"), ["size must be an integer, got str '3'"]),
        (lambda: grammar.sample_scenes(size=-2), ["size must be a non-negative integer"]),
        (lambda: grammar.sample_scenes(seed=0.5), ["seed must be a non-negative integer"]),
    ],
)
def test_grammar_refuses_bad_sizes_and_seeds(call, needles):
    with pytest.raises(ValueError) as info:
        call()
    for needle in needles:
        assert needle in str(info.value)


# --- augmentation: the SNR at every public entrance ----------------------------------------------

SPEECH = (0.1 * np.sin(np.arange(4000) * 0.05)).astype(np.float32)


@pytest.mark.parametrize("value", ["10", 1e6, -1e6, math.nan, math.inf, -math.inf, 81, -20.5, None])
@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda v: augment.add_noise(SPEECH, v, rng=0), "snr_db"),
        (lambda v: augment.noisy_utterances([], v), "snr_db"),
        (lambda v: corpus_augment.augment(SPEECH, np.random.default_rng(0), noise_snr_db=v), "noise_snr_db"),
    ],
)
def test_every_snr_entrance_names_the_argument_the_value_and_the_range(call, name, value):
    if value is None and name == "noise_snr_db":  # there None means clean audio
        np.testing.assert_array_equal(call(value), SPEECH)
        return
    with pytest.raises(ValueError) as info:
        call(value)
    message = str(info.value)
    assert message.startswith(f"{name} must be") and "-20..80" in message and repr(value) in message


@pytest.mark.parametrize("snr", [-20, 80])
def test_the_ends_of_the_snr_range_are_allowed_and_exact(snr):
    quiet = SPEECH / 100  # so that the noise at -20 dB stays inside [-1, 1]
    noisy = augment.add_noise(quiet, snr, rng=0)
    assert augment.snr_db(quiet, noisy) == pytest.approx(snr, abs=1e-3)  # float32 rounding at 80 dB


def test_corpus_noise_leaves_a_silent_clip_silent():
    silence = np.zeros(400, np.float32)
    np.testing.assert_array_equal(
        corpus_augment.augment(silence, np.random.default_rng(0), noise_snr_db=10), silence
    )
    with pytest.raises(AudioError, match="silent"):  # alone, the SNR of silence is undefined
        augment.add_noise(silence, 10, rng=0)


def test_corpus_augment_refuses_a_reverb_that_is_not_a_bool():
    with pytest.raises(ValueError, match="reverb must be True or False, got int 1"):
        corpus_augment.augment(SPEECH, np.random.default_rng(0), reverb=1)


# --- the corpus CLI: error: ... on stderr, exit status 2, no traceback, no file -------------------


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["say", "", "{tmp}/out.wav"], ["text must be a non-empty string"]),
        (["say", "你好", "{tmp}/out.wav"], ["U+4F60", "English"]),
        (["say", "hello", "{tmp}/out.mp3"], ["cannot write", "out.mp3", ".wav or .flac", "out.wav"]),
        (["say", "hello", "{tmp}/out"], ["a name without a suffix"]),
        (["say", "hello", "{tmp}/missing/out.wav"], ["missing does not exist", "create it"]),
        (["say", "hello", "{tmp}/out.wav", "--speaker", "nobody"], ["not a speaker id: 'nobody'"]),
        (["build", "--size", "0"], ["size must be a positive integer, got 0"]),
        (["build", "--size", "1000000"], ["size must be at most 50,000"]),
        (["build", "--tasks", "jokes"], ["tasks must be a non-empty list drawn from", "jokes"]),
        (["build", "--tasks"], ["tasks must be a non-empty list"]),
        (["info", "--examples", "-1"], ["size must be a non-negative integer"]),
    ],
)
def test_cli_prints_an_error_and_exits_2(argv, needles, tmp_path, capsys):
    assert corpus_main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    for needle in needles:
        assert needle in err
    assert not list(tmp_path.glob("out*")) and not (tmp_path / "cache").exists()


def test_cli_as_a_command_prints_no_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "speechlm", "corpus", "say", "", str(tmp_path / "out.wav")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == "error: text must be a non-empty string, got ''\n"


def _as_nobody() -> list[str]:
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.mark.skipif(shutil.which("setpriv") is None or os.geteuid() != 0, reason="needs root and setpriv")
def test_cli_reports_an_unwritable_folder():
    top = Path(tempfile.mkdtemp())  # in /tmp, which every user can reach (pytest's tmp_path is root's only)
    try:
        top.chmod(0o755)
        folder = top / "read_only"
        folder.mkdir(mode=0o555)
        probe = subprocess.run([*_as_nobody(), "touch", str(folder / "probe")], capture_output=True)
        if probe.returncode == 0:
            pytest.skip("the unprivileged user can write the folder anyway")
        command = [sys.executable, "-m", "speechlm", "corpus", "say", "hello", str(folder / "out.wav")]
        done = subprocess.run([*_as_nobody(), *command], capture_output=True, text=True, cwd=REPO, timeout=60)
        assert done.returncode == 2, done.stderr
        assert done.stderr == (
            f"error: cannot write {folder / 'out.wav'}: Permission denied; choose a folder you can write to\n"
        )
        assert not list(folder.iterdir())
    finally:
        shutil.rmtree(top)


# --- the eSpeak servers die with their parent ------------------------------------------------------


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its new parent to reap it counts as dead)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "Z" not in state.split()[1]


CLIENT = """
import os, sys, threading, time
from speechlm import corpus
from speechlm.corpus import espeak
worker = threading.Thread(target=corpus.synthesize, args=("hello there",))
worker.start()  # the servers start from a short-lived thread, which then ends
worker.join()
corpus.synthesize("still served")
holder = os.fork()  # a child that keeps the servers' input pipes open, as a forked worker would
if holder == 0:
    time.sleep(30)
    os._exit(0)
print(holder, *(server.proc.pid for server in espeak._POOL.idle), flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_servers_die_when_their_parent_is_killed(tmp_path):
    script = tmp_path / "client.py"
    script.write_text(textwrap.dedent(CLIENT))
    client = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    holder = None
    try:
        holder, *servers = (int(pid) for pid in client.stdout.readline().split())
        assert len(servers) >= 1 and all(_alive(pid) for pid in servers)
        os.kill(client.pid, signal.SIGKILL)
        client.wait(timeout=10)
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in servers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in servers if _alive(pid)], "eSpeak servers outlived their parent"
    finally:
        client.kill()
        client.stdout.close()
        if holder is not None:
            os.kill(holder, signal.SIGKILL)


def test_servers_started_from_a_short_lived_thread_keep_serving():
    espeak.close()
    worker = threading.Thread(target=corpus.synthesize, args=("first",))
    worker.start()
    worker.join()
    pids = [server.proc.pid for server in espeak._POOL.idle]
    assert corpus.synthesize("second").words[0][0] == "second"
    assert [server.proc.pid for server in espeak._POOL.idle] == pids  # the same servers, still alive
    espeak.close()


def test_a_server_whose_parent_is_already_gone_exits_at_once():
    library, data = espeak._paths()
    not_my_parent = "1" if os.getpid() != 1 else "2"
    server = subprocess.Popen(
        [sys.executable, "-I", espeak_server.__file__, library, data, not_my_parent],
        stdin=subprocess.PIPE,  # held open: only the parent check can end it
        stdout=subprocess.PIPE,
    )
    try:
        assert server.wait(timeout=10) == 0
    finally:
        server.kill()
        server.stdin.close()
        server.stdout.close()


def test_a_server_waiting_for_a_request_notices_its_parent_is_gone():
    read_end, write_end = os.pipe()
    try:
        start = time.monotonic()
        assert espeak_server.read_exactly(read_end, 4, parent_pid=-1) == b""  # -1 is nobody's pid
        assert time.monotonic() - start < 2 * espeak_server.PARENT_CHECK_S + 0.5
    finally:
        os.close(read_end)
        os.close(write_end)
