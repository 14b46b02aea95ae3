"""The speech tokeniser of a spoken language model (notebook 13).

GSLM (Lakhotia et al. 2021) turns speech into text-like tokens in three steps:
an encoder layer's frames (here the course's pretrained HuBERT encoder,
50 frames/s), k-means units of those frames (:mod:`speechlm.units`), and
de-duplication of repeated units, which keeps their durations aside for
resynthesis. The unit language model reads only the de-duplicated units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from speechlm import units as unitlib
from speechlm.features import log_mel_features
from speechlm.ssl.encoder import SpeechEncoder
from speechlm.ssl.hubert import layer_features

__all__ = ["SpeechTokenizer", "UnitSequence", "encoder_frames"]


class UnitSequence(NamedTuple):
    """De-duplicated units ``(n,)`` int64 and their durations ``(n,)`` in 20 ms frames."""

    units: np.ndarray
    durations: np.ndarray


def encoder_frames(encoder: SpeechEncoder, audios: Sequence[np.ndarray], layer: int) -> list[np.ndarray]:
    """Hidden states of ``layer`` for each 16 kHz utterance, ``(frames, d_model)`` at 50 frames/s,
    standardised per utterance (zero mean, unit variance per dimension, as in notebook 11)."""
    if not audios:
        raise ValueError("expected at least one utterance")
    mels = [log_mel_features(a) for a in audios]
    return [(h - h.mean(0)) / (h.std(0) + 1e-5) for h in layer_features(encoder, mels, layer)]


@dataclass
class SpeechTokenizer:
    """Audio to units: ``encoder`` layer ``layer`` frames, then the nearest of ``kmeans``'s centroids."""

    encoder: SpeechEncoder
    layer: int
    kmeans: object

    @classmethod
    def fit(
        cls,
        encoder: SpeechEncoder,
        audios: Sequence[np.ndarray],
        n_units: int = 100,
        layer: int = 1,
        *,
        max_frames: int = 30_000,
        seed: int = 0,
    ) -> SpeechTokenizer:
        """Fit k-means with ``n_units`` clusters on (at most ``max_frames`` randomly chosen) frames of
        ``layer`` over ``audios``."""
        frames = np.concatenate(encoder_frames(encoder, audios, layer))
        if frames.shape[0] > max_frames:
            pick = np.random.default_rng(seed).choice(frames.shape[0], max_frames, replace=False)
            frames = frames[np.sort(pick)]
        return cls(encoder, layer, unitlib.fit_kmeans(frames, n_units, seed=seed, n_init=1))

    @property
    def n_units(self) -> int:
        return int(self.kmeans.cluster_centers_.shape[0])

    def units(self, audios: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Frame-level units of each utterance, ``(1 + samples // 320,)`` int64 at 50 frames/s."""
        return [
            unitlib.assign_units(self.kmeans, f) for f in encoder_frames(self.encoder, audios, self.layer)
        ]

    def tokenize(self, audios: Sequence[np.ndarray]) -> list[UnitSequence]:
        """De-duplicated units and their durations for each utterance."""
        return [UnitSequence(*unitlib.deduplicate(z)) for z in self.units(audios)]
