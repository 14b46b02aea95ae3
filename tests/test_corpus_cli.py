"""``python -m speechlm.corpus``: info, say and build."""

import soundfile as sf

from speechlm.corpus.__main__ import main


def test_info_lists_splits_tasks_and_phones(capsys):
    assert main(["info", "--examples", "2"]) == 0
    out = capsys.readouterr().out
    assert "train: 198 speakers, 66 voices" in out and "test: 36 speakers, 18 voices" in out
    assert "phones (40): sil aa" in out and out.count("  [") == 2


def test_say_writes_a_wav_with_its_alignment(tmp_path, capsys):
    path = tmp_path / "hello.wav"
    assert main(["say", "hello there", str(path)]) == 0
    audio, rate = sf.read(path)
    assert rate == 16000 and len(audio) > 8000
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"wrote {path}") and [line.split()[-1] for line in lines[1:]] == [
        "hello",
        "there",
    ]


def test_build_prints_a_table_per_task(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path))
    assert main(["build", "--split", "dev", "--size", "8", "--tasks", "digits"]) == 0
    out = capsys.readouterr().out
    assert "| digits | 8 |" in out
    assert len(list((tmp_path / "corpus" / "embedded").glob("*.npz"))) == 1
