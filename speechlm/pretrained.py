"""Pretrained speech encoders shared by notebooks 11-17, and a speech recogniser built on them,
trained on first use and then cached.

``load("hubert")`` returns the course's HuBERT-pretrained :class:`~speechlm.ssl.SpeechEncoder`;
``load_asr()`` returns :class:`ASR`, that encoder fine-tuned with CTC on labelled training
utterances (notebooks 13, 15 and 16 transcribe speech with it).
The first call pretrains it on the embedded corpus's unlabeled training split
(minutes, with a progress bar) and saves the state dict in
``speechlm.utils.cache_dir("pretrained")``; later calls, in any notebook,
load it in a second, from there or from a shared read-only cache
(``SPEECHLM_SHARED_CACHE``, see :func:`speechlm.utils.find_cached`). The file
name is the recipe's name, its version and a hash of every setting, so
changing the recipe never serves a stale encoder. Checkpoints are written
atomically and read with ``torch.load(weights_only=True)``; a cached file that
cannot be read (empty, truncated, not a checkpoint) is reported with a
:class:`~speechlm.utils.CacheWarning` naming it and trained again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from speechlm.checkpoints import cached_checkpoint
from speechlm.ctc import ALPHABET, CharVocab
from speechlm.features import SAMPLE_RATE, log_mel_features
from speechlm.finetune import CTCModel, FinetuneConfig, finetune_ctc, prepare, transcribe
from speechlm.ssl.encoder import EncoderConfig, SpeechEncoder
from speechlm.ssl.pretrain import HubertRecipe, pretrain_data2vec, pretrain_hubert, pretrain_wav2vec2
from speechlm.utils import cache_dir, find_cached

__all__ = [
    "ASR",
    "ASR_RECIPES",
    "RECIPES",
    "ASRRecipe",
    "PretrainedRecipe",
    "asr_cache_path",
    "cache_path",
    "load",
    "load_asr",
    "load_info",
    "register",
]


OBJECTIVES = ("hubert", "wav2vec2", "data2vec")  # pretrain_hubert, pretrain_wav2vec2, pretrain_data2vec

# Settings added after encoders were cached, with the value that trains as before: left out of a
# recipe's key while they hold it, so that every cached encoder keeps its key.
_ADDED_SETTINGS = {
    ("objective",): "hubert",
    ("hubert", "loss_on"): "masked",
    ("hubert", "targets"): "kmeans",
    ("hubert", "ensemble"): (),
}


@dataclass(frozen=True)
class PretrainedRecipe:
    """A named, versioned pretraining recipe; bump ``version`` when the training code changes."""

    name: str
    version: int
    hubert: HubertRecipe = field(default_factory=HubertRecipe)
    corpus_seed: int = 0  # seed of the embedded corpus's training split
    # "hubert" (pretrain_hubert), "wav2vec2" (the contrastive objective) or "data2vec" (regression of
    # an EMA teacher's layers) on the same data and budget
    # (pretrain_wav2vec2; the recipe's clusters and iteration-2 layer then do not apply)
    objective: str = "hubert"

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")

    def key(self) -> str:
        settings = asdict(self)
        for (*parents, name), before in _ADDED_SETTINGS.items():
            owner = settings
            for parent in parents:
                owner = owner[parent]
            if owner[name] == before:
                del owner[name]
        settings = json.dumps(settings, sort_keys=True, default=str)
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
    """Where the checkpoint of recipe ``name`` is written in the writable cache (creates no folder);
    :func:`load` also finds it in a shared read-only cache."""
    return cache_dir("pretrained", create=False) / f"{_recipe(name).key()}.pt"


# How long the course's own recipes take to train on first use (2-core CPU, measured: the comments at
# their register() calls; the course map's cold times), announced before training starts.
TRAINING_TIME = {
    "hubert": "about 10 minutes",
    "ctc": "about 4 to 5 minutes, after the encoder's if that is not cached",
}
_UNKNOWN_COST = "from seconds for a tiny recipe to minutes for a course-sized one"


def _cost(name: str) -> str:
    return TRAINING_TIME.get(name, _UNKNOWN_COST)


def _training_audio(recipe: PretrainedRecipe) -> Iterator[np.ndarray]:
    """The unlabeled pretraining audio: the embedded corpus's training split, one array at a time,
    each dropped once the pretraining has taken its features (which are all it keeps: 122 MB of audio
    less during the course encoder's training)."""
    from speechlm import corpus

    utterances = corpus.load(
        "embedded", split="train", size=recipe.hubert.n_utterances, seed=recipe.corpus_seed
    )
    audios = [u.audio for u in reversed(utterances)]
    del utterances
    while audios:
        yield audios.pop()


def _pretrain_state(recipe: PretrainedRecipe, progress: bool) -> dict:
    pretrain = {"hubert": pretrain_hubert, "wav2vec2": pretrain_wav2vec2, "data2vec": pretrain_data2vec}[
        recipe.objective
    ]
    encoder, info = pretrain(_training_audio(recipe), recipe.hubert, progress=progress)
    return {
        "encoder": encoder.state_dict(),
        "config": encoder.config.to_dict(),
        "info": {k: float(v) for k, v in info.items()},
        "key": recipe.key(),
    }


def _encoder(state: dict) -> SpeechEncoder:
    encoder = SpeechEncoder(EncoderConfig(**state["config"]))
    encoder.load_state_dict(state["encoder"])
    return encoder.eval()


def _info(state: dict) -> dict[str, float]:
    return {str(k): float(v) for k, v in state["info"].items()}


def load(name: str | PretrainedRecipe = "hubert", *, progress: bool = True) -> SpeechEncoder:
    """The pretrained encoder of recipe ``name`` in eval mode, trained and cached on first use
    (and trained again, with a CacheWarning, if its cached file is damaged)."""
    recipe = _recipe(name)
    return cached_checkpoint(
        f"{recipe.key()}.pt",
        "encoder",
        lambda: _pretrain_state(recipe, progress),
        _encoder,
        recipe.name,
        _cost(recipe.name),
    )


def load_info(name: str | PretrainedRecipe = "hubert") -> dict[str, float]:
    """What the pretraining run measured (HuBERT: masked-prediction accuracy per iteration; wav2vec
    2.0: see :func:`~speechlm.ssl.pretrain.pretrain_wav2vec2`; time in s); the encoder must be
    cached (call :func:`load` first). A damaged cached file is reported and trained again."""
    recipe = _recipe(name)
    filename = f"{recipe.key()}.pt"
    if find_cached("pretrained", filename) is None:
        raise FileNotFoundError(
            f"recipe {recipe.name!r} is not cached yet at {cache_path(recipe)}: call load() first"
        )
    return cached_checkpoint(
        filename, "encoder", lambda: _pretrain_state(recipe, True), _info, recipe.name, _cost(recipe.name)
    )


@dataclass(frozen=True)
class ASRRecipe:
    """A CTC recogniser: the encoder of pretraining recipe ``encoder`` fine-tuned on the first
    ``n_utterances`` of the embedded corpus's training split (checkpoint chosen on dev speakers)."""

    name: str
    version: int
    encoder: str = "hubert"
    n_utterances: int = 1000
    n_dev: int = 60
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    corpus_seed: int = 0

    def key(self) -> str:
        settings = json.dumps(
            {**asdict(self), "encoder": _recipe(self.encoder).key()}, sort_keys=True, default=str
        )
        return f"{self.name}-v{self.version}-{hashlib.sha256(settings.encode()).hexdigest()[:12]}"


ASR_RECIPES: dict[str, ASRRecipe] = {}

# The course's recogniser (see load_asr): 600 steps of batch 16 on 1,000 utterances, encoder learning
# rate 1e-3; the first call fine-tunes it (about 4.3 minutes on the idle 2-core machine, dev CER 0.24).
# Version 1 (800 steps, 5e-4) took 5.8 minutes for dev CER 0.25 (benchmarks/recogniser.py).
ASR_RECIPES["ctc"] = ASRRecipe(
    "ctc", version=2, finetune=FinetuneConfig(steps=600, batch_size=16, lr_encoder=1e-3, eval_every=200)
)


class ASR:
    """A speech recogniser: ``transcribe(audios)`` gives greedy CTC transcripts, lower-case letters,
    apostrophes and single spaces (:data:`speechlm.ctc.ALPHABET`).

    ``model`` is the :class:`~speechlm.finetune.CTCModel` (eval mode), ``vocab`` its
    :class:`~speechlm.ctc.CharVocab`, ``info`` what fine-tuning measured (``"dev_cer"``, ``"time_s"``).
    """

    def __init__(self, model: CTCModel, vocab: CharVocab, info: dict[str, float]):
        self.model = model.eval()
        self.vocab = vocab
        self.info = info

    def transcribe(self, audios, sample_rate: int = SAMPLE_RATE, batch_size: int = 32) -> list[str]:
        """Transcripts of ``audios``, a list of mono float arrays (samples,) at 16 kHz."""
        if isinstance(audios, np.ndarray) and audios.ndim == 1:
            raise TypeError("expected a list of clips; wrap a single clip as [audio]")
        mels = [log_mel_features(a, sample_rate) for a in audios]
        return transcribe(self.model, mels, self.vocab, batch_size=batch_size)


def _asr_recipe(name: str | ASRRecipe) -> ASRRecipe:
    if isinstance(name, ASRRecipe):
        return name
    try:
        return ASR_RECIPES[name]
    except KeyError:
        raise KeyError(f"no ASR recipe {name!r}; known: {', '.join(sorted(ASR_RECIPES))}") from None


def _labelled(recipe: ASRRecipe, vocab: CharVocab):
    """Training and dev items of the embedded corpus for fine-tuning."""
    from speechlm import corpus

    train = corpus.load("embedded", split="train", size=recipe.n_utterances, seed=recipe.corpus_seed)
    dev = corpus.load("embedded", split="dev", size=recipe.n_dev, seed=recipe.corpus_seed)
    return prepare(train, vocab), prepare(dev, vocab)


def asr_cache_path(name: str | ASRRecipe = "ctc") -> Path:
    """Where the recogniser of recipe ``name`` is written in the writable cache (creates no folder)."""
    return cache_dir("pretrained", create=False) / f"{_asr_recipe(name).key()}.pt"


def load_asr(name: str | ASRRecipe = "ctc", *, progress: bool = True) -> ASR:
    """The recogniser of recipe ``name``, fine-tuned and cached on first use (then loaded in a second;
    fine-tuned again, with a CacheWarning, if its cached file is damaged)."""
    import time

    recipe = _asr_recipe(name)
    vocab = CharVocab(ALPHABET)

    def build() -> dict:
        encoder = load(recipe.encoder, progress=progress)
        train, dev = _labelled(recipe, vocab)
        start = time.perf_counter()
        model, info = finetune_ctc(encoder, train, dev, vocab, recipe.finetune, progress=progress)
        return {
            "model": model.state_dict(),
            "config": model.encoder.config.to_dict(),
            "info": {"dev_cer": float(info["best_dev_cer"]), "time_s": time.perf_counter() - start},
            "key": recipe.key(),
        }

    def decode(state: dict) -> ASR:
        model = CTCModel(SpeechEncoder(EncoderConfig(**state["config"])), len(vocab))
        model.load_state_dict(state["model"])
        return ASR(model, vocab, _info(state))

    return cached_checkpoint(
        asr_cache_path(recipe).name, "recogniser", build, decode, recipe.name, _cost(recipe.name)
    )
