import os
import subprocess
import sys

import espeakng_loader

from speechlm.cli import main


def test_corpus_commands_are_reachable_from_the_main_cli(capsys):
    assert main(["corpus", "info", "--examples", "1"]) == 0
    assert "phones (40)" in capsys.readouterr().out


def test_a_system_espeak_can_replace_the_wheel(tmp_path):
    env = dict(os.environ, SPEECHLM_CACHE=str(tmp_path))
    env["SPEECHLM_ESPEAK_LIBRARY"] = espeakng_loader.get_library_path()
    env["SPEECHLM_ESPEAK_DATA"] = espeakng_loader.get_data_path()
    code = "from speechlm import corpus; print(len(corpus.synthesize('hello there').words))"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "2", run.stderr
    env["SPEECHLM_ESPEAK_DATA"] = str(tmp_path)
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode != 0 and "is not an espeak-ng-data folder" in run.stderr


def test_only_cache_pack_and_fetch_take_a_target(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SPEECHLM_SHARED_CACHE", raising=False)
    assert main(["cache", "info", "extra"]) == 2
    assert "cache info: takes no argument 'extra' (only pack and fetch do)" in capsys.readouterr().err
    assert main(["cache", "pack", str(tmp_path / "x.tar"), "--only", "encoder", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot pack: 1 file(s) of encoder are not cached")
    assert "`python -m speechlm cache build --only encoder`" in err and not (tmp_path / "x.tar").exists()
