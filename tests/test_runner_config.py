"""The YAML configuration of `python -m speechlm pretrain`: shipped configs load, bad ones fail clearly."""

from pathlib import Path

import pytest

from speechlm.cli import main
from speechlm.runner import ConfigError, PretrainConfig, load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name", ["pretrain_tiny_cpu.yaml", "pretrain_colab_gpu.yaml"])
def test_shipped_configs_load(name):
    config = load_config(CONFIGS / name)
    assert config.train.batch_size % 2 == 0  # both run under torchrun with 2 processes
    assert PretrainConfig.from_dict(config.to_dict()) == config


def test_missing_keys_take_the_defaults(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("run_dir: somewhere\ntrain:\n  steps: 20\n")
    config = load_config(path)
    assert config.run_dir == "somewhere" and config.train.steps == 20
    assert config.model == PretrainConfig().model


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("trian:\n  steps: 3\n", "unknown key trian: did you mean train?"),
        ("model:\n  d_modle: 32\n", "unknown key model.d_modle: did you mean model.d_model?"),
        ("train:\n  steps: ten\n", "train.steps must be an int, got 'ten'"),
        ("train:\n  steps: true\n", "train.steps must be an int, got True"),
        ("model:\n  dropout: 1.5\n", "model.dropout must be in [0, 1), got 1.5"),
        (
            "model:\n  d_model: 36\n  num_heads: 8\n",
            "model.d_model (36) must be divisible by model.num_heads (8)",
        ),
        ("data:\n  train_size: 4\ntrain:\n  batch_size: 8\n", "data.train_size (4) must be at least"),
        ("device: tpu\n", "device must be auto, cpu or cuda, got 'tpu'"),
        ("data: [1, 2]\n", "data must be a mapping"),
        ("data:\n  tasks: digits\n", "data.tasks must be a list of strings or null"),
        ("train: {steps: 5\n", "not valid YAML"),
    ],
)
def test_bad_configs_say_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"bad\.yaml") as info:
        load_config(path)
    assert message in str(info.value)


def test_a_missing_file_and_the_cli_report_errors(tmp_path, capsys):
    with pytest.raises(ConfigError, match="does not exist: pass --config"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("train:\n  lr: -1\n")
    assert main(["pretrain", "--config", str(tmp_path / "bad.yaml")]) == 2
    assert "train.lr must be positive, got -1.0" in capsys.readouterr().err
