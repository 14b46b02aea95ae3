"""The YAML configuration of `python -m speechlm pretrain`: shipped configs load, bad ones fail clearly."""

import dataclasses
from pathlib import Path

import pytest

from speechlm.cli import main
from speechlm.runner import ConfigError, PretrainConfig, load_config
from speechlm.runner.config import TINY_DEFAULTS, ModelConfig, TrainConfig
from speechlm.ssl import EncoderConfig
from speechlm.ssl.pretrain import HubertRecipe

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
        ("model:\n  num_layers: 0\n", "model sizes must be positive, got model.num_layers: 0"),
        ("model:\n  pos_conv_kernel: 30\n", "model.pos_conv_kernel must be odd"),
        ("model:\n  d_model: 36\n  num_heads: 4\n", "must be a multiple of model.pos_conv_groups (8)"),
        ("model:\n  n_mels: 80.0\n", "model.n_mels must be an int, got 80.0"),
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


def test_the_model_and_train_sections_are_the_library_dataclasses_fields():
    """Every field of EncoderConfig is a model key (and HubertRecipe's step counts, batch and learning
    rate are train keys), with the library's type and default unless TINY_DEFAULTS says otherwise."""
    encoder_keys = {f.name for f in dataclasses.fields(EncoderConfig)}
    assert {f.name for f in dataclasses.fields(ModelConfig)} == encoder_keys | {"n_clusters"}
    for section, source in ((ModelConfig, EncoderConfig), (TrainConfig, HubertRecipe)):
        ours = {f.name: f for f in dataclasses.fields(section)}
        for f in dataclasses.fields(source):
            if f.name in ours:
                assert ours[f.name].type == f.type
                assert ours[f.name].default == TINY_DEFAULTS.get(f.name, f.default)
    config = PretrainConfig.from_dict({"model": {"pos_conv_kernel": 7, "pos_conv_groups": 4, "d_model": 32}})
    assert config.model.encoder_config() == EncoderConfig(
        d_model=32, num_layers=2, d_ff=256, pos_conv_kernel=7, pos_conv_groups=4
    )
