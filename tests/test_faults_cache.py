"""Issue 16, the caches: damaged files are reported and rebuilt, writes are atomic, durable and readable
by a class, a bad cache folder gets a clear error, and students read a shared cache without writing it."""

import errno
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_models import CACHED

from speechlm import corpus, course_cache, pretrained, utils
from speechlm.cli import main
from speechlm.corpus import cache
from speechlm.ssl.pretrain import HubertRecipe
from speechlm.train import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
NOBODY = 65534
TINY = pretrained.PretrainedRecipe(
    "tiny-faults",
    version=1,
    hubert=HubertRecipe(
        encoder=CACHED,
        n_utterances=6, n_clusters=4, steps=4, iteration2_steps=2, iteration2_layer=1, batch_size=3,
        warmup_steps=2,
    ),
)  # fmt: skip
SMALL = {"split": "test", "size": 2, "seed": 5}  # a corpus of two utterances: about a second to speak


def _tones() -> list[np.ndarray]:
    """Six short synthetic "utterances" (tones with noise), the tiny encoder's training audio."""
    rng = np.random.default_rng(0)
    t = np.arange(16_000) / 16_000
    tones = [np.sin(2 * np.pi * f * t) * 0.3 + 0.01 * rng.standard_normal(t.size) for f in (200, 300, 450)]
    return [tone.astype(np.float32)[: 8000 + 900 * i] for i, tone in enumerate(tones + tones)]


@pytest.fixture
def user_cache(tmp_path, monkeypatch):
    """A fresh writable cache and no shared one."""
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SPEECHLM_SHARED_CACHE", raising=False)
    return tmp_path / "cache"


@pytest.fixture
def trainings(user_cache, monkeypatch):
    """Counts the tiny encoder's trainings (its audio is six tones instead of the corpus)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    calls = []

    def fake_audio(recipe):
        calls.append(recipe.name)
        return _tones()

    monkeypatch.setattr(pretrained, "_training_audio", fake_audio)
    yield calls
    torch.set_num_threads(threads)


def _corpus_file(root: Path) -> Path:
    [path] = (root / "corpus" / "embedded").glob("*.npz")
    return path


def _same_utterances(a, b) -> None:
    assert [u.id for u in a] == [u.id for u in b] and [u.text for u in a] == [u.text for u in b]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.audio, y.audio)


# ------------------------------------------------------------------ damaged files are rebuilt


def _rewrite_npz(path: Path, **changes) -> None:
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(changes)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


CORPUS_DAMAGE = {
    "zero bytes": lambda p: p.write_bytes(b""),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "garbage": lambda p: p.write_bytes(b"not a corpus at all" * 10),
    "a .npy array": lambda p: p.write_bytes(_npy_bytes()),
    "bad JSON": lambda p: _rewrite_npz(p, meta=np.frombuffer(b"{not json", np.uint8)),
    "wrong shapes": lambda p: _rewrite_npz(p, offsets=np.array([0, 5], np.int64)),
    "failed CRC": lambda p: p.write_bytes(_flip_a_data_byte(p.read_bytes())),
}


def _npy_bytes() -> bytes:
    """A valid ``.npy`` file (one array), which np.load reads as an array, not an archive."""
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    return buffer.getvalue()


def _flip_a_data_byte(data: bytes) -> bytes:
    """The zip with one byte of its audio changed: intact structure, wrong CRC-32."""
    offset = data.index(b"audio.npy") + 200
    return data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1 :]


@pytest.mark.parametrize("damage", list(CORPUS_DAMAGE))
def test_a_damaged_corpus_file_is_named_and_rebuilt(user_cache, damage):
    fresh = corpus.load("embedded", progress=False, **SMALL)
    path = _corpus_file(user_cache)
    CORPUS_DAMAGE[damage](path)
    with pytest.warns(utils.CacheWarning, match=re.escape(str(path)) + ".* rebuilding it"):
        rebuilt = corpus.load("embedded", progress=False, **SMALL)
    _same_utterances(rebuilt, fresh)
    _same_utterances(cache.read(path, corpus.generator_version()), fresh)  # the file is whole again


ENCODER_DAMAGE = {
    "zero bytes": lambda p: p.write_bytes(b""),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "garbage": lambda p: p.write_bytes(b"\x80\x02garbage, not a checkpoint" * 10),
    "another dict": lambda p: torch.save({"weights": torch.zeros(2)}, p),
    "wrong shapes": lambda p: torch.save(
        {**torch.load(p, weights_only=True), "config": {**torch.load(p, weights_only=True)["config"],
                                                         "d_model": 16}}, p),
}  # fmt: skip


@pytest.mark.parametrize("damage", list(ENCODER_DAMAGE))
def test_a_damaged_encoder_is_named_and_trained_again(trainings, damage):
    fresh = pretrained.load(TINY, progress=False).state_dict()
    path = pretrained.cache_path(TINY)
    ENCODER_DAMAGE[damage](path)
    with pytest.warns(utils.CacheWarning, match=re.escape(str(path)) + ".* training it again") as record:
        again = pretrained.load(TINY, progress=False).state_dict()
    assert "weights_only" not in str(record[0].message)
    assert trainings == ["tiny-faults", "tiny-faults"]
    for name in fresh:
        torch.testing.assert_close(again[name], fresh[name], rtol=0, atol=0, msg=name)
    assert set(pretrained.load_info(TINY)) == {"accuracy_it1", "accuracy_it2", "time_s"}
    assert trainings == ["tiny-faults", "tiny-faults"]  # the rebuilt file reads without training


def test_load_info_reports_and_rebuilds_a_damaged_encoder(trainings):
    pretrained.load(TINY, progress=False)
    path = pretrained.cache_path(TINY)
    path.write_bytes(b"")
    with pytest.warns(utils.CacheWarning, match=re.escape(str(path))):
        info = pretrained.load_info(TINY)
    assert set(info) == {"accuracy_it1", "accuracy_it2", "time_s"} and len(trainings) == 2


def test_a_damaged_recogniser_is_named_and_fine_tuned_again(trainings, monkeypatch):
    from speechlm import finetune

    monkeypatch.setitem(pretrained.RECIPES, TINY.name, TINY)
    recipe = pretrained.ASRRecipe(
        "tiny-faults-asr", version=1, encoder=TINY.name,
        finetune=finetune.FinetuneConfig(steps=2, batch_size=2, warmup_steps=1, eval_every=2),
    )  # fmt: skip
    clips = _tones()[:3]
    fine_tunings = []

    def fake_labelled(recipe, vocab):
        fine_tunings.append(recipe.name)
        utts = [
            type("U", (), {"audio": a, "sample_rate": 16_000, "text": w})
            for a, w in zip(clips, "abc", strict=True)
        ]
        items = finetune.prepare(utts, vocab)
        return items, items[:1]

    monkeypatch.setattr(pretrained, "_labelled", fake_labelled)
    first = pretrained.load_asr(recipe, progress=False).transcribe(clips)
    path = pretrained.asr_cache_path(recipe)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(utils.CacheWarning, match=re.escape(str(path)) + ".* training it again"):
        again = pretrained.load_asr(recipe, progress=False)
    assert again.transcribe(clips) == first and len(fine_tunings) == 2 and len(trainings) == 1


@pytest.mark.parametrize("damage", ["zero bytes", "truncated", "garbage"])
def test_a_damaged_checkpoint_is_an_error_naming_it_never_replaced(tmp_path, damage):
    model = torch.nn.Linear(2, 2)
    path = tmp_path / "model.pt"
    torch.save({"model": model.state_dict(), "optimizer": {}, "step": 1}, path)
    ENCODER_DAMAGE[damage](path)
    damaged = path.read_bytes()
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".* damaged.*train again") as error:
        load_checkpoint(path, model)
    assert "weights_only" not in str(error.value)
    assert path.read_bytes() == damaged  # the learner's own file: reported, not rebuilt


# ------------------------------------------------------------------ atomic, durable, readable writes


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002], ids=["022", "077", "002"])
def test_files_get_the_mode_the_umask_gives(tmp_path, umask):
    before = os.umask(umask)
    try:
        utils.atomic_write_bytes(tmp_path / "a.bin", b"x")
        with utils.atomic_path(tmp_path / "b.npz") as tmp, open(tmp, "wb") as f:  # as np.savez writes
            np.savez(f, x=np.zeros(2))
    finally:
        os.umask(before)
    for name in ("a.bin", "b.npz"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name


def test_the_file_is_flushed_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(src)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "f.bin"
    utils.atomic_write_bytes(target, b"data")
    assert [e[0] for e in events] == ["fsync", "replace", "fsync"]
    assert events[0][1] == events[1][1] != str(target)  # the temporary file, flushed before the rename
    assert events[2][1] == str(tmp_path)
    assert target.read_bytes() == b"data"


def test_a_read_only_file_system_is_a_clear_error(user_cache, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    path = utils.cache_dir("results") / "x.json"
    with pytest.raises(PermissionError, match=re.escape(str(path)) + ": the file system is read-only.*"
                       "SPEECHLM_CACHE.*SPEECHLM_SHARED_CACHE"):  # fmt: skip
        utils.atomic_write_text(path, "{}")


def test_cache_variable_naming_a_file_is_a_clear_error(tmp_path, monkeypatch):
    a_file = tmp_path / "cache.txt"
    a_file.write_text("")
    monkeypatch.setenv("SPEECHLM_CACHE", str(a_file))
    message = re.escape(f"{a_file} (SPEECHLM_CACHE={a_file}) is a file, not a folder") + ".*point SPEECHLM"
    with pytest.raises(NotADirectoryError, match=message):
        utils.cache_dir("corpus")
    with pytest.raises(NotADirectoryError, match=message):
        corpus.load("embedded", progress=False, **SMALL)


def test_a_missing_shared_cache_folder_is_a_clear_error(user_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("SPEECHLM_SHARED_CACHE", str(tmp_path / "typo"))
    with pytest.raises(FileNotFoundError, match=r"SPEECHLM_SHARED_CACHE names .*typo.*unset it"):
        utils.find_cached("pretrained", "x.pt")


def test_loading_without_the_cache_creates_no_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "cache"))
    assert len(corpus.load("embedded", progress=False, cache=False, **SMALL)) == 2
    assert not (tmp_path / "cache").exists()


# ------------------------------------------------------------------ a class: shared read-only cache


def _unprivileged() -> list[str]:
    """The command prefix that runs a process as user ``nobody``, or skip."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run a process as an unprivileged user")
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


@pytest.fixture
def classroom():
    """A world-readable folder outside pytest's private tmp folder, for two users to share."""
    folder = Path(tempfile.mkdtemp(prefix="speechlm-class-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def _run_as_nobody(script: str, env: dict, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, **env, "HOME": str(home), "MPLCONFIGDIR": str(home / "mpl")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    command = [*_unprivileged(), sys.executable, "-c", textwrap.dedent(script)]
    return subprocess.run(command, env=env, capture_output=True, text=True, cwd=home, timeout=120)


def test_an_unwritable_cache_or_unreadable_file_is_a_clear_error(classroom):
    prefix = _unprivileged()
    (classroom / "shared" / "pretrained").mkdir(parents=True)
    (classroom / "shared" / "pretrained" / "private.pt").write_bytes(b"")
    (classroom / "shared" / "pretrained" / "private.pt").chmod(0o600)
    home = classroom / "home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    script = """
        from speechlm import utils
        results = utils.cache_dir(create=False) / "results"
        for attempt in (lambda: utils.atomic_write_text(results / "r.json", ""),
                        lambda: utils.cache_dir("corpus"),
                        lambda: utils.find_cached("pretrained", "private.pt")):
            try:
                attempt()
            except PermissionError as error:
                print(error)
    """
    env = {"SPEECHLM_CACHE": str(classroom / "shared"), "SPEECHLM_SHARED_CACHE": str(classroom / "shared")}
    run = _run_as_nobody(script, env, home)
    assert prefix and run.returncode == 0, run.stderr
    not_writable, no_folder, unreadable = run.stdout.splitlines()
    fix = (
        rf"the course cache {classroom}/shared \(SPEECHLM_CACHE=.*\) must be writable: "
        r"set SPEECHLM_CACHE to a folder you can write .*SPEECHLM_SHARED_CACHE"
    )
    assert re.search(
        rf"cannot write {classroom}/shared/results/r\.json: permission denied; {fix}", not_writable
    )
    assert re.search(rf"cannot write {classroom}/shared/corpus: permission denied; {fix}", no_folder)
    assert f"{classroom}/shared/pretrained/private.pt exists but you may not read it" in unreadable
    assert f"chmod -R a+rX {classroom}/shared" in unreadable


@pytest.mark.slow  # a subprocess run as nobody imports torch (10-20 s on a busy 2-core machine)
def test_students_read_the_shared_cache_and_write_only_their_own(classroom, trainings, monkeypatch):
    shared, home = classroom / "shared", classroom / "student"
    monkeypatch.setenv("SPEECHLM_CACHE", str(shared))
    before = os.umask(0o022)
    try:  # the instructor builds the cache
        reference = corpus.load("embedded", progress=False, **SMALL)
        pretrained.load(TINY, progress=False)
    finally:
        os.umask(before)
    built = {p: p.stat().st_mtime_ns for p in shared.rglob("*")}
    assert all(p.stat().st_mode & stat.S_IROTH for p in built)
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    script = f"""
        import json, sys
        from dataclasses import replace

        import torch
        from speechlm import corpus, pretrained
        from speechlm.corpus import embedded

        sys.path.insert(0, {str(ROOT / "tests")!r})
        from test_faults_cache import SMALL, TINY, _tones

        torch.set_num_threads(1)

        def forbidden(*args, **kwargs):
            raise AssertionError("built what the shared cache holds")

        embedded._generate = pretrained._training_audio = forbidden
        utts = corpus.load("embedded", progress=False, **SMALL)
        encoder = pretrained.load(TINY, progress=False)
        pretrained._training_audio = lambda recipe: _tones()
        pretrained.load(replace(TINY, name="tiny-student"), progress=False)  # new: into the own cache
        print(json.dumps({{"ids": [u.id for u in utts], "sums": [float(u.audio.sum()) for u in utts],
                          "weights": float(sum(p.sum() for p in encoder.state_dict().values()))}}))
    """
    env = {"SPEECHLM_CACHE": str(home / "cache"), "SPEECHLM_SHARED_CACHE": str(shared)}
    run = _run_as_nobody(script, env, home)
    assert run.returncode == 0, run.stderr
    *announced, last = run.stdout.strip().splitlines()
    assert (
        len(announced) == 1 and "'tiny-student' is not in the cache yet" in announced[0]
    )  # only the new one
    seen = json.loads(last)
    assert seen["ids"] == [u.id for u in reference]
    assert seen["sums"] == pytest.approx([float(u.audio.sum()) for u in reference], abs=0)
    weights = pretrained.load(TINY, progress=False).state_dict().values()
    assert seen["weights"] == pytest.approx(float(sum(p.sum() for p in weights)), abs=0)
    assert {p: p.stat().st_mtime_ns for p in shared.rglob("*")} == built  # the shared cache is untouched
    own = [p.relative_to(home / "cache") for p in (home / "cache").rglob("*") if p.is_file()]
    assert len(own) == 1 and own[0].parts[0] == "pretrained" and own[0].name.startswith("tiny-student-")
    assert trainings == ["tiny-faults"]  # built once, by the instructor


# ------------------------------------------------------------------ python -m speechlm cache


def test_cache_build_and_info_from_the_command_line(user_cache, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(course_cache, "corpus_splits", lambda: [SMALL])
    before = os.umask(0o022)
    try:
        assert main(["cache", "build", "--only", "corpus"]) == 0
    finally:
        os.umask(before)
    out = capsys.readouterr().out
    path = _corpus_file(user_cache)
    assert "[1/1] corpus: embedded-corpus splits" in out and "[1/1] corpus: built 1 file(s)" in out
    assert f"writable cache {user_cache} (SPEECHLM_CACHE): 1 file(s)" in out and path.name in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    fresh = corpus.load("embedded", cache=False, progress=False, **SMALL)
    _same_utterances(cache.read(path, corpus.generator_version()), fresh)
    assert course_cache.build(["corpus"], progress=False) == []  # already cached: nothing written

    monkeypatch.setenv("SPEECHLM_SHARED_CACHE", str(user_cache))
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "student"))
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert "(does not exist yet): 0 file(s)" in out and f"shared cache {user_cache}" in out
    assert course_cache.build(["corpus"], progress=False) == []  # found in the shared cache
    assert not (tmp_path / "student" / "corpus").exists()

    monkeypatch.delenv("SPEECHLM_SHARED_CACHE")
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "private"))
    before = os.umask(0o077)
    try:
        assert main(["cache", "build", "--only", "corpus"]) == 0
    finally:
        os.umask(before)
    out = capsys.readouterr().out
    assert "note: 1 file(s) are not readable by other users" in out
    assert f"chmod -R a+rX {tmp_path / 'private'}" in out and "[not readable by other users]" in out

    assert main(["cache", "build", "--only", "encodr"]) == 2
    assert "unknown artefact 'encodr': did you mean 'encoder'?" in capsys.readouterr().err
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "a-file"))
    assert main(["cache", "info"]) == 1
    assert "is a file, not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["cache", "rebuild"])


def test_the_corpus_artefact_covers_what_the_shared_artefacts_load():
    splits = course_cache.corpus_splits()
    assert {"split": "train", "size": pretrained.RECIPES["hubert"].hubert.n_utterances, "seed": 0} in splits
    assert {"split": "dev", "size": pretrained.ASR_RECIPES["ctc"].n_dev, "seed": 0} in splits
    assert {"split": "test", "size": 120, "seed": 0} in splits  # notebook 12's test set
    assert len(splits) == len({json.dumps(s, sort_keys=True) for s in splits})
    assert list(course_cache.ARTEFACTS) == ["corpus", "encoder", "asr", "curves"]
