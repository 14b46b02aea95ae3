"""Pretrained speech encoders shared by notebooks 11-17, trained on first use and then cached.

``load("hubert")`` returns the course's HuBERT-pretrained :class:`~speechlm.ssl.SpeechEncoder`.
The first call pretrains it on the embedded corpus's unlabeled training split
(minutes, with a progress bar) and saves the state dict in
``speechlm.utils.cache_dir("pretrained")``; later calls, in any notebook,
load it in a second. The file name is the recipe's name, its version and a
hash of every setting, so changing the recipe never serves a stale encoder.
Checkpoints are written atomically and read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from speechlm.ssl.encoder import EncoderConfig, SpeechEncoder
from speechlm.ssl.pretrain import HubertRecipe, pretrain_hubert
from speechlm.utils import atomic_path, cache_dir

__all__ = ["RECIPES", "PretrainedRecipe", "cache_path", "load", "load_info", "register"]


@dataclass(frozen=True)
class PretrainedRecipe:
    """A named, versioned pretraining recipe; bump ``version`` when the training code changes."""

    name: str
    version: int
    hubert: HubertRecipe = field(default_factory=HubertRecipe)
    corpus_seed: int = 0  # seed of the embedded corpus's training split

    def key(self) -> str:
        settings = json.dumps(asdict(self), sort_keys=True, default=str)
        digest = hashlib.sha256(settings.encode()).hexdigest()[:12]
        return f"{self.name}-v{self.version}-{digest}"


RECIPES: dict[str, PretrainedRecipe] = {}


def register(recipe: PretrainedRecipe) -> PretrainedRecipe:
    """Make ``recipe`` available to :func:`load` under its name (replacing one of the same name)."""
    RECIPES[recipe.name] = recipe
    return recipe


# The course's encoder: 4 layers, 144 wide (about 1.1 M parameters, the prototype's size), HuBERT
# iteration 1 (MFCC k-means targets) for 500 steps, then iteration 2 (k-means on layer 2) for 250
# steps, on 1,000 unlabeled utterances: about 10 minutes on the 2-core CPU, once per cache.
# The measurements behind this choice are in benchmarks/README.md ("Label efficiency").
register(
    PretrainedRecipe(
        "hubert",
        version=2,
        hubert=HubertRecipe(
            encoder=EncoderConfig(d_model=144, num_layers=4, num_heads=4, d_ff=576),
            n_utterances=1000,
            n_clusters=100,
            steps=500,
            iteration2_steps=250,
            iteration2_layer=2,
        ),
    )
)


def _recipe(name: str | PretrainedRecipe) -> PretrainedRecipe:
    if isinstance(name, PretrainedRecipe):
        return name
    try:
        return RECIPES[name]
    except KeyError:
        raise KeyError(f"no pretrained recipe {name!r}; known: {', '.join(sorted(RECIPES))}") from None


def cache_path(name: str | PretrainedRecipe) -> Path:
    """Where the checkpoint of recipe ``name`` is (or will be) cached."""
    return cache_dir("pretrained") / f"{_recipe(name).key()}.pt"


def _training_audio(recipe: PretrainedRecipe) -> list[np.ndarray]:
    """The unlabeled pretraining audio: the embedded corpus's training split."""
    from speechlm import corpus

    utterances = corpus.load(
        "embedded", split="train", size=recipe.hubert.n_utterances, seed=recipe.corpus_seed
    )
    return [u.audio for u in utterances]


def load(name: str | PretrainedRecipe = "hubert", *, progress: bool = True) -> SpeechEncoder:
    """The pretrained encoder of recipe ``name`` in eval mode, trained and cached on first use."""
    recipe = _recipe(name)
    path = cache_path(recipe)
    if not path.exists():
        encoder, info = pretrain_hubert(_training_audio(recipe), recipe.hubert, progress=progress)
        state = {
            "encoder": encoder.state_dict(),
            "config": encoder.config.to_dict(),
            "info": {k: float(v) for k, v in info.items()},
            "key": recipe.key(),
        }
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
    state = torch.load(path, map_location="cpu", weights_only=True)
    encoder = SpeechEncoder(EncoderConfig(**state["config"]))
    encoder.load_state_dict(state["encoder"])
    return encoder.eval()


def load_info(name: str | PretrainedRecipe = "hubert") -> dict[str, float]:
    """What the pretraining run measured (masked-prediction accuracy per iteration, time in s);
    the encoder must be cached (call :func:`load` first)."""
    path = cache_path(name)
    if not path.exists():
        raise FileNotFoundError(
            f"recipe {_recipe(name).name!r} is not cached yet at {path}: call load() first"
        )
    return dict(torch.load(path, map_location="cpu", weights_only=True)["info"])
