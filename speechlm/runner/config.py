"""The configuration of ``python -m speechlm pretrain`` (notebook 18): a YAML file read into dataclasses.

Three sections, every key optional (the defaults are the tiny CPU model)::

    run_dir: runs/tiny            # checkpoints, the JSONL log and the k-means model go here
    seed: 0
    device: auto                  # auto (CUDA when available), cpu or cuda
    data:   {train_size: 64, dev_size: 16, seed: 0, tasks: null}
    model:  {d_model: 64, num_layers: 2, num_heads: 4, d_ff: 256, dropout: 0.1, n_clusters: 50}
    train:  {steps: 100, batch_size: 8, lr: 0.001, warmup_steps: 10, weight_decay: 0.01,
             grad_clip: 1.0, log_every: 10, eval_every: 50, save_every: 25}

The model section is :class:`speechlm.ssl.EncoderConfig`, field for field (also
``n_mels: 80``, ``pos_conv_kernel: 31``, ``pos_conv_groups: 8``), plus
``n_clusters``; ``steps``, ``batch_size``, ``lr`` and ``warmup_steps`` are
:class:`speechlm.ssl.pretrain.HubertRecipe`'s. Both sections are built from
those dataclasses' fields, so a field added there is a config key here, with
its type checked; only :data:`TINY_DEFAULTS` differ from the library's defaults.

A float may also be written in exponent form without a dot (``lr: 1e-3``):
PyYAML reads that as the string ``"1e-3"``, and the config converts it to the
number it spells. Errors name the file, the key and the fix (an unknown key
gets the closest known one suggested), before any data is loaded or any
training starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from speechlm.corpus import TASKS
from speechlm.ssl.encoder import EncoderConfig
from speechlm.ssl.pretrain import HubertRecipe

__all__ = ["ConfigError", "DataConfig", "ModelConfig", "PretrainConfig", "TrainConfig", "load_config"]


class ConfigError(ValueError):
    """A configuration file that cannot be used, with the reason and the fix."""


@dataclass(frozen=True)
class DataConfig:
    """Which embedded-corpus utterances to pretrain and evaluate on (speaker-disjoint splits)."""

    train_size: int = 64  # unlabeled training utterances ("train" split)
    dev_size: int = 16  # held-out utterances ("dev" split) for the evaluation
    seed: int = 0  # corpus.load's seed
    tasks: list[str] | None = None  # corpus tasks; None: all


# The runner's defaults where they differ on purpose from EncoderConfig's (the course encoder of
# notebook 11) and HubertRecipe's (its recipe): the tiny CPU model of configs/pretrain_tiny_cpu.yaml,
# which pretrains in about 2 minutes on 2 cores. Every other default is the library's.
TINY_DEFAULTS = {"d_model": 64, "num_layers": 2, "d_ff": 256, "n_clusters": 50,
                 "steps": 100, "batch_size": 8, "warmup_steps": 10}  # fmt: skip


def _section(name: str, doc: str, borrowed: list[tuple[type, tuple[str, ...] | None]], **methods) -> type:
    """A frozen dataclass ``name`` with the ``borrowed`` fields of other dataclasses (all of them
    where the names are ``None``): their names, types and defaults, except :data:`TINY_DEFAULTS`."""
    specs = []
    for source, names in borrowed:
        for f in dataclasses.fields(source):
            if names is not None and f.name not in names:
                continue
            if f.name in TINY_DEFAULTS:
                specs.append((f.name, f.type, field(default=TINY_DEFAULTS[f.name])))
            else:
                specs.append((f.name, f.type, field(default=f.default, default_factory=f.default_factory)))
    namespace = {"__doc__": doc, "__module__": __name__, **methods}
    return dataclasses.make_dataclass(name, specs, frozen=True, namespace=namespace)


def _encoder_config(self) -> EncoderConfig:
    """The :class:`EncoderConfig` that this model section describes."""
    return EncoderConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(EncoderConfig)})


ModelConfig = _section(
    "ModelConfig",
    """The encoder (every field of :class:`speechlm.ssl.EncoderConfig`; ``encoder_config()`` builds
    it) and the number of k-means target units (``n_clusters`` of :class:`HubertRecipe`).""",
    [(EncoderConfig, None), (HubertRecipe, ("n_clusters",))],
    encoder_config=_encoder_config,
)


@dataclass(frozen=True)
class _Schedule:
    """The runner's own training settings (notebook 11's recipe hard-codes them)."""

    weight_decay: float = 0.01
    grad_clip: float = 1.0  # the largest gradient norm
    log_every: int = 10
    eval_every: int = 50
    save_every: int = 25


TrainConfig = _section(
    "TrainConfig",
    """The optimisation: AdamW with linear warm-up and decay (``steps``, ``batch_size``, ``lr`` and
    ``warmup_steps`` as in :class:`HubertRecipe`); ``batch_size`` is the global batch, split evenly
    over the processes of a ``torchrun`` run.""",
    [(HubertRecipe, ("steps", "batch_size", "lr", "warmup_steps")), (_Schedule, None)],
)


@dataclass(frozen=True)
class PretrainConfig:
    """The whole run; :func:`load_config` builds it from YAML and validates it."""

    run_dir: str = "runs/pretrain"
    seed: int = 0
    device: str = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: Any, *, source: str = "config") -> PretrainConfig:
        """Build and validate a config from a dict (a parsed YAML document)."""
        values = _fields(cls, raw, source, "")
        for name, sub in (("data", DataConfig), ("model", ModelConfig), ("train", TrainConfig)):
            values[name] = sub(**_fields(sub, values.get(name, {}), source, f"{name}."))
        config = cls(**values)
        _validate(config, source)
        return config


def load_config(path: str | os.PathLike) -> PretrainConfig:
    """Read a YAML config file; raise :class:`ConfigError` saying what is wrong and how to fix it."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"config file {str(path)!r} is a folder: pass --config PATH to a YAML file in it")
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist: pass --config PATH to a YAML file")
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the config file ({exc.strerror}): check its permissions"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start} is not valid "
            "UTF-8): save the file with UTF-8 encoding"
        ) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return PretrainConfig.from_dict({} if raw is None else raw, source=str(path))


_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}


def _fields(cls, raw: Any, source: str, prefix: str) -> dict:
    """Check that ``raw`` is a mapping of known keys of ``cls`` with values of the right type."""
    if not isinstance(raw, dict):
        where = prefix.rstrip(".") or "the top level"
        raise ConfigError(f"{source}: {where} must be a mapping of keys to values, got {type(raw).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in raw.items():
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {prefix}{close[0]}?" if close else f"known keys: {', '.join(known)}"
            raise ConfigError(f"{source}: unknown key {prefix}{key}: {hint}")
        values[key] = _check_type(known[key], value, source, prefix + key)
    return values


def _check_type(f: dataclasses.Field, value: Any, source: str, key: str) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    if kind in ("DataConfig", "ModelConfig", "TrainConfig"):
        return value
    optional = kind.endswith("| None")
    if value is None and optional:
        return None
    base = kind.removesuffix(" | None")
    if base == "list[str]":
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ConfigError(f"{source}: {key} must be a list of strings or null, got {value!r}")
        return value
    if base == "float" and isinstance(value, str):
        value = _float_from_text(value, source, key)
    if isinstance(value, bool) != (base == "bool") or not isinstance(value, _TYPES[base]):
        raise ConfigError(f"{source}: {key} must be {'an' if base == 'int' else 'a'} {base}, got {value!r}")
    return float(value) if base == "float" else value


def _float_from_text(value: str, source: str, key: str) -> float:
    """``"1e-3"`` (how PyYAML reads ``1e-3``, an exponent without a dot) as the float it spells."""
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{source}: {key} must be a float such as 1.0e-3 or 0.001, got {value!r}") from None


def _validate(c: PretrainConfig, source: str) -> None:
    def need(ok: bool, message: str) -> None:
        if not ok:
            raise ConfigError(f"{source}: {message}")

    need(c.run_dir.strip() != "", "run_dir must name a folder, got an empty string")
    need(c.device in ("auto", "cpu", "cuda"), f"device must be auto, cpu or cuda, got {c.device!r}")
    need(c.seed >= 0 and c.data.seed >= 0, "seeds must be non-negative")
    if c.data.tasks is not None:
        need(c.data.tasks != [], "data.tasks must name at least one task, or be null for all of them")
        for task in c.data.tasks:
            close = difflib.get_close_matches(task, TASKS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            need(task in TASKS, f"data.tasks: unknown task {task!r}: {hint}known tasks: {', '.join(TASKS)}")
    need(
        c.data.train_size >= c.train.batch_size,
        f"data.train_size ({c.data.train_size}) must be at least train.batch_size ({c.train.batch_size})",
    )
    need(c.data.dev_size >= 1, f"data.dev_size must be at least 1, got {c.data.dev_size}")
    m = c.model
    for f in dataclasses.fields(EncoderConfig):
        value = getattr(m, f.name)
        need(f.type != "int" or value > 0, f"model sizes must be positive, got model.{f.name}: {value}")
    need(m.d_model % m.num_heads == 0,
         f"model.d_model ({m.d_model}) must be divisible by model.num_heads ({m.num_heads})")  # fmt: skip
    need(
        m.d_model % m.pos_conv_groups == 0,
        f"model.d_model ({m.d_model}) must be a multiple of model.pos_conv_groups ({m.pos_conv_groups}), "
        "the position conv's groups",
    )
    need(
        m.pos_conv_kernel % 2 == 1,
        f"model.pos_conv_kernel must be odd (so that the position conv keeps the length), got "
        f"{m.pos_conv_kernel}",
    )
    for section, values in (("model", m), ("train", c.train)):
        for f in dataclasses.fields(values):
            value = getattr(values, f.name)
            need(
                not isinstance(value, float) or math.isfinite(value),
                f"{section}.{f.name} must be a finite number, got {value}",
            )
    need(0.0 <= m.dropout < 1.0, f"model.dropout must be in [0, 1), got {m.dropout}")
    need(m.n_clusters >= 2, f"model.n_clusters must be at least 2, got {m.n_clusters}")
    t = c.train
    need(t.steps >= 1 and t.batch_size >= 1, "train.steps and train.batch_size must be at least 1")
    need(t.lr > 0, f"train.lr must be positive, got {t.lr}")
    need(
        t.lr <= 1.0,
        f"train.lr must be at most 1 (AdamW's peak learning rate; 1.0e-3 is typical), got {t.lr:g}",
    )
    need(
        0.0 <= t.weight_decay <= 1.0,
        f"train.weight_decay must be in [0, 1] (0.01 is typical), got {t.weight_decay}",
    )
    need(t.grad_clip > 0, f"train.grad_clip must be positive (the largest gradient norm), got {t.grad_clip}")
    need(
        0 <= t.warmup_steps <= t.steps,
        f"train.warmup_steps must be in [0, train.steps], got {t.warmup_steps}",
    )
    for name in ("log_every", "eval_every", "save_every"):
        need(getattr(t, name) >= 1, f"train.{name} must be at least 1, got {getattr(t, name)}")
