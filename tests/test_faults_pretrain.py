"""`python -m speechlm pretrain` on bad input: every fault gives `error: ...` (exit 2) naming the file or
argument and the fix, or a `warning: ...` naming what was damaged and worked around; nothing silent.

Runs that get past start-up train on random stand-in data (`_fake_data`), so each test takes a second or
two; what is tested is the runner's handling of arguments, configs, run folders, checkpoints and logs.
"""

import errno
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml

from speechlm.cli import main
from speechlm.features import encoder_lengths, mfcc_features
from speechlm.runner import CHECKPOINT, LOG, PREVIOUS, ConfigError, checkpoint, load_config, loop

ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "seed": 0,
    "device": "cpu",
    "data": {"train_size": 8, "dev_size": 2, "seed": 0, "tasks": ["digits"]},
    "model": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "dropout": 0.1, "n_clusters": 8},
    "train": {"steps": 6, "batch_size": 4, "lr": 0.003, "warmup_steps": 1, "log_every": 1,
              "eval_every": 3, "save_every": 3},
}  # fmt: skip


def _config(tmp_path: Path, run_dir: Path | str | None = None, **sections) -> Path:
    """A tiny config file in ``tmp_path`` (``sections``: dicts merged into TINY's sections, or values)."""
    config = json.loads(json.dumps(TINY)) | {"run_dir": str(run_dir or tmp_path / "run")}
    for key, value in sections.items():
        config[key] = config[key] | value if isinstance(value, dict) else value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _fake_data(config, nan: bool = False) -> loop.Data:
    """Random log-mels ``(mel_frames, 80)`` and unit targets ``(frames,)``: no corpus, no k-means."""
    generator = torch.Generator().manual_seed(0)

    def split(n):
        lengths = torch.randint(40, 80, (n,), generator=generator)
        mels = [torch.randn(int(m), 80, generator=generator) for m in lengths]
        targets = [
            torch.randint(0, config.model.n_clusters, (int(encoder_lengths(m)),), generator=generator)
            for m in lengths
        ]
        return mels, targets

    train_mels, train_targets = split(config.data.train_size)
    if nan:
        train_mels[0][0, 0] = math.nan
    return loop.Data(train_mels, train_targets, *split(config.data.dev_size))


@pytest.fixture
def fake_data(monkeypatch):
    monkeypatch.setattr(loop, "load_data", _fake_data)


@pytest.fixture
def no_data(monkeypatch):
    """For faults that must be caught before any data is loaded."""

    def refuse(config):
        raise AssertionError("the data was loaded before the fault was reported")

    monkeypatch.setattr(loop, "load_data", refuse)


def _pretrain(config: Path, *args: str) -> int:
    return main(["pretrain", "--config", str(config), "--no-progress", *args])


def _steps_logged(run_dir: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run_dir / LOG).read_text().splitlines()]


def _checkpoint_step(path: Path) -> int:
    return torch.load(path, weights_only=True)["step"]


# --- 7. command-line overrides -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "argument --steps: must be at least 1 (the total number of steps to reach), got 0"),
        ("-3", "argument --steps: must be at least 1 (the total number of steps to reach), got -3"),
        ("ten", "argument --steps: must be a whole number of steps, got 'ten'"),
    ],
)
def test_steps_below_one_is_an_error_not_ignored(tmp_path, no_data, capsys, value, message):
    with pytest.raises(SystemExit) as exit_info:
        _pretrain(_config(tmp_path), "--steps", value)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "error: " in err and message in err


def test_an_empty_run_dir_override_is_an_error_not_ignored(tmp_path, no_data, capsys):
    assert _pretrain(_config(tmp_path), "--run-dir", "") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "(with command-line overrides): run_dir must name a folder" in err


def test_steps_and_run_dir_overrides_are_applied(tmp_path, fake_data):
    assert _pretrain(_config(tmp_path), "--steps", "2", "--run-dir", str(tmp_path / "other")) == 0
    assert _steps_logged(tmp_path / "other") == [1, 2]
    assert _checkpoint_step(tmp_path / "other" / CHECKPOINT) == 2
    assert not (tmp_path / "run").exists()


def test_steps_below_the_checkpoint_is_an_error_and_equal_says_done(tmp_path, fake_data, monkeypatch, capsys):
    config = _config(tmp_path)
    assert _pretrain(config) == 0
    capsys.readouterr()
    monkeypatch.setattr(loop, "load_data", lambda c: pytest.fail("data loaded for a run with nothing to do"))

    assert _pretrain(config, "--steps", "4") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "is already at step 6, past the requested train.steps (4): pass --steps 7 or more" in err
    assert "--run-dir NEW_FOLDER" in err

    assert _pretrain(config) == 0
    assert "is already at step 6 of 6: nothing to do; pass --steps N" in capsys.readouterr().out
    assert _checkpoint_step(tmp_path / "run" / CHECKPOINT) == 6


# --- 9. torn logs and damaged checkpoints ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tail", "warned"),
    [
        (b'{"step": 4, "epoch": 2, "lo', True),  # cut off mid-record by a crash
        (b"\xff\xfe\x00garbage", True),
        (b"[4, 5]\n", True),  # JSON, but not a record
        (b"\n\n", False),  # blank lines: nothing lost, nothing to say
    ],
)
def test_a_torn_last_log_line_is_dropped_with_a_warning(tmp_path, fake_data, capsys, tail, warned):
    config = _config(tmp_path)
    assert _pretrain(config, "--steps", "3") == 0
    log = tmp_path / "run" / LOG
    log.write_bytes(log.read_bytes() + tail)
    capsys.readouterr()

    assert _pretrain(config) == 0
    err = capsys.readouterr().err
    assert _steps_logged(tmp_path / "run") == [1, 2, 3, 4, 5, 6]
    if warned:
        assert f"warning: {log}, line 4: not a complete log record" in err
        assert "dropped it, the other lines are kept" in err
    else:
        assert "warning" not in err


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    damaged = {
        "zero bytes": b"",
        "truncated": data[: len(data) // 2],
        "garbage": np.random.default_rng(0).bytes(4000),
        "text": b"hello\n",
        "a pickled object": torch.serialization.pickle.dumps(SimpleNamespace(step=3)),
        "not a dict": None,
    }[how]
    if damaged is None:
        torch.save([1, 2, 3], path)
    else:
        path.write_bytes(damaged)


DAMAGE = ["zero bytes", "truncated", "garbage", "text", "a pickled object", "not a dict"]


class _Killed(Exception):
    """Stands in for a SIGKILL: the run stops with no cleanup."""


@pytest.mark.parametrize("how", DAMAGE)
def test_a_damaged_last_checkpoint_falls_back_to_the_one_before(tmp_path, fake_data, capsys, how):
    config = _config(tmp_path)
    assert _pretrain(config) == 0  # saves at steps 3 (previous.pt) and 6 (last.pt)
    run_dir = tmp_path / "run"
    assert (_checkpoint_step(run_dir / PREVIOUS), _checkpoint_step(run_dir / CHECKPOINT)) == (3, 6)
    _damage(run_dir / CHECKPOINT, how)
    capsys.readouterr()

    assert _pretrain(config) == 0
    captured = capsys.readouterr()
    assert f"warning: the checkpoint {run_dir / CHECKPOINT} is damaged (" in captured.err
    assert f"resuming from the one before it, {run_dir / PREVIOUS} (step 3)" in captured.err
    assert "weights_only" not in captured.err  # never suggest weights_only=False
    assert f"resuming from step 3 of {run_dir / PREVIOUS}" in captured.out
    assert (run_dir / (CHECKPOINT + ".damaged")).exists()
    assert _steps_logged(run_dir) == list(range(1, 7))  # steps 4-6 redone, logged once
    assert (_checkpoint_step(run_dir / PREVIOUS), _checkpoint_step(run_dir / CHECKPOINT)) == (3, 6)


def test_resuming_from_the_checkpoint_before_a_damaged_one_retraces_the_run(
    tmp_path, fake_data, monkeypatch, capsys
):
    assert _pretrain(_config(tmp_path, tmp_path / "whole", train={"steps": 8})) == 0
    log = checkpoint.append_log

    def append_then_crash(path, record):  # a crash once step 7 is logged: no cleanup at all
        log(path, record)
        if record["step"] == 7:
            raise _Killed

    monkeypatch.setattr(checkpoint, "append_log", append_then_crash)
    with pytest.raises(_Killed):  # killed after step 7: saved at steps 3 (previous.pt) and 6 (last.pt)
        _pretrain(_config(tmp_path, train={"steps": 8}))
    monkeypatch.setattr(checkpoint, "append_log", log)
    run_dir = tmp_path / "run"
    _damage(run_dir / CHECKPOINT, "truncated")

    assert _pretrain(_config(tmp_path, train={"steps": 8})) == 0
    assert "failed finding central directory): resuming from the one before it" in capsys.readouterr().err
    assert _steps_logged(run_dir) == list(range(1, 9))
    assert (_checkpoint_step(run_dir / PREVIOUS), _checkpoint_step(run_dir / CHECKPOINT)) == (6, 8)
    final = torch.load(run_dir / CHECKPOINT, weights_only=True)["model"]
    expected = torch.load(tmp_path / "whole" / CHECKPOINT, weights_only=True)["model"]
    for name, tensor in expected.items():
        assert torch.equal(final[name], tensor), name  # bitwise: the redone steps 4-8 are the same steps


@pytest.mark.parametrize("how", DAMAGE)
def test_a_damaged_only_checkpoint_stops_and_says_what_to_delete(
    tmp_path, fake_data, monkeypatch, capsys, how
):
    config = _config(tmp_path, train={"steps": 3})
    assert _pretrain(config) == 0
    run_dir = tmp_path / "run"
    assert not (run_dir / PREVIOUS).exists()
    _damage(run_dir / CHECKPOINT, how)
    monkeypatch.setattr(
        loop, "load_data", lambda c: pytest.fail("data loaded before the damage was reported")
    )
    capsys.readouterr()

    assert _pretrain(config, "--steps", "5") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot resume: {run_dir / CHECKPOINT} (")
    assert f"Delete {run_dir / CHECKPOINT} and {run_dir / LOG} to start again from step 0" in err
    assert "weights_only" not in err
    assert (run_dir / CHECKPOINT).exists()  # nothing is deleted for the user


# --- 12. values that pass a type check but cannot work ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data:\n  tasks: [bogus]\n", "data.tasks: unknown task 'bogus': known tasks: digits, commands"),
        ("data:\n  tasks: [digts]\n", "data.tasks: unknown task 'digts': did you mean 'digits'?"),
        ("data:\n  tasks: []\n", "data.tasks must name at least one task, or be null for all of them"),
        ("train:\n  weight_decay: -5\n", "train.weight_decay must be in [0, 1] (0.01 is typical), got -5.0"),
        (
            "train:\n  lr: 1.0e300\n",
            "train.lr must be at most 1 (AdamW's peak learning rate; 1.0e-3 is typical)",
        ),
        ("train:\n  lr: 0\n", "train.lr must be positive, got 0.0"),
        ("train:\n  lr: -0.1\n", "train.lr must be positive, got -0.1"),
        ("train:\n  lr: .nan\n", "train.lr must be a finite number, got nan"),
        ("train:\n  lr: .inf\n", "train.lr must be a finite number, got inf"),
        ("train:\n  lr: fast\n", "train.lr must be a float such as 1.0e-3 or 0.001, got 'fast'"),
        ("train:\n  grad_clip: 0\n", "train.grad_clip must be positive"),
        ("run_dir: ''\n", "run_dir must name a folder, got an empty string"),
    ],
)
def test_values_that_would_fail_after_start_up_are_caught_at_validation(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"bad\.yaml: ") as info:
        load_config(path)
    assert message in str(info.value)


def test_an_exponent_without_a_dot_is_read_as_the_number_it_spells(tmp_path):
    assert yaml.safe_load("lr: 1e-3") == {"lr": "1e-3"}  # PyYAML's YAML 1.1 reading: a string
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lr: 1e-3\n  weight_decay: 5e-2\n")
    config = load_config(path)
    assert (config.train.lr, config.train.weight_decay) == (0.001, 0.05)


def test_a_config_that_is_not_utf8_names_the_file_and_the_encoding(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("run_dir: runs/caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: not UTF-8 text (byte 0xe9 at offset 17 is not valid UTF-8): "
        "save the file with UTF-8 encoding"
    )


def test_a_folder_as_config_says_so(tmp_path, capsys):
    assert main(["pretrain", "--config", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"error: config file {str(tmp_path)!r} is a folder: pass --config PATH to a YAML file in it\n"
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the message for a machine without a GPU")
def test_device_cuda_without_a_gpu_stops_before_loading_data(tmp_path, no_data, capsys):
    assert _pretrain(_config(tmp_path, device="cuda")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: device is cuda, but torch.cuda.is_available() is False")
    assert "set device: auto" in err


def test_more_clusters_than_frames_names_clusters_and_the_frame_count(tmp_path, monkeypatch, capsys):
    audio = np.random.default_rng(0).standard_normal(1600).astype(np.float32)  # 0.1 s
    monkeypatch.setattr(
        loop.corpus, "load", lambda name, split, size, **kwargs: [SimpleNamespace(audio=audio)] * size
    )
    frames = 8 * len(mfcc_features(audio))
    assert _pretrain(_config(tmp_path, model={"n_clusters": frames + 1})) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: model.n_clusters ({frames + 1}) is more than the {frames} MFCC frames")
    assert "of the 8 training utterances" in err and "lower model.n_clusters or raise data.train_size" in err


@pytest.mark.parametrize("below", [False, True])
def test_a_file_in_place_of_run_dir_stops_before_loading_data(tmp_path, no_data, capsys, below):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    assert _pretrain(_config(tmp_path, blocker / "run" if below else blocker)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: run_dir {blocker / 'run' if below else blocker}: {blocker} is a file")
    assert "pass --run-dir to another path" in err


@pytest.mark.slow  # as root: a subprocess run as nobody imports torch (about 10 s on a busy 2-core machine)
def test_a_read_only_run_dir_stops_before_loading_data(no_data, capsys):
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("root ignores mode bits, and setpriv is missing to run as an unprivileged user")
    base = Path(tempfile.mkdtemp(prefix="speechlm-readonly-"))  # not under tmp_path: root-only (0700)
    try:
        base.chmod(0o755)
        locked = base / "locked"
        locked.mkdir(mode=0o555)
        locked.chmod(0o555)
        config = _config(base, locked / "run")
        config.chmod(0o644)
        if os.geteuid() != 0:
            assert _pretrain(config) == 2
            err = capsys.readouterr().err
        else:  # root may write anywhere: run the command as nobody
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
                       "-m", "speechlm", "pretrain", "--no-progress", "--config", str(config)]  # fmt: skip
            env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(base), SPEECHLM_CACHE=str(base / "cache"),
                       MPLCONFIGDIR=str(base / "mpl"))  # fmt: skip
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=base)
            assert done.returncode == 2, done.stderr
            err = done.stderr
        assert err.startswith(f"error: run_dir {locked / 'run'} is not writable (Permission denied)")
        assert "pass --run-dir to a folder you can write" in err
        assert not (locked / "run").exists()
    finally:
        (base / "locked").chmod(0o755)
        shutil.rmtree(base)


def _failing_save(exc: Exception):
    def save(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"PK\x03\x04 half a checkpoint")
        raise exc

    return save


@pytest.mark.parametrize(
    ("exc", "free"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), 10**9),
        (RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598"), 4096),
    ],
)
def test_a_full_disk_during_a_save_is_named_and_leaves_no_temp_file(
    tmp_path, fake_data, monkeypatch, capsys, exc, free
):
    monkeypatch.setattr(checkpoint.torch, "save", _failing_save(exc))
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(checkpoint.shutil, "disk_usage", lambda p: usage._replace(free=free))
    assert _pretrain(_config(tmp_path)) == 2
    err = capsys.readouterr().err
    run_dir = tmp_path / "run"
    assert err.startswith(
        f"error: could not write the checkpoint {run_dir / CHECKPOINT}: the disk is full (ENOSPC"
    )
    assert "Free some disk space or pass --run-dir to a disk with room, then rerun the same command" in err
    assert sorted(p.name for p in run_dir.iterdir()) == [LOG]  # no temporary file, no half checkpoint


def test_a_failed_save_that_is_not_a_full_disk_says_the_write_failed(
    tmp_path, fake_data, monkeypatch, capsys
):
    monkeypatch.setattr(checkpoint.torch, "save", _failing_save(OSError(errno.EIO, "Input/output error")))
    assert _pretrain(_config(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: could not write the checkpoint {tmp_path / 'run' / CHECKPOINT}: ")
    assert "the write failed ([Errno 5] Input/output error). Check that disk, or pass --run-dir" in err
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [LOG]


def test_a_real_full_disk_is_reported(tmp_path, fake_data, capsys):
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(small)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        assert _pretrain(_config(tmp_path, small / "run")) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: could not write ") and "the disk is full (ENOSPC" in err
        assert not [p for p in (small / "run").iterdir() if p.name.endswith(".tmp")]
    finally:
        subprocess.run(["umount", str(small)], check=True)


def test_a_diverged_loss_stops_before_saving_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(loop, "load_data", lambda config: _fake_data(config, nan=True))
    assert _pretrain(_config(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: training diverged at step ")
    assert "lower train.lr (now 0.003) or train.grad_clip" in err
    assert not (tmp_path / "run" / CHECKPOINT).exists()
