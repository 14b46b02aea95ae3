"""`python -m speechlm pretrain`: a killed run resumes exactly, and 2 processes under torchrun retrace
one process with the same global batch."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from speechlm.runner import CHECKPOINT, LOG
from speechlm.runner.distributed import free_port

TINY = {
    "seed": 0,
    "device": "cpu",
    "data": {"train_size": 16, "dev_size": 4, "seed": 0, "tasks": ["digits"]},
    "model": {"d_model": 32, "num_layers": 2, "num_heads": 2, "d_ff": 64, "dropout": 0.1, "n_clusters": 8},
    "train": {"steps": 8, "batch_size": 4, "lr": 0.003, "warmup_steps": 2, "log_every": 1,
              "eval_every": 4, "save_every": 3},
}  # fmt: skip


def _write_config(tmp_path: Path, name: str, dropout: float = 0.1, **train) -> Path:
    config = json.loads(json.dumps(TINY)) | {"run_dir": str(tmp_path / name)}
    config["model"]["dropout"] = dropout
    config["train"] |= train
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _env() -> dict:
    # one thread per process: the same floating-point reductions in every run
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[1]))


def _pretrain(config: Path, *launcher: str) -> subprocess.CompletedProcess:
    command = [sys.executable, *(launcher or ["-m", "speechlm"]), "pretrain", "--config", str(config)]
    return subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=120)


def _log(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / LOG).read_text().splitlines()]


@pytest.mark.slow
def test_a_killed_run_resumes_where_it_saved_and_matches_an_uninterrupted_run(tmp_path):
    whole = _pretrain(_write_config(tmp_path, "whole"))
    assert whole.returncode == 0, whole.stderr
    launcher = tmp_path / "crash.py"
    launcher.write_text(_CRASHING_LAUNCHER)
    crashed = _pretrain(_write_config(tmp_path, "resumed"), str(launcher), "5")
    assert crashed.returncode == -9, crashed.stderr  # SIGKILL after step 5: step 4 and 5 are not saved
    saved = torch.load(tmp_path / "resumed" / CHECKPOINT, weights_only=True)
    assert (saved["step"], saved["epoch"], saved["batch_in_epoch"]) == (3, 0, 3)
    assert [r["step"] for r in _log(tmp_path / "resumed")] == [1, 2, 3, 4, 5]

    resumed = _pretrain(_write_config(tmp_path, "resumed"))
    assert resumed.returncode == 0, resumed.stderr
    a, b = _log(tmp_path / "whole"), _log(tmp_path / "resumed")
    assert [r["step"] for r in b] == list(range(1, 9))  # the unsaved steps 4-5 were redone, not logged twice
    for ra, rb in zip(a, b, strict=True):
        assert {k: v for k, v in ra.items() if k != "time_s"} == {
            k: v for k, v in rb.items() if k != "time_s"
        }
    final_a = torch.load(tmp_path / "whole" / CHECKPOINT, weights_only=True)["model"]
    final_b = torch.load(tmp_path / "resumed" / CHECKPOINT, weights_only=True)["model"]
    for name, tensor in final_a.items():
        assert torch.equal(tensor, final_b[name]), name  # bitwise: same data order, masks and dropout


# Runs the command, killed (SIGKILL: no cleanup at all) once step argv[1] is logged, as a crash would.
_CRASHING_LAUNCHER = """
import os, signal, sys
from speechlm.runner import checkpoint
log = checkpoint.append_log
def append_log(path, record):
    log(path, record)
    if record["step"] == int(sys.argv[1]):
        os.kill(os.getpid(), signal.SIGKILL)
checkpoint.append_log = append_log
from speechlm.cli import main
sys.exit(main(sys.argv[2:]))
"""


# Wraps torch.save so that every checkpoint write records which rank made it.
_RECORDING_LAUNCHER = """
import os, sys, torch
from pathlib import Path
original = torch.save
def save(obj, f, *args, **kwargs):
    if isinstance(f, (str, os.PathLike)):  # a file, not the in-memory buffers of torch.distributed
        Path(sys.argv[1]).joinpath(f"saved_by_rank{os.environ['RANK']}").open("a").write("x")
    return original(obj, f, *args, **kwargs)
torch.save = save
from speechlm.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_processes_retrace_one_process_with_the_same_global_batch(tmp_path):
    single = _pretrain(_write_config(tmp_path, "single", dropout=0.0))
    assert single.returncode == 0, single.stderr
    launcher = tmp_path / "launch.py"
    launcher.write_text(_RECORDING_LAUNCHER)
    torchrun = ["-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
                f"--master_port={free_port()}", str(launcher), str(tmp_path)]  # fmt: skip
    double = _pretrain(_write_config(tmp_path, "double", dropout=0.0), *torchrun)
    assert double.returncode == 0, double.stderr

    # the same global batches, masks and steps. Not bitwise: each process pads its half-batch to its own
    # longest utterance, and gloo sums the two gradients; float32 rounding differs at about 1e-7.
    one, two = _log(tmp_path / "single"), _log(tmp_path / "double")
    assert [r["step"] for r in two] == list(range(1, 9))  # rank 0 alone logged: no duplicate records
    torch.testing.assert_close(
        torch.tensor([r["loss"] for r in two]), torch.tensor([r["loss"] for r in one]), rtol=1e-5, atol=0
    )
    eval_one = [r["eval_loss"] for r in one if "eval_loss" in r]
    eval_two = [r["eval_loss"] for r in two if "eval_loss" in r]
    assert len(eval_one) == 2
    torch.testing.assert_close(torch.tensor(eval_two), torch.tensor(eval_one), rtol=1e-5, atol=0)
    assert one[0]["loss"] - one[-1]["loss"] > 0.05  # it learns: the comparison is not between two constants

    # only rank 0 wrote checkpoints (saves at steps 3, 6 and 8), and both ranks' random states are in them
    assert sorted(p.name for p in tmp_path.glob("saved_by_rank*")) == ["saved_by_rank0"]
    assert (tmp_path / "saved_by_rank0").read_text() == "xxx"
    saved = torch.load(tmp_path / "double" / CHECKPOINT, weights_only=True)
    assert saved["world_size"] == 2 and len(saved["rng"]) == 2


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_launch_runs_the_same_job_as_torchrun_without_its_launcher(tmp_path, monkeypatch):
    from speechlm.runner import distributed

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torchrun = ["-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
                f"--master_port={free_port()}", "-m", "speechlm"]  # fmt: skip
    reference = _pretrain(_write_config(tmp_path, "torchrun"), *torchrun)
    assert reference.returncode == 0, reference.stderr
    results = distributed.launch(["--no-progress", "--config", str(_write_config(tmp_path, "forked"))], 2)

    assert [(r.rank, r.returncode) for r in results] == [(0, 0), (1, 0)], [r.stderr for r in results]
    assert "step 8: dev masked-prediction loss" in results[0].stdout and results[1].stdout == ""
    a, b = _log(tmp_path / "torchrun"), _log(tmp_path / "forked")
    assert [r["step"] for r in b] == list(range(1, 9))
    # the same ranks, seeds, data and dropout masks (a different mask moves the loss by about 1e-2); not
    # bit for bit: a fresh process and one forked from this one may pick other CPU kernels (about 1e-7)
    for key in ("loss", "accuracy", "eval_loss"):
        torch.testing.assert_close(
            torch.tensor([r[key] for r in b if key in r]), torch.tensor([r[key] for r in a if key in r]),
            rtol=1e-5, atol=0,
        )  # fmt: skip
    final_a = torch.load(tmp_path / "torchrun" / CHECKPOINT, weights_only=True)
    final_b = torch.load(tmp_path / "forked" / CHECKPOINT, weights_only=True)
    assert final_a["world_size"] == final_b["world_size"] == 2
    for name, tensor in final_a["model"].items():
        # a key's bias cancels in the softmax: its gradient is rounding noise, which Adam scales up
        atol = 1e-3 if name.endswith("k_proj.bias") else 1e-6
        torch.testing.assert_close(final_b["model"][name], tensor, rtol=1e-4, atol=atol, msg=name)


@pytest.mark.timeout(120)
def test_launch_reports_each_failed_process_with_its_error(tmp_path):
    from speechlm.runner import distributed

    bad = _write_config(tmp_path, "bad")
    bad.write_text(bad.read_text().replace("batch_size: 4", "batch_size: 3"))  # 3 does not split in 2
    started = __import__("time").monotonic()
    results = distributed.launch(["--no-progress", "--config", str(bad)], 2, timeout=60)
    assert __import__("time").monotonic() - started < 50  # not left waiting for the timeout
    assert all(r.returncode != 0 for r in results), results
    refusal = "error: train.batch_size (3) must be divisible by the 2 processes"
    assert all(refusal in r.stderr for r in results), results
    assert __import__("gc").get_freeze_count() == 0  # this process's objects unfrozen after the fork
    with pytest.raises(ValueError, match="nproc must be at least 1"):
        distributed.launch(["--config", str(bad)], 0)


@pytest.mark.timeout(120)
def test_launch_stops_every_process_after_its_timeout(tmp_path):
    from speechlm.runner import distributed

    config = _write_config(tmp_path, "slow", steps=100_000)
    with pytest.raises(TimeoutError, match=r"did not finish within 3 s: all were stopped"):
        distributed.launch(["--no-progress", "--config", str(config)], 2, timeout=3)
    import multiprocessing

    assert multiprocessing.active_children() == []
