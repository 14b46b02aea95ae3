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
