"""Exercises of notebook 17 (responsible speech AI): mixing at an SNR, a block's MACs, removing directions."""

from __future__ import annotations

import numpy as np

from speechlm.exercises import Exercise, allclose, equal, register
from speechlm.responsible import project_out


def _mix(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    scale = np.sqrt(np.sum(clean**2) / (np.sum(noise**2) * 10.0 ** (snr_db / 10.0)))
    return clean + scale * noise


def _mix_cases(rng: np.random.Generator):
    for snr in (20.0, 0.0, -5.0, float(rng.uniform(-10, 30))):
        n = int(rng.integers(200, 2000))
        yield (np.sin(np.arange(n) * rng.uniform(0.01, 0.3)) * rng.uniform(0.1, 1.0), rng.normal(size=n), snr)


def _block_macs(frames: int, d_model: int, d_ff: int) -> int:
    return 4 * frames * d_model * d_model + 2 * frames * frames * d_model + 2 * frames * d_model * d_ff


def _block_cases(rng: np.random.Generator):
    yield (50, 144, 576)
    yield (1, 8, 32)
    for _ in range(3):
        yield (int(rng.integers(1, 400)), int(rng.integers(1, 64)) * 4, int(rng.integers(1, 512)))


def _remove(x: np.ndarray, directions: np.ndarray) -> np.ndarray:
    return project_out(x, np.linalg.qr(directions)[0])


def _remove_cases(rng: np.random.Generator):
    for dim, k in ((4, 1), (16, 3), (32, 8)):
        yield (rng.normal(size=(10, dim)).astype(np.float32), rng.normal(size=(dim, k)))


register(
    Exercise(
        id="17.mix",
        prompt="""
Write `mix_at_snr(clean, noise, snr_db)`: scale `noise` (same length as `clean`) so that
10 log10(sum(clean^2) / sum(scaled_noise^2)) = snr_db exactly, and return clean + scaled_noise.
""",
        reference=_mix,
        cases=_mix_cases,
        hint="The scale is sqrt(E_clean / (E_noise * 10 ** (snr_db / 10))) with E the sums of squares.",
        compare=allclose(rtol=1e-9, atol=1e-12),
    )
)

register(
    Exercise(
        id="17.block_macs",
        prompt="""
Write `block_macs(frames, d_model, d_ff)`: the multiply-accumulates of one Transformer encoder block
(self-attention with its four d_model x d_model projections, then the two-layer feed-forward network)
on `frames` frames. Count matrix products only (no biases, softmax or LayerNorm), as an int.
""",
        reference=_block_macs,
        cases=_block_cases,
        hint="Projections 4 T d^2; scores Q K^T and the weighted sum of V, T^2 d each; feed-forward 2 T d f.",
        compare=equal,
    )
)

register(
    Exercise(
        id="17.remove",
        prompt="""
Write `remove_directions(x, directions)`: `x` is (n, dim), `directions` is (dim, k) with linearly
independent but not orthonormal columns. Return x with the span of the columns removed (the
orthogonal projection onto the complement), shape (n, dim).
""",
        reference=_remove,
        cases=_remove_cases,
        hint="Orthonormalise first (U, _ = np.linalg.qr(directions)), then x - (x @ U) @ U.T; "
        "speechlm.responsible.project_out does the second step.",
        compare=allclose(rtol=1e-4, atol=1e-5),
    )
)
