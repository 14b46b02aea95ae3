"""HuBERT pretraining on unlabeled audio, end to end (notebook 11; cached by :mod:`speechlm.pretrained`).

1. log-mel encoder inputs and 50 frames/s MFCC (+ deltas) for every utterance;
2. iteration 1: k-means on the MFCC frames gives one target unit per encoder frame;
3. masked prediction of those units (:class:`speechlm.ssl.HuBERT`) for ``steps`` updates;
4. iteration 2 (optional): k-means on layer ``iteration2_layer`` of the iteration-1
   encoder gives new targets, and training continues from the iteration-1 weights.

:func:`pretrain_wav2vec2` trains the same encoder with wav2vec 2.0's contrastive objective instead,
and :func:`pretrain_data2vec` with data2vec's regression of an EMA teacher's layers, on the same data
and budget, to compare the objectives as pretraining for fine-tuning.

Everything is seeded; the same arguments give the same encoder on the same machine.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from speechlm import units, workers
from speechlm.features import log_mel_features, mfcc_features
from speechlm.optim import scheduler
from speechlm.ssl.data2vec import Data2Vec
from speechlm.ssl.encoder import EncoderConfig
from speechlm.ssl.hubert import HuBERT, check_loss_on, collate_targets, layer_features
from speechlm.ssl.wav2vec2 import Wav2Vec2
from speechlm.train import fit

__all__ = [
    "HubertRecipe",
    "kmeans_targets",
    "pretrain_data2vec",
    "pretrain_hubert",
    "pretrain_wav2vec2",
    "random_projection_targets",
    "recipe_targets",
    "train_on_targets",
]


TARGETS = ("kmeans", "random_projection")  # kmeans_targets, random_projection_targets


@dataclass(frozen=True)
class HubertRecipe:
    """Everything that determines a pretrained encoder (and so its cache key): its size, data and
    budget, for either objective (HuBERT's masked prediction, and wav2vec 2.0's contrastive loss, for
    which ``n_clusters`` and the iteration-2 settings do not apply)."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    n_utterances: int = 3000  # unlabeled training utterances
    n_clusters: int = 100  # k-means units used as targets
    steps: int = 3000  # iteration-1 updates
    iteration2_steps: int = 0  # 0: no second iteration
    iteration2_layer: int = 2  # the layer whose k-means units are the iteration-2 targets
    batch_size: int = 16
    lr: float = 1e-3  # peak learning rate of AdamW
    warmup_steps: int = 200
    max_kmeans_frames: int = 100_000  # frames sampled to fit k-means
    seed: int = 0
    loss_on: str = "masked"  # "masked" (HuBERT's choice) or "all": frames scored by the loss
    # the target units: "kmeans" (HuBERT) or "random_projection" (BEST-RQ: a frozen random projection
    # and codebook, no clustering; Chiu et al. 2022), of n_clusters units
    targets: str = "kmeans"
    ensemble: tuple[int, ...] = ()  # sizes of extra codebooks predicted at once (a cluster ensemble)

    def __post_init__(self):
        check_loss_on(self.loss_on)
        if self.targets not in TARGETS:
            raise ValueError(f"targets must be one of {TARGETS}, got {self.targets!r}")
        if any(k < 2 for k in self.ensemble):
            raise ValueError(f"every ensemble codebook needs at least 2 units, got {self.ensemble}")


def kmeans_targets(
    features: Sequence[np.ndarray], n_clusters: int, *, seed: int = 0, max_frames: int = 100_000
) -> tuple[list[np.ndarray], object]:
    """Fit k-means on (at most ``max_frames`` randomly sampled) frames of ``features`` (a list of
    ``(frames, dim)`` arrays) and return each utterance's units ``(frames,)`` and the model."""
    stacked = np.concatenate(features)
    if stacked.shape[0] > max_frames:
        pick = np.random.default_rng(seed).choice(stacked.shape[0], max_frames, replace=False)
        stacked = stacked[np.sort(pick)]
    kmeans = units.fit_kmeans(stacked, n_clusters, seed=seed)
    return [units.assign_units(kmeans, f) for f in features], kmeans


def random_projection_targets(
    features: Sequence[np.ndarray], n_codes: int, *, dim: int = 16, seed: int = 0
) -> list[np.ndarray]:
    """BEST-RQ's targets (Chiu et al. 2022): each frame of ``features`` (a list of ``(frames,
    feature_dim)`` arrays), standardised with the mean and deviation of all frames, is projected by a
    frozen random matrix ``(feature_dim, dim)`` (Xavier-normal) and given the index of the nearest of
    ``n_codes`` random unit vectors (cosine). Nothing is learned: the cheapest target family."""
    if n_codes < 2:
        raise ValueError(f"n_codes must be at least 2, got {n_codes}")
    stacked = np.concatenate(features)
    mean, std = stacked.mean(0), stacked.std(0) + 1e-5
    rng = np.random.default_rng(seed)
    projection = rng.normal(0.0, np.sqrt(2.0 / (stacked.shape[1] + dim)), size=(stacked.shape[1], dim))
    codebook = rng.standard_normal((n_codes, dim))
    codebook /= np.linalg.norm(codebook, axis=1, keepdims=True)
    out = []
    for f in features:
        z = ((f - mean) / std) @ projection
        z /= np.linalg.norm(z, axis=1, keepdims=True) + 1e-12
        out.append((z @ codebook.T).argmax(1).astype(np.int64))
    return out


def recipe_targets(features: Sequence[np.ndarray], recipe: HubertRecipe, seed: int) -> list[np.ndarray]:
    """Each utterance's targets for ``recipe``: ``(frames,)`` units of one codebook (``n_clusters``,
    from ``recipe.targets``), or ``(frames, 1 + len(ensemble))`` for a cluster ensemble, the extra
    codebooks with seeds ``seed + 1, seed + 2, ...``."""
    codebooks = []
    for i, size in enumerate((recipe.n_clusters, *recipe.ensemble)):
        if recipe.targets == "kmeans":
            units_i, _ = kmeans_targets(features, size, seed=seed + i, max_frames=recipe.max_kmeans_frames)
        else:
            units_i = random_projection_targets(features, size, seed=seed + i)
        codebooks.append(units_i)
    if len(codebooks) == 1:
        return codebooks[0]
    return [np.stack(per_utterance, axis=1) for per_utterance in zip(*codebooks, strict=True)]


def train_on_targets(
    model, mels, targets, recipe: HubertRecipe, steps: int, progress: bool, seed: int, step_fn=None
):
    """``steps`` updates of ``model`` on batches of ``(mels, mel_lengths, targets)`` (AdamW, warm-up
    then linear decay, gradients clipped at 1); ``step_fn`` as in :func:`speechlm.train.fit`. Where
    memory is short (Binder's 2 GB, :func:`speechlm.workers.memory_is_short`) the C heap is trimmed
    after every step, so that variable-length batches do not grow it (the course encoder's
    pretraining peaked at 2.7 GB without, 1.5 GB with, on the 2-core machine, at about a third more
    time per step), and the encoder recomputes each Transformer block's activations during backward
    instead of keeping them (:attr:`SpeechEncoder.checkpoint_blocks`; a batch of 16 utterances of
    4.7 s kept 372 MB of activations): the same weights to the bit, at about 30% more time per step
    than trimming alone (``benchmarks/pretraining_memory.py``)."""
    generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(
        list(zip(mels, [torch.from_numpy(t) for t in targets], strict=True)),
        batch_size=recipe.batch_size, shuffle=True, collate_fn=collate_targets, generator=generator,
        drop_last=len(mels) > recipe.batch_size,
    )  # fmt: skip
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=0.01)
    schedule = scheduler(optimizer, steps, recipe.warmup_steps)
    short = workers.memory_is_short()
    model.encoder.checkpoint_blocks = short  # recompute each block in backward: same gradients
    try:
        return fit(model, loader, optimizer=optimizer, steps=steps, step_fn=step_fn, scheduler=schedule,
                   grad_clip=1.0, seed=seed, progress=progress, log_every=max(1, steps // 50),
                   release_memory=short)  # fmt: skip
    finally:
        model.encoder.checkpoint_blocks = False


def pretrain_hubert(audios: Iterable[np.ndarray], recipe: HubertRecipe, *, progress: bool = True):
    """Pretrain a :class:`SpeechEncoder` on ``audios`` (16 kHz mono arrays, read once: a list or a
    generator) with HuBERT.

    Returns ``(encoder, info)``; ``info`` holds the final masked-prediction
    accuracy of each iteration (``"accuracy_it1"``, ``"accuracy_it2"``) and
    the training time in seconds.
    """
    mels, mfcc = [], []
    for audio in audios:  # read once: a generator can drop each array once its features are taken
        mels.append(log_mel_features(audio))
        mfcc.append(mfcc_features(audio))
    if not mels:
        raise ValueError("pretraining needs at least one utterance")
    targets = recipe_targets(mfcc, recipe, recipe.seed)
    del mfcc
    workers.release_free_memory()
    torch.manual_seed(recipe.seed)
    model = HuBERT(recipe.n_clusters, recipe.encoder, loss_on=recipe.loss_on, ensemble=recipe.ensemble)
    history = train_on_targets(model, mels, targets, recipe, recipe.steps, progress, recipe.seed)
    info = {"accuracy_it1": _last_accuracy(model, mels, targets), "time_s": history.time_s}
    workers.release_free_memory()
    if recipe.iteration2_steps > 0:
        hidden = layer_features(model.encoder, mels, recipe.iteration2_layer)
        targets = recipe_targets([_standardise(h) for h in hidden], recipe, recipe.seed)
        del hidden
        workers.release_free_memory()
        encoder_state = model.encoder.state_dict()
        torch.manual_seed(recipe.seed + 1)
        model = HuBERT(recipe.n_clusters, recipe.encoder, loss_on=recipe.loss_on, ensemble=recipe.ensemble)
        model.encoder.load_state_dict(encoder_state)
        history2 = train_on_targets(
            model, mels, targets, recipe, recipe.iteration2_steps, progress, recipe.seed + 1
        )
        info["accuracy_it2"] = _last_accuracy(model, mels, targets)
        info["time_s"] += history2.time_s
    return model.encoder, info


def pretrain_wav2vec2(audios: Iterable[np.ndarray], recipe: HubertRecipe, *, progress: bool = True):
    """Pretrain a :class:`SpeechEncoder` on ``audios`` with wav2vec 2.0's contrastive objective
    (:class:`speechlm.ssl.Wav2Vec2`) on the budget of a HuBERT ``recipe``: its encoder, batch size,
    learning rate, warm-up and seed, for ``steps + iteration2_steps`` updates (``n_clusters`` and the
    iteration-2 layer do not apply). The Gumbel temperature decays from 2 to 0.5 over the first 80% of
    the updates, as wav2vec 2.0's does over its run.

    Returns ``(encoder, info)``; ``info`` holds the mean loss of the first and the last 2% of the
    updates (``loss_start``, ``loss``), the final contrastive ``accuracy`` (the true quantised frame
    scored above the distractors), the codebook ``perplexity`` and the time in seconds.
    """
    tau_start, tau_end = 2.0, 0.5

    def build(steps: int) -> Wav2Vec2:
        decay = (tau_end / tau_start) ** (1 / max(1, round(0.8 * steps)))
        return Wav2Vec2(recipe.encoder, tau_start=tau_start, tau_end=tau_end, tau_decay=decay)

    return _pretrain_without_targets(audios, recipe, build, ("accuracy", "perplexity"), progress)


def pretrain_data2vec(
    audios: Iterable[np.ndarray],
    recipe: HubertRecipe,
    *,
    top_k: int = 2,
    ema: tuple[float, float] = (0.99, 0.999),
    ema_ramp_fraction: float = 1 / 3,
    progress: bool = True,
):
    """Pretrain a :class:`SpeechEncoder` on ``audios`` with data2vec's objective
    (:class:`speechlm.ssl.Data2Vec`: regress the average of an EMA teacher's top ``top_k`` block
    outputs at the masked frames) on the budget of a HuBERT ``recipe``: its encoder, batch size,
    learning rate, warm-up and seed, for ``steps + iteration2_steps`` updates (``n_clusters`` and the
    iteration-2 layer do not apply). The EMA decay ramps from ``ema[0]`` to ``ema[1]`` over the first
    ``ema_ramp_fraction`` of the updates.

    Returns ``(encoder, info)`` (the student); ``info`` holds the mean loss of the first and the last
    logging interval (``loss_start``, ``loss``), the last batch's ``target_std`` and ``cosine``
    (see :class:`~speechlm.ssl.Data2Vec`) and the time in seconds.
    """

    def build(steps: int) -> Data2Vec:
        return Data2Vec(
            recipe.encoder, top_k=top_k, ema_start=ema[0], ema_end=ema[1],
            ema_ramp_steps=round(ema_ramp_fraction * steps),
        )  # fmt: skip

    return _pretrain_without_targets(audios, recipe, build, ("target_std", "cosine"), progress)


def _pretrain_without_targets(audios, recipe: HubertRecipe, build, reported: tuple[str, ...], progress: bool):
    """The training both target-free objectives share (wav2vec 2.0's and data2vec's): the log-mel
    features read once, ``build(steps)`` seeded with ``recipe.seed`` for ``steps + iteration2_steps``
    updates, the model making its own targets from each batch; returns the encoder and ``info``: the
    mean loss of the first and the last logging interval, the ``reported`` metrics of the last batch
    and the time in seconds."""
    mels = [log_mel_features(a) for a in audios]  # read once, as in pretrain_hubert
    if not mels:
        raise ValueError("pretraining needs at least one utterance")
    steps = recipe.steps + recipe.iteration2_steps
    torch.manual_seed(recipe.seed)
    model = build(steps)
    last: dict[str, float] = {}

    def step(model, batch):
        loss, metrics = model(batch[0], batch[1])  # no targets: the batch's are zeros
        last.update(metrics)
        return loss

    no_targets = [np.zeros(1, dtype=np.int64)] * len(mels)
    history = train_on_targets(model, mels, no_targets, recipe, steps, progress, recipe.seed, step_fn=step)
    info = {"loss_start": history.train_loss[0], "loss": history.train_loss[-1]}
    info.update({name: last[name] for name in reported})
    info["time_s"] = history.time_s
    return model.encoder, info


def _standardise(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-5)


@torch.no_grad()
def _last_accuracy(model: HuBERT, mels, targets, n: int = 64) -> float:
    """Masked-prediction accuracy on (up to) the first ``n`` training utterances, in eval mode."""
    model.eval()
    batch = collate_targets(list(zip(mels[:n], [torch.from_numpy(t) for t in targets[:n]], strict=True)))
    _, metrics = model(*batch)
    model.train()
    return metrics["accuracy"]
