"""Issue 22, Colab's warm start: the course cache packed into a verified archive, fetched from a local HTTP
server, refused whole when anything is wrong (nothing written, a one-line fallback message), and the
policy that lets the loaders fetch instead of training."""

import contextlib
import dataclasses
import functools
import hashlib
import io
import json
import socket
import sys
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from tiny_models import SIXTEEN_WIDE

import speechlm
from speechlm import cache_fetch, corpus, course_cache, label_efficiency, pretrained
from speechlm.cache_archive import ASSET, MANIFEST, CacheArchiveError, pack, verify
from speechlm.cache_fetch import default_url, fetch, fetch_enabled, fetch_if_enabled, try_fetch
from speechlm.cli import main
from speechlm.dev.course import tomllib
from speechlm.utils import atomic_write_bytes, find_cached

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"split": "test", "size": 3, "seed": 11}  # the corpus artefact of these tests: three utterances


@pytest.fixture(autouse=True)
def _clean_policy(monkeypatch):
    """No fetch policy, URL or shared cache leaks into or out of a test."""
    for variable in (cache_fetch.URL_ENV, cache_fetch.FETCH_ENV, "SPEECHLM_SHARED_CACHE"):
        monkeypatch.delenv(variable, raising=False)
    cache_fetch.set_fetch_policy("auto")
    yield
    cache_fetch.set_fetch_policy("auto")


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> tuple[str, bytes]:
    """The three-utterance corpus file, spoken once for the module: (path in the cache, bytes)."""
    root = tmp_path_factory.mktemp("spoken")
    with pytest.MonkeyPatch.context() as m:
        m.setenv("SPEECHLM_CACHE", str(root))
        corpus.load("embedded", progress=False, **SMALL)
    [path] = (root / "corpus" / "embedded").glob("*.npz")
    return path.relative_to(root).as_posix(), path.read_bytes()


def _build(root: Path, small_corpus) -> dict[str, bytes]:
    """A small course cache in ``root``: the real small corpus, and fake encoder, recogniser and curve
    files at the paths this package expects (the archive never loads them; the loaders would)."""
    files = {}
    for rel, (artefact, key) in course_cache.expected_files().items():
        data = small_corpus[1] if artefact == "corpus" else f"fake {artefact} {key}\n".encode() * 40
        atomic_write_bytes(root / rel, data)
        files[rel] = data
    return files


@pytest.fixture
def course(tmp_path, monkeypatch, small_corpus):
    """Packs a small built cache into ``www/`` (served by :func:`serving`); the learner's cache is
    empty. Yields a namespace: ``built`` (rel path -> bytes), ``archive``, ``www``, ``learner``."""
    monkeypatch.setattr(course_cache, "corpus_splits", lambda: [SMALL])
    assert small_corpus[0] in course_cache.expected_files(["corpus"])  # where corpus.load writes it
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "built"))
    built = _build(tmp_path / "built", small_corpus)
    archive = pack(tmp_path / "www" / ASSET, progress=False)
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "learner"))
    return dataclasses.make_dataclass("Course", ["built", "archive", "www", "learner"])(
        built, archive, tmp_path / "www", tmp_path / "learner"
    )


class _Handler(SimpleHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):
        _Handler.requests.append(self.path)
        super().do_GET()


@contextlib.contextmanager
def serving(folder: Path):
    """A ThreadingHTTPServer on 127.0.0.1 serving ``folder`` for at most 60 s; yields its URL."""
    _Handler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    deadline = threading.Timer(60, server.shutdown)
    deadline.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        deadline.cancel()
        server.shutdown()
        server.server_close()
        thread.join(5)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# ------------------------------------------------------------------------------------ packing


def test_a_pack_is_deterministic_and_its_manifest_lists_every_file(course, tmp_path, monkeypatch):
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "built"))
    for path in _files(tmp_path / "built"):  # new mtimes must not change the archive
        path.touch()
    again = pack(tmp_path / "again.tar", progress=False)
    assert again.read_bytes() == course.archive.read_bytes()
    with tarfile.open(again) as tar:
        members = tar.getmembers()
        manifest = json.loads(tar.extractfile(MANIFEST).read())
    assert [m.name for m in members] == [MANIFEST, *sorted(course.built)]
    assert {(m.mtime, m.uid, m.gid, m.mode, m.uname) for m in members} == {(0, 0, 0, 0o644, "")}
    assert manifest["format"] == 1 and manifest["version"] == speechlm.__version__
    assert manifest["recipes"] == course_cache.recipe_keys()
    assert manifest["recipes"]["encoder"] == pretrained.RECIPES["hubert"].key()
    for entry in manifest["files"]:
        data = course.built[entry["path"]]
        assert entry["size"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert (entry["artefact"], entry["recipe"]) == course_cache.expected_files()[entry["path"]]


def test_packing_an_unbuilt_cache_names_what_is_missing_and_the_fix(course, tmp_path):
    fix = "cache build --only corpus encoder asr curves`"
    with pytest.raises(
        CacheArchiveError, match=rf"4 file\(s\) of corpus encoder asr curves are not cached .*{fix}"
    ):
        pack(tmp_path / "x.tar", progress=False)  # the learner's cache is empty
    assert not (tmp_path / "x.tar").exists()


def test_the_cache_paths_are_where_the_curve_loaders_write(tmp_path, monkeypatch):
    """A guard: course_cache computes the curves' file names as label_efficiency does."""
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path))
    monkeypatch.setattr(pretrained, "load", lambda *a, **k: None)
    monkeypatch.setattr(label_efficiency, "digit_words", lambda *a, **k: ([], []))
    monkeypatch.setattr(label_efficiency, "shots_curve", lambda *a, **k: [])
    label_efficiency.load_shots_curve(progress=False)  # what notebook 12 calls
    written = {p.relative_to(tmp_path).as_posix() for p in _files(tmp_path)}
    assert written == set(course_cache.expected_files(["curves"]))


def test_the_default_url_is_the_release_asset_of_this_version_and_recipe(monkeypatch):
    repository = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    url = default_url()
    prefix = f"{repository}/releases/download/cache-{speechlm.__version__}-"
    assert (
        url.startswith(prefix) and url.endswith(f"/{ASSET}") and len(url) == len(prefix) + 8 + 1 + len(ASSET)
    )
    other = dataclasses.replace(pretrained.RECIPES["hubert"], version=99)
    monkeypatch.setitem(pretrained.RECIPES, "hubert", other)
    assert default_url() != url  # another recipe: another release


# ------------------------------------------------------------------------------------ fetching


def test_a_good_archive_is_fetched_verified_and_found_by_the_loaders(course, monkeypatch, capsys):
    with serving(course.www) as url:
        written = fetch(f"{url}/{ASSET}", progress=False)
        assert sorted(p.relative_to(course.learner).as_posix() for p in written) == sorted(course.built)
        for rel, data in course.built.items():
            assert (
                find_cached(*rel.split("/")) == course.learner / rel
                and (course.learner / rel).read_bytes() == data
            )
        assert find_cached("pretrained", pretrained.cache_path("hubert").name) is not None
        assert [p.name for p in _files(course.learner) if p.name.startswith(".")] == []  # no temporary file
        monkeypatch.setattr("speechlm.corpus.embedded._generate", lambda *a: pytest.fail("spoke again"))
        assert len(corpus.load("embedded", progress=False, **SMALL)) == 3  # read from the fetched cache

        asked = len(_Handler.requests)
        assert fetch(f"{url}/{ASSET}") == [] and try_fetch(f"{url}/{ASSET}") is True
        assert len(_Handler.requests) == asked  # everything cached: nothing downloaded


def test_a_file_already_cached_is_never_replaced(course):
    encoder = pretrained.cache_path("hubert")
    atomic_write_bytes(encoder, b"trained here")
    written = fetch(str(course.archive), progress=False)  # a local path is read in place
    assert encoder not in written and encoder.read_bytes() == b"trained here"
    assert len(written) == len(course.built) - 1 and course.archive.exists()


def test_pack_and_fetch_from_the_command_line(course, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "built"))
    out = tmp_path / "cli.tar"
    assert main(["cache", "pack", str(out), "--quiet"]) == 0
    assert out.read_bytes() == course.archive.read_bytes() and f"packed {out}" in capsys.readouterr().out
    monkeypatch.setenv("SPEECHLM_CACHE", str(course.learner))
    assert main(["cache", "fetch", str(out), "--quiet"]) == 0
    assert f"fetched and verified {len(course.built)} file(s)" in capsys.readouterr().out
    assert main(["cache", "fetch", str(out), "--quiet"]) == 0
    assert "everything is cached already" in capsys.readouterr().out


def _rewrite(course, *, manifest=None, extra=(), member=None) -> None:
    """Rewrite the served archive: ``manifest(m)`` edits the manifest, ``member(name, data)`` a
    member's bytes; ``extra`` adds (TarInfo, bytes, listed) members at the end."""
    with tarfile.open(course.archive) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    meta = json.loads(members[0][1])
    for info, data, listed in extra:
        if listed:
            sha = hashlib.sha256(data).hexdigest()
            meta["files"].append({"path": info.name, "size": len(data), "sha256": sha, "artefact": "corpus",
                                  "recipe": meta["recipes"]["corpus"]})  # fmt: skip
    if manifest:
        manifest(meta)
    members[0] = (members[0][0], json.dumps(meta).encode())
    with tarfile.open(course.archive, "w") as tar:
        for info, data in [*members, *((i, d) for i, d, _ in extra)]:
            data = member(info.name, data) if member else data
            if info.isreg():
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)


def _flip(course) -> None:
    with tarfile.open(course.archive) as tar:
        offset = tar.getmember(next(r for r in course.built if r.startswith("corpus/"))).offset_data + 100
    data = bytearray(course.archive.read_bytes())
    data[offset] ^= 0xFF
    course.archive.write_bytes(bytes(data))


def _another_recipe(course, monkeypatch) -> None:
    """An honest archive of an encoder trained with another recipe (and what depends on it)."""
    with monkeypatch.context() as m:
        m.setitem(pretrained.RECIPES, "hubert", dataclasses.replace(pretrained.RECIPES["hubert"], version=1))
        m.setenv("SPEECHLM_CACHE", str(course.www.parent / "other"))
        spoken = next(data for rel, data in course.built.items() if rel.startswith("corpus/"))
        _build(course.www.parent / "other", (None, spoken))
        pack(course.archive, progress=False)


def _link(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    return info


def _file(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    return info


def _size_plus_one(meta: dict) -> None:
    meta["files"][1]["size"] += 1


FAULTS = {  # what is wrong -> (make the served archive so, what the message must say)
    "a flipped byte in a member": (
        lambda c, mp: _flip(c),
        r"holds 'corpus/embedded/.*\.npz' with SHA-256 .* the archive is damaged",
    ),
    "a truncated archive": (
        lambda c, mp: c.archive.write_bytes(c.archive.read_bytes()[: c.archive.stat().st_size // 2]),
        r"truncated",
    ),
    "an encoder of another recipe": (
        _another_recipe,
        r"holds 'encoder' built from recipe 'hubert-v1-\w+', but this speechlm\s+builds 'hubert-v2-",
    ),
    "a path that escapes (../x)": (
        lambda c, mp: _rewrite(c, extra=[(_file("../x", 3), b"pwn", True)]),
        r"'\.\./x', refused: it escapes the cache folder",
    ),
    "an absolute path": (
        lambda c, mp: _rewrite(c, extra=[(_file("/tmp/x", 3), b"pwn", False)]),
        r"'/tmp/x', refused: it is absolute",
    ),
    "a symbolic link": (
        lambda c, mp: _rewrite(c, extra=[(_link("pretrained/link"), b"", False)]),
        r"'pretrained/link' as a symbolic link: only files are unpacked",
    ),
    "a member the manifest does not list": (
        lambda c, mp: _rewrite(c, extra=[(_file("results/extra.json", 2), b"{}", False)]),
        r"'results/extra.json' but its manifest does not list it",
    ),
    "a manifest that lies about a size": (
        lambda c, mp: _rewrite(c, manifest=_size_plus_one),
        r"of \d+ bytes, but its manifest says \d+",
    ),
    "another package series": (
        lambda c, mp: _rewrite(c, manifest=lambda m: m.update(version="9.0.0")),
        r"packed by speechlm 9\.0\.0, this is 0\.1\.\d+",
    ),
    "a manifest that is not JSON": (
        lambda c, mp: _rewrite(c, member=lambda n, d: b"{oops" if n == MANIFEST else d),
        r"the manifest of .* is not JSON",
    ),
    "not an archive at all": (
        lambda c, mp: c.archive.write_bytes(b"<html>gone</html>"),
        r"damaged or truncated",
    ),
    "no archive (404)": (lambda c, mp: c.archive.unlink(), r"no cache archive at http://.*\(HTTP 404"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_bad_archive_is_refused_whole_and_the_course_trains_instead(fault, course, monkeypatch, capsys):
    spoil, message = FAULTS[fault]
    spoil(course, monkeypatch)
    with serving(course.www) as url:
        with pytest.raises(CacheArchiveError, match=message):
            fetch(f"{url}/{ASSET}", progress=False)
        assert _files(course.learner) == []  # nothing written, no temporary file left
        assert try_fetch(f"{url}/{ASSET}", progress=False) is False
        [line] = capsys.readouterr().out.splitlines()
        assert line.startswith("speechlm: not using the course cache archive: ") and line.endswith(
            "; training locally instead"
        )
        assert main(["cache", "fetch", f"{url}/{ASSET}", "--quiet"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "trains the cache locally instead" in err
    assert _files(course.learner) == []


def test_no_server_is_a_one_line_fallback(course, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    url = f"http://127.0.0.1:{port}/{ASSET}"
    with pytest.raises(CacheArchiveError, match=rf"could not connect to {url} .*no network"):
        fetch(url, progress=False, timeout_s=5)
    assert try_fetch(url, progress=False) is False
    assert "training locally instead" in capsys.readouterr().out and _files(course.learner) == []


def test_verify_alone_writes_nothing(course):
    manifest = verify(course.archive)
    assert {e["path"] for e in manifest["files"]} == set(course.built) and _files(course.learner) == []


# ------------------------------------------------------------------------------------ the policy


def test_the_policy_is_off_here_and_on_for_colab_or_the_variable(tmp_path, monkeypatch):
    encoder = ("pretrained", pretrained.cache_path("hubert").name)
    assert fetch_enabled() is False and fetch_if_enabled(*encoder) is False  # not Colab: no network
    monkeypatch.setenv(cache_fetch.FETCH_ENV, "1")
    assert fetch_enabled() is True
    monkeypatch.setenv(cache_fetch.FETCH_ENV, "yes")
    with pytest.raises(ValueError, match=r"SPEECHLM_FETCH_CACHE must be 1 .* or 0 .*, got 'yes'"):
        fetch_enabled()
    monkeypatch.setenv(cache_fetch.FETCH_ENV, "0")
    speechlm.setup(seed=0, quiet=True, fetch_cache=True)  # an explicit choice beats the variable
    assert fetch_enabled() is True
    with pytest.raises(ValueError, match="fetch_cache must be 'auto', True or False, got 'sometimes'"):
        speechlm.setup(seed=0, quiet=True, fetch_cache="sometimes")
    with pytest.raises(ValueError, match="got 1"):
        cache_fetch.set_fetch_policy(1)

    cache_fetch.set_fetch_policy("auto")
    monkeypatch.delenv(cache_fetch.FETCH_ENV)
    (tmp_path / "google" / "colab").mkdir(parents=True)
    (tmp_path / "google" / "__init__.py").write_text("")
    (tmp_path / "google" / "colab" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert fetch_enabled() is True  # google.colab importable: Colab
    finally:
        sys.modules.pop("google", None)


def test_the_loaders_hook_fetches_once_per_process(course, monkeypatch, capsys):
    asr = ("pretrained", pretrained.asr_cache_path("ctc").name)
    speechlm.setup(seed=0, quiet=True, fetch_cache=True)
    with serving(course.www) as url:
        monkeypatch.setenv(cache_fetch.URL_ENV, f"{url}/missing.tar")
        assert fetch_if_enabled("pretrained", "tiny-v1-0123456789ab.pt") is False  # not in the archive
        assert _Handler.requests == []
        assert fetch_if_enabled(*asr) is False and fetch_if_enabled(*asr) is False
        assert len(_Handler.requests) == 1  # the failed attempt is not repeated by every loader
        assert "HTTP 404" in capsys.readouterr().out and _files(course.learner) == []

        speechlm.setup(seed=0, quiet=True, fetch_cache=True)  # a new policy: a new attempt
        monkeypatch.setenv(cache_fetch.URL_ENV, f"{url}/{ASSET}")
        assert fetch_if_enabled(*asr) is True and fetch_if_enabled("results", "x.json") is False
        assert _Handler.requests == ["/missing.tar", f"/{ASSET}"]
    assert find_cached(*asr) == pretrained.asr_cache_path("ctc")


def test_notebook_12s_curve_comes_from_the_archive_instead_of_being_computed(course, tmp_path, monkeypatch):
    """The wiring in label_efficiency: a missing curve with the fetch policy on is fetched, verified and
    read; nothing is trained (a valid curve file stands in for the fake one of the fixture)."""
    settings = label_efficiency.curve_settings("shots")
    name = label_efficiency.cache_name("shots", settings)
    rows = [{"shots": 1, "pretrained_accuracy": 0.5, "scratch_accuracy": 0.4}]
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "built"))
    atomic_write_bytes(
        tmp_path / "built" / "results" / name, json.dumps({"rows": rows, "settings": settings}).encode()
    )
    pack(course.www / ASSET, progress=False)
    monkeypatch.setenv("SPEECHLM_CACHE", str(course.learner))
    monkeypatch.setattr(label_efficiency, "shots_curve", lambda *a, **k: pytest.fail("computed the curve"))
    monkeypatch.setattr(pretrained, "load", lambda *a, **k: pytest.fail("loaded the encoder"))
    speechlm.setup(seed=0, quiet=True, fetch_cache=True)
    with serving(course.www) as url:
        monkeypatch.setenv(cache_fetch.URL_ENV, f"{url}/{ASSET}")
        assert label_efficiency.load_shots_curve(progress=False)["rows"] == rows
    assert find_cached("results", name) == course.learner / "results" / name


def test_the_shared_encoder_comes_from_the_archive_instead_of_being_trained(course, tmp_path, monkeypatch):
    """The wiring in pretrained: a missing encoder with the fetch policy on is fetched, verified and
    loaded; nothing is pretrained (a small real checkpoint stands in for the course's encoder)."""
    import torch

    from speechlm import ssl

    torch.manual_seed(0)
    small = ssl.SpeechEncoder(SIXTEEN_WIDE)
    state = {"encoder": small.state_dict(), "config": small.config.to_dict(), "info": {"accuracy": 0.5}}
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "built"))
    with io.BytesIO() as buffer:
        torch.save(state, buffer)
        atomic_write_bytes(pretrained.cache_path("hubert"), buffer.getvalue())
    pack(course.www / ASSET, progress=False)
    monkeypatch.setenv("SPEECHLM_CACHE", str(course.learner))
    monkeypatch.setattr(pretrained, "_pretrain_state", lambda *a, **k: pytest.fail("pretrained again"))
    speechlm.setup(seed=0, quiet=True, fetch_cache=True)
    with serving(course.www) as url:
        monkeypatch.setenv(cache_fetch.URL_ENV, f"{url}/{ASSET}")
        encoder = pretrained.load("hubert", progress=False)
    for name, value in small.state_dict().items():
        assert torch.equal(encoder.state_dict()[name], value), name
    assert pretrained.load_info("hubert") == {"accuracy": 0.5}
