"""``python -m speechlm pretrain --config C.yaml``: pretraining outside notebooks, with checkpoints,
resume, logging, evaluation and ``torchrun`` data parallelism (notebook 18)."""

from speechlm.runner.checkpoint import CHECKPOINT, LOG, PREVIOUS, RunError, RunWarning
from speechlm.runner.config import ConfigError, PretrainConfig, load_config
from speechlm.runner.loop import load_data, run

__all__ = [
    "CHECKPOINT",
    "LOG",
    "PREVIOUS",
    "ConfigError",
    "PretrainConfig",
    "RunError",
    "RunWarning",
    "load_config",
    "load_data",
    "run",
]
