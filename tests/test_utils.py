# ruff: noqa: NPY002 - set_seed must seed NumPy's legacy global generator too
import os
import random

import numpy as np
import pytest
import torch

from speechlm import utils


def test_set_seed_makes_every_generator_repeat():
    utils.set_seed(7)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    utils.set_seed(7)
    second = (random.random(), np.random.rand(), torch.rand(1).item())
    utils.set_seed(8)
    third = (random.random(), np.random.rand(), torch.rand(1).item())
    assert first == second
    assert all(a != b for a, b in zip(first, third, strict=True))


@pytest.mark.parametrize("bad", [-1, 1.5, "0", None])
def test_set_seed_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        utils.set_seed(bad)


def test_get_device_defaults_to_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert utils.get_device() == torch.device("cpu")
    assert utils.get_device("cpu") == torch.device("cpu")
    with pytest.raises(RuntimeError, match="CUDA was requested"):
        utils.get_device("cuda")


def test_get_device_prefers_cuda_and_uses_mps_only_on_request(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert utils.get_device() == torch.device("cuda")
    assert utils.get_device("mps") == torch.device("mps")
    with pytest.raises(ValueError, match="prefer must be"):
        utils.get_device("tpu")


def test_cache_dir_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEECHLM_CACHE", str(tmp_path / "c"))
    path = utils.cache_dir("corpus", "v1")
    assert path == tmp_path / "c" / "corpus" / "v1"
    assert path.is_dir()
    monkeypatch.delenv("SPEECHLM_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert utils.cache_dir(create=False) == tmp_path / "xdg" / "speechlm"
    assert not (tmp_path / "xdg").exists()


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "sub" / "f.txt"
    utils.atomic_write_text(target, "first")
    utils.atomic_write_text(target, "second")
    assert target.read_text() == "second"
    assert os.listdir(target.parent) == ["f.txt"]


def test_atomic_path_leaves_nothing_when_the_writer_fails(tmp_path):
    target = tmp_path / "model.bin"
    utils.atomic_write_bytes(target, b"old")
    with pytest.raises(RuntimeError, match="interrupted"), utils.atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["model.bin"]


def test_headline_prints_a_parsable_line(capsys):
    utils.headline("accuracy 97.5%")
    assert capsys.readouterr().out == "HEADLINE: accuracy 97.5%\n"


def test_find_cached_looks_in_the_writable_cache_then_each_shared_one(tmp_path, monkeypatch):
    own, first, second = tmp_path / "own", tmp_path / "first", tmp_path / "second"
    for folder, names in ((first, ["a", "b"]), (second, ["b", "c"])):
        (folder / "results").mkdir(parents=True)
        for name in names:
            (folder / "results" / name).write_text(folder.name)
    monkeypatch.setenv("SPEECHLM_CACHE", str(own))
    monkeypatch.setenv("SPEECHLM_SHARED_CACHE", os.pathsep.join([str(first), str(second)]))
    assert utils.shared_cache_dirs() == [first, second]
    assert utils.find_cached("results", "b") == first / "results" / "b"
    assert utils.find_cached("results", "c") == second / "results" / "c"
    assert utils.find_cached("results", "d") is None
    assert not own.exists()  # looking creates nothing
    utils.atomic_write_text(utils.cache_dir("results") / "a", "own")
    assert utils.find_cached("results", "a") == own / "results" / "a"


def test_setup_keeps_a_cpu_run_from_loading_the_gpu_compiler():
    """PyTorch's optimizers import torch._dynamo, which imports Triton where it is installed (beside
    the CUDA build, even without a GPU). After setup() on the CPU it is not loaded, and training
    works the same."""
    import subprocess
    import sys

    code = """
import sys, torch, speechlm
from speechlm.utils import skip_triton_on_cpu
if torch.cuda.is_available():
    print("cuda"); raise SystemExit
speechlm.setup(seed=0, quiet=True)
assert skip_triton_on_cpu() is True  # idempotent
torch.manual_seed(0)
model = torch.nn.Linear(3, 1)
optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
for _ in range(3):
    optimizer.zero_grad()
    model(torch.ones(4, 3)).pow(2).mean().backward()
    optimizer.step()
from torch.utils._triton import has_triton_package
assert not has_triton_package() and sys.modules["triton"] is None
print(repr(model.weight.detach().sum().item()))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    if result.stdout.strip() == "cuda":
        pytest.skip("a GPU is usable here: Triton stays available")
    plain = subprocess.run(  # the same training without setup(): the same weights
        [sys.executable, "-c", code.replace("speechlm.setup(seed=0, quiet=True)\n", "").replace(
            "assert skip_triton_on_cpu() is True  # idempotent\n", "").replace(
            'assert not has_triton_package() and sys.modules["triton"] is None\n', "")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert result.stdout == plain.stdout


def test_skip_triton_leaves_an_imported_triton_alone(monkeypatch):
    import sys
    import types

    from speechlm.utils import skip_triton_on_cpu

    fake = types.ModuleType("triton")
    monkeypatch.setitem(sys.modules, "triton", fake)
    assert skip_triton_on_cpu() is False and sys.modules["triton"] is fake
