"""Dynamic time warping for the nearest-neighbour digit recogniser of notebook 03.

The accumulated cost ``D[i, j] = C[i, j] + min(D[i-1, j], D[i, j-1], D[i-1, j-1])``
is filled one anti-diagonal at a time (cells with the same ``i + j`` do not
depend on each other), vectorised over the diagonal and over a whole set of
templates at once, so matching a query against many templates costs about
``N + M`` NumPy operations instead of ``N * M`` Python steps.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cost_matrix", "dtw", "dtw_distances"]


def _as_sequence(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty feature sequence (time, features), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or inf")
    return x


def cost_matrix(x: np.ndarray, y: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Local distances ``(N, M)`` between frames of ``x`` ``(N, d)`` and ``y`` ``(M, d)``.

    ``metric`` is ``"euclidean"`` or ``"cosine"`` (1 - cosine similarity).
    """
    x, y = _as_sequence(x, "x"), _as_sequence(y, "y")
    return _cost(x, y[None], metric)[0]


def _cost(x: np.ndarray, ys: np.ndarray, metric: str) -> np.ndarray:
    """x (N, d), ys (T, M, d) -> (T, N, M)."""
    if x.shape[-1] != ys.shape[-1]:
        raise ValueError(f"feature sizes differ: {x.shape[-1]} vs {ys.shape[-1]}")
    if metric == "euclidean":
        cross = np.einsum("nd,tmd->tnm", x, ys)
        sq = (x * x).sum(-1)[None, :, None] + (ys * ys).sum(-1)[:, None, :] - 2.0 * cross
        return np.sqrt(np.maximum(sq, 0.0))
    if metric == "cosine":
        xn = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
        yn = ys / np.maximum(np.linalg.norm(ys, axis=-1, keepdims=True), 1e-12)
        return 1.0 - np.einsum("nd,tmd->tnm", xn, yn)
    raise ValueError(f"metric must be 'euclidean' or 'cosine', got {metric!r}")


def _accumulate(cost: np.ndarray) -> np.ndarray:
    """cost (T, N, M) -> accumulated D (T, N + 1, M + 1) with D[:, 0, 0] = 0, borders inf."""
    t, n, m = cost.shape
    acc = np.full((t, n + 1, m + 1), np.inf)
    acc[:, 0, 0] = 0.0
    for diag in range(n + m - 1):
        i = np.arange(max(0, diag - m + 1), min(diag, n - 1) + 1)
        j = diag - i
        best = np.minimum(np.minimum(acc[:, i, j + 1], acc[:, i + 1, j]), acc[:, i, j])
        acc[:, i + 1, j + 1] = cost[:, i, j] + best
    return acc


def dtw(x: np.ndarray, y: np.ndarray, metric: str = "euclidean") -> tuple[float, np.ndarray]:
    """Align ``x`` ``(N, d)`` with ``y`` ``(M, d)``; return the total cost and the path.

    The path is an ``(L, 2)`` array of index pairs ``(i, j)`` from ``(0, 0)`` to
    ``(N - 1, M - 1)``, moving by ``(1, 0)``, ``(0, 1)`` or ``(1, 1)``. The cost
    equals ``librosa.sequence.dtw(x.T, y.T)[0][-1, -1]`` with default steps.
    """
    acc = _accumulate(cost_matrix(x, y, metric)[None])[0]
    i, j = acc.shape[0] - 1, acc.shape[1] - 1
    path = [(i - 1, j - 1)]
    while (i, j) != (1, 1):
        moves = ((i - 1, j - 1), (i - 1, j), (i, j - 1))
        i, j = min(moves, key=lambda ij: acc[ij])
        path.append((i - 1, j - 1))
    return float(acc[-1, -1]), np.array(path[::-1])


def dtw_distances(
    query: np.ndarray, templates: list[np.ndarray], metric: str = "euclidean", normalize: bool = True
) -> np.ndarray:
    """DTW cost of ``query`` ``(N, d)`` against each template ``(M_t, d)``: ``(n_templates,)``.

    All templates are matched at once (padded to the longest). With
    ``normalize=True`` each cost is divided by ``N + M_t``, so that long
    templates are not penalised for their length.
    """
    query = _as_sequence(query, "query")
    if len(templates) == 0:
        raise ValueError("templates is empty: pass at least one (time, features) array")
    seqs = [_as_sequence(t, f"templates[{k}]") for k, t in enumerate(templates)]
    lengths = np.array([s.shape[0] for s in seqs])
    padded = np.zeros((len(seqs), lengths.max(), query.shape[1]))
    for k, s in enumerate(seqs):
        if s.shape[1] != query.shape[1]:
            raise ValueError(f"templates[{k}] has {s.shape[1]} features, the query {query.shape[1]}")
        padded[k, : s.shape[0]] = s
    acc = _accumulate(_cost(query, padded, metric))
    totals = acc[np.arange(len(seqs)), -1, lengths]
    return totals / (query.shape[0] + lengths) if normalize else totals
