"""Robustness of frozen speech representations to noise, speed and pitch changes (notebook 17).

The test: a small classifier (linear discriminant analysis with shrinkage,
``sklearn``) reads the phone of every 20 ms frame from one layer of a frozen
encoder. It is trained on clean speech of some speakers and tested on other
speakers' speech, clean and perturbed with :mod:`speechlm.augment` (noise at
an SNR, speed, pitch). Comparing a pretrained encoder with the same
architecture at random initialisation shows what pretraining buys under
each perturbation, and :func:`train_phone_encoder` gives the supervised
baseline: the same architecture trained from scratch on the probe's labelled
clips. A speed change moves every phone: the alignment is rescaled by
``1 / factor`` so the labels follow the audio.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from torch import nn

from speechlm import augment
from speechlm.batching import pad_sequences
from speechlm.features import encoder_lengths, log_mel_features
from speechlm.responsible.interpret import encode_layers, frame_phone_targets
from speechlm.ssl.encoder import EncoderConfig, SpeechEncoder
from speechlm.train import fit

__all__ = ["PERTURBATION_KINDS", "Perturbation", "phone_accuracy_under_perturbations", "train_phone_encoder"]

PERTURBATION_KINDS = ("clean", "noise", "speed", "pitch")


@dataclass(frozen=True)
class Perturbation:
    """A perturbation of a clip: ``kind`` "clean", "noise" (``amount`` = SNR in dB, ``noise`` =
    "white", "pink" or "babble"), "speed" (``amount`` = factor, 1.2 is 20% faster) or "pitch"
    (``amount`` = semitones)."""

    kind: str
    amount: float = 0.0
    noise: str = "white"

    def __post_init__(self):
        if self.kind not in PERTURBATION_KINDS:
            raise ValueError(f"kind must be one of {PERTURBATION_KINDS}, got {self.kind!r}")
        if self.kind == "speed" and self.amount <= 0:
            raise ValueError(f"a speed factor must be positive, got {self.amount}")

    @property
    def name(self) -> str:
        if self.kind == "clean":
            return "clean"
        if self.kind == "noise":
            return f"{self.noise} noise {self.amount:g} dB"
        if self.kind == "speed":
            return f"speed x{self.amount:g}"
        return f"pitch {self.amount:+g} st"

    @property
    def time_scale(self) -> float:
        """How much faster the perturbed clip runs: event times are divided by it."""
        return self.amount if self.kind == "speed" else 1.0

    def apply(self, audio: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """The perturbed clip, float32 ``(num_samples',)`` at 16 kHz (``rng`` draws the noise)."""
        if self.kind == "noise":
            out = augment.add_noise(audio, self.amount, noise=self.noise, rng=rng)
        elif self.kind == "speed":
            out = augment.change_speed(audio, self.amount)
        elif self.kind == "pitch":
            out = augment.shift_pitch(audio, self.amount)
        else:
            out = audio
        return np.asarray(out, dtype=np.float32)


def phone_accuracy_under_perturbations(
    encoders: Mapping[str, SpeechEncoder],
    train: Sequence,
    test: Sequence,
    perturbations: Sequence[Perturbation],
    layer: int,
    seed: int = 0,
    progress: Callable | None = None,
) -> dict[str, dict[str, float]]:
    """Frame phone accuracy of each encoder's ``layer`` under each perturbation:
    ``{encoder name: {perturbation name: accuracy}}``.

    ``train`` and ``test`` are utterances (``.audio`` at 16 kHz, ``.phones``), ideally of different
    speakers. Per encoder, a shrinkage LDA classifier is fitted once on the clean training frames,
    then scored on the test clips under every perturbation (the noise of clip ``i`` is drawn with
    ``seed + i``, so every encoder hears the same noisy clips). ``progress`` wraps the loop over
    encoders and perturbations (``tqdm.auto.tqdm``).
    """
    if not perturbations:
        raise ValueError("give at least one perturbation (Perturbation('clean') for the baseline)")
    perturbed = {
        p.name: [p.apply(u.audio, np.random.default_rng(seed + i)) for i, u in enumerate(test)]
        for p in perturbations
    }
    jobs = [(name, p) for name in encoders for p in perturbations]
    result: dict[str, dict[str, float]] = {name: {} for name in encoders}
    classifiers = {}
    for name, p in progress(jobs) if progress else jobs:
        encoder = encoders[name]
        if not 0 <= layer <= len(encoder.layers):
            raise ValueError(f"layer must be in [0, {len(encoder.layers)}], got {layer}")
        if name not in classifiers:
            frames = [f[layer] for f in encode_layers(encoder, [u.audio for u in train])]
            labels = frame_phone_targets([u.phones for u in train], [len(f) for f in frames])
            classifiers[name] = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(
                np.concatenate(frames), labels
            )
        frames = [f[layer] for f in encode_layers(encoder, perturbed[p.name])]
        labels = frame_phone_targets([u.phones for u in test], [len(f) for f in frames], p.time_scale)
        result[name][p.name] = float(classifiers[name].score(np.concatenate(frames), labels))
    return result


def train_phone_encoder(
    config: EncoderConfig,
    utterances: Sequence,
    layer: int,
    steps: int = 300,
    batch_size: int = 8,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = False,
) -> SpeechEncoder:
    """The supervised from-scratch baseline: a :class:`SpeechEncoder` with ``config`` at random
    initialisation, trained end to end with a linear phone classifier on block ``layer``'s output
    (frame cross-entropy, AdamW at ``lr``, ``steps`` batches of ``batch_size`` clips) on the clean
    ``utterances`` (``.audio`` at 16 kHz, ``.phones``). Returns the encoder in eval mode; the
    classifier is dropped (the robustness test fits its own on the frames, as for any encoder)."""
    if not utterances:
        raise ValueError("train_phone_encoder needs at least one labelled utterance")
    if not 0 <= layer <= config.num_layers:
        raise ValueError(f"layer must be in [0, {config.num_layers}], got {layer}")
    torch.manual_seed(seed)
    encoder = SpeechEncoder(config)
    mels = [log_mel_features(u.audio) for u in utterances]
    frames = encoder_lengths(torch.tensor([len(m) for m in mels])).tolist()
    labels = frame_phone_targets([u.phones for u in utterances], frames)
    classes, ids = np.unique(labels, return_inverse=True)
    targets = np.split(ids, np.cumsum(frames)[:-1])
    head = nn.Linear(config.d_model, len(classes))
    rng = np.random.default_rng(seed)

    def batches():
        while True:
            batch = rng.choice(len(mels), size=min(batch_size, len(mels)), replace=False)
            yield batch, *pad_sequences([mels[i] for i in batch])

    def step_fn(model: nn.ModuleDict, batch) -> torch.Tensor:
        indices, padded, lengths = batch
        logits = model["head"](model["encoder"](padded, lengths).layers[layer])
        target = torch.full(logits.shape[:2], -100, dtype=torch.long)
        for row, i in enumerate(indices):
            target[row, : frames[i]] = torch.from_numpy(targets[i])
        return F.cross_entropy(logits.reshape(-1, len(classes)), target.reshape(-1), ignore_index=-100)

    model = nn.ModuleDict({"encoder": encoder, "head": head})
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    fit(
        model,
        batches(),
        optimizer=optimizer,
        steps=steps,
        step_fn=step_fn,
        grad_clip=5.0,
        progress=progress,
        desc="supervised phone encoder",
    )
    return encoder.eval()
