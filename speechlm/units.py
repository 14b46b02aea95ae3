"""Discrete speech units: k-means on frames, de-duplication and unit quality (notebook 10).

A unit is the index of the nearest k-means centroid of a feature frame
(MFCC in HuBERT's first iteration, a hidden layer of a speech encoder later).
Unit quality is measured against frame-level phone labels, with the three
numbers of the HuBERT paper (Hsu et al. 2021, section IV-D). From the joint
distribution :math:`p(y, z)` of phone :math:`y` and unit :math:`z` over all
frames:

.. math::
    \\text{phone purity} = \\sum_z p(z) \\max_y p(y \\mid z), \\qquad
    \\text{cluster purity} = \\sum_y p(y) \\max_z p(z \\mid y), \\qquad
    \\text{PNMI} = \\frac{I(y; z)}{H(y)}.

Phone purity is how well a unit predicts the phone, cluster purity how well a
phone predicts the unit, and PNMI the fraction of the phone's uncertainty that
knowing the unit removes (1: the unit tells the phone; 0: independent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import MiniBatchKMeans

__all__ = [
    "UnitQuality",
    "assign_units",
    "contingency",
    "deduplicate",
    "fit_kmeans",
    "frame_phone_labels",
    "unit_quality",
]


def _as_frames(features, name: str = "features") -> np.ndarray:
    x = np.asarray(features)
    if x.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_frames, n_features), got shape {x.shape}: "
            "stack the frames of all utterances with np.concatenate first"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} has no frames")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or inf")
    return x.astype(np.float32, copy=False)


def fit_kmeans(
    features, n_clusters: int, *, seed: int = 0, batch_size: int = 4096, max_iter: int = 100, n_init: int = 3
) -> MiniBatchKMeans:
    """Fit k-means (``sklearn.cluster.MiniBatchKMeans``, k-means++ initialisation) to frames.

    ``features`` is ``(n_frames, n_features)``: the frames of many utterances
    stacked. Deterministic for a given ``seed``. Returns the fitted model; its
    ``cluster_centers_`` are ``(n_clusters, n_features)``.
    """
    x = _as_frames(features)
    if not isinstance(n_clusters, int | np.integer) or n_clusters < 1:
        raise ValueError(f"n_clusters must be a positive integer, got {n_clusters!r}")
    if n_clusters > x.shape[0]:
        raise ValueError(f"n_clusters={n_clusters} is more than the {x.shape[0]} frames to cluster")
    kmeans = MiniBatchKMeans(
        n_clusters=int(n_clusters),
        init="k-means++",
        batch_size=batch_size,
        max_iter=max_iter,
        n_init=n_init,
        random_state=seed,
    )
    return kmeans.fit(x)


def assign_units(kmeans: MiniBatchKMeans, features) -> np.ndarray:
    """Units ``(n_frames,)`` int64: the index of each frame's nearest centroid."""
    x = _as_frames(features)
    expected = kmeans.cluster_centers_.shape[1]
    if x.shape[1] != expected:
        raise ValueError(f"features have {x.shape[1]} dimensions but the k-means model was fit on {expected}")
    return kmeans.predict(x).astype(np.int64)


def deduplicate(units) -> tuple[np.ndarray, np.ndarray]:
    """Collapse runs of the same unit: ``[5, 5, 5, 2, 2, 5]`` gives ``([5, 2, 5], [3, 2, 1])``.

    Returns ``(values, durations)``, both ``(n_runs,)`` int64; durations are in
    frames and sum to ``len(units)``. GSLM's unit language model reads the
    de-duplicated sequence (notebook 13).
    """
    u = np.asarray(units)
    if u.ndim != 1:
        raise ValueError(f"units must be 1-D (n_frames,), got shape {u.shape}")
    if u.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], u[1:] != u[:-1])))
    durations = np.diff(np.concatenate((starts, [u.size])))
    return u[starts].astype(np.int64), durations.astype(np.int64)


def frame_phone_labels(
    phones: Sequence[tuple[str, float, float]],
    n_frames: int,
    frame_rate_hz: float,
    *,
    offset_s: float = 0.0,
    fill: str = "sil",
) -> np.ndarray:
    """The phone at each frame, ``(n_frames,)`` of ``str``, from a phone alignment.

    ``phones`` is ``[(phone, start_s, end_s), ...]`` (an utterance's
    ``.phones``). Frame ``i`` is read at time ``offset_s + i / frame_rate_hz``:
    ``offset_s=0`` for centred STFT frames (MFCC with ``center=True``), half
    a frame period for frames that each summarise an interval. A time inside
    no phone (leading or trailing silence, gaps) gets ``fill``.
    """
    if n_frames < 0:
        raise ValueError(f"n_frames must be non-negative, got {n_frames}")
    if frame_rate_hz <= 0:
        raise ValueError(f"frame_rate_hz must be positive, got {frame_rate_hz}")
    times = offset_s + np.arange(n_frames) / frame_rate_hz
    labels = np.full(n_frames, fill, dtype=object)
    for phone, start_s, end_s in phones:
        if end_s < start_s:
            raise ValueError(f"phone {phone!r} ends ({end_s} s) before it starts ({start_s} s)")
        labels[(times >= start_s) & (times < end_s)] = phone
    return labels.astype(str)


def contingency(phones, units) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame counts of each (phone, unit) pair.

    ``phones`` and ``units`` are ``(n_frames,)`` (any hashable labels).
    Returns ``(counts, phone_names, unit_names)`` with ``counts`` of shape
    ``(n_phones, n_units)``.
    """
    y, z = np.asarray(phones), np.asarray(units)
    if y.shape != z.shape or y.ndim != 1:
        raise ValueError(f"phones and units must be 1-D and of the same length, got {y.shape} and {z.shape}")
    if y.size == 0:
        raise ValueError("no frames to compare")
    phone_names, yi = np.unique(y, return_inverse=True)
    unit_names, zi = np.unique(z, return_inverse=True)
    counts = np.zeros((phone_names.size, unit_names.size), dtype=np.int64)
    np.add.at(counts, (yi, zi), 1)
    return counts, phone_names, unit_names


@dataclass(frozen=True)
class UnitQuality:
    """Phone purity, cluster purity and PNMI (each in [0, 1]), and the number of frames."""

    phone_purity: float
    cluster_purity: float
    pnmi: float
    n_frames: int


def unit_quality(phones, units) -> UnitQuality:
    """Phone purity, cluster purity and PNMI of ``units`` against ``phones`` (both ``(n_frames,)``).

    Definitions as in HuBERT (see the module docstring); entropies in nats
    (PNMI is a ratio, so the base cancels). When every frame has the same
    phone, ``H(y) = 0`` and PNMI is defined as 1 if the units are constant
    too (nothing to explain) and 0 otherwise.
    """
    counts, _, _ = contingency(phones, units)
    n = counts.sum()
    p_yz = counts / n
    p_y, p_z = p_yz.sum(axis=1), p_yz.sum(axis=0)
    phone_purity = float(p_yz.max(axis=0).sum())  # sum_z p(z) max_y p(y|z) = sum_z max_y p(y,z)
    cluster_purity = float(p_yz.max(axis=1).sum())
    nz = p_yz > 0
    mutual_info = float(np.sum(p_yz[nz] * np.log(p_yz[nz] / np.outer(p_y, p_z)[nz])))
    h_y = float(-np.sum(p_y * np.log(p_y)))
    if h_y <= 1e-12:
        pnmi = 1.0 if p_z.size == 1 else 0.0
    else:
        pnmi = min(max(mutual_info / h_y, 0.0), 1.0)
    return UnitQuality(phone_purity, cluster_purity, pnmi, int(n))
