"""How much speaker identity a representation keeps, and one way to remove it (notebook 17).

The probe: mean-pool each utterance's frames into one vector, then train a
linear classifier (:func:`speechlm.ssl.linear_probe`) to name the speaker
among ``N`` speakers. Every speaker has utterances on both sides
(:func:`split_per_speaker`: identification, not verification), the speakers
are from a split the encoder never saw in pretraining, and chance is ``1/N``.

The mitigation: a linear projection that removes the subspace in which
speakers differ on average,

.. math::
    P = I - U U^\\top, \\qquad U = \\text{top-}k \\text{ principal directions of } \\{\\mu_s - \\bar\\mu\\}_s,

fitted on enrolment utterances (:func:`speaker_subspace`) and applied to every
frame (:func:`project_out`), so that the same features can still be probed for
phones, which is the mitigation's cost. With ``k = N - 1`` the training
speakers' mean embeddings coincide after the projection. This is the
"nuisance attribute projection" of speaker verification (Solomonoff et al.,
2005) turned around: here the speaker is the nuisance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from speechlm.ssl.probe import linear_probe

__all__ = ["mean_pool", "project_out", "speaker_id_accuracy", "speaker_subspace", "split_per_speaker"]


def mean_pool(layer_frames: Sequence[np.ndarray]) -> np.ndarray:
    """Average over time: a list of ``(..., frames, dim)`` arrays to one ``(n, ..., dim)`` array
    (for :func:`~speechlm.responsible.encode_layers` output: ``(n, num_layers + 1, d_model)``)."""
    if len(layer_frames) == 0:
        raise ValueError("mean_pool needs at least one utterance, got none")
    return np.stack([np.asarray(f, dtype=np.float32).mean(axis=-2) for f in layer_frames])


def split_per_speaker(
    speakers: Sequence[str], train_fraction: float = 0.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Split utterance indices so that every speaker has utterances on both sides.

    Each speaker's utterances are shuffled (``seed``) and ``round(train_fraction * n)`` of them,
    at least one and at most ``n - 1``, go to training. Returns sorted ``(train_index, test_index)``.
    A speaker with a single utterance cannot be split: that raises.
    """
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must lie strictly between 0 and 1, got {train_fraction}")
    speakers = np.asarray(speakers)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for speaker in np.unique(speakers):
        index = rng.permutation(np.flatnonzero(speakers == speaker))
        if len(index) < 2:
            raise ValueError(
                f"speaker {speaker!r} has a single utterance: identification needs at least 2 per speaker"
            )
        k = min(max(round(train_fraction * len(index)), 1), len(index) - 1)
        train += index[:k].tolist()
        test += index[k:].tolist()
    return np.sort(train), np.sort(test)


def speaker_id_accuracy(
    embeddings: np.ndarray, speakers: Sequence[str], train_index, test_index, seed: int = 0
) -> float:
    """Held-out accuracy of a linear speaker classifier on ``embeddings (n, dim)`` (one row per
    utterance), trained on rows ``train_index`` and tested on rows ``test_index``."""
    x = np.asarray(embeddings, dtype=np.float32)
    speakers = np.asarray(speakers)
    if x.ndim != 2 or len(x) != len(speakers):
        raise ValueError(
            f"expected embeddings (n, dim), one speaker per row, got {x.shape} for {len(speakers)} speakers"
        )
    if np.intersect1d(train_index, test_index).size:
        raise ValueError("train_index and test_index overlap: the probe would be tested on its training data")
    return linear_probe(x[train_index], speakers[train_index], x[test_index], speakers[test_index], seed=seed)


def speaker_subspace(embeddings: np.ndarray, speakers: Sequence[str], k: int) -> np.ndarray:
    """``(dim, k)`` orthonormal basis of the top ``k`` principal directions of the per-speaker mean
    embeddings (centred on their average). ``embeddings (n, dim)``; ``k`` at most ``N - 1`` for ``N``
    speakers (the means span no more)."""
    x = np.asarray(embeddings, dtype=np.float64)
    speakers = np.asarray(speakers)
    if x.ndim != 2 or len(x) != len(speakers):
        raise ValueError(
            f"expected embeddings (n, dim), one speaker per row, got {x.shape} for {len(speakers)} speakers"
        )
    names = np.unique(speakers)
    if not 0 <= k <= min(len(names) - 1, x.shape[1]):
        raise ValueError(
            f"k must lie in [0, {min(len(names) - 1, x.shape[1])}] for {len(names)} speakers "
            f"of dimension {x.shape[1]}, got {k}"
        )
    means = np.stack([x[speakers == s].mean(axis=0) for s in names])
    _, _, vt = np.linalg.svd(means - means.mean(axis=0), full_matrices=False)
    return vt[:k].T.copy()


def project_out(features: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Remove the span of ``basis (dim, k)`` (orthonormal columns) from ``features (..., dim)``:
    ``x - (x U) U^T``, float32."""
    x = np.asarray(features)
    u = np.asarray(basis, dtype=np.float64)
    if u.ndim != 2 or x.shape[-1] != u.shape[0]:
        raise ValueError(f"basis must be (dim, k) with dim = {x.shape[-1]}, got {u.shape}")
    if not np.allclose(u.T @ u, np.eye(u.shape[1]), atol=1e-6):
        raise ValueError("basis columns must be orthonormal (use speaker_subspace or np.linalg.qr)")
    x64 = x.astype(np.float64)
    return (x64 - (x64 @ u) @ u.T).astype(np.float32)
