"""Linear prediction: autocorrelation, Levinson-Durbin, envelopes, formants, vocoding.

Introduced in notebook 02. Sign convention (the same as ``librosa.lpc``):
``a = [1, a_1, ..., a_p]`` are the coefficients of the prediction-error
filter ``A(z) = 1 + sum_i a_i z^-i``, so the residual is
``e(n) = x(n) + sum_i a_i x(n - i)`` and the predictor is
``x(n) = -sum_i a_i x(n - i) + e(n)``. The textbook predictor form
``x(n) = sum_i alpha_i x(n - i) + e(n)`` has ``alpha_i = -a_i``.
"""

from __future__ import annotations

import numpy as np
import scipy.signal

from speechlm.dsp._checks import as_signal, positive_float, positive_int
from speechlm.dsp.framing import block_frames, get_window

__all__ = [
    "autocorrelation",
    "formants",
    "levinson_durbin",
    "lpc",
    "lpc_envelope",
    "lpc_frames",
    "lpc_residual",
    "lpc_synthesize",
]


def autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """``r[k] = sum_n x[n] x[n + k]`` for ``k = 0..max_lag``: ``(..., time) -> (..., max_lag + 1)``.

    The biased (unnormalised) estimate of the autocorrelation method, in float64.
    """
    x = as_signal(x).astype(np.float64, copy=False)
    max_lag = int(max_lag)
    if not 0 <= max_lag < x.shape[-1]:
        raise ValueError(f"max_lag must lie in [0, {x.shape[-1] - 1}] ({x.shape[-1]} samples), got {max_lag}")
    n = x.shape[-1]
    lags = [np.einsum("...i,...i->...", x[..., : n - k], x[..., k:]) for k in range(max_lag + 1)]
    return np.stack(lags, axis=-1)


def levinson_durbin(r: np.ndarray, order: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve the normal equations ``R a = -r`` of order ``p`` in O(p^2) (vectorised over ``...``).

    ``r`` is ``(..., p + 1)`` (or longer; ``order`` defaults to ``r.shape[-1] - 1``).
    Returns ``a`` ``(..., p + 1)`` with ``a[..., 0] == 1``, the reflection
    coefficients ``k`` ``(..., p)`` (``|k| < 1`` for a valid autocorrelation)
    and the final prediction error ``(...)``: the residual energy
    ``r[0] prod_m (1 - k_m^2)``. A zero-energy signal (``r[0] == 0``) gives
    ``a = [1, 0, ..., 0]`` and error 0.
    """
    r = np.asarray(r, dtype=np.float64)
    if r.ndim == 0 or r.shape[-1] < 2:
        raise ValueError(f"r must have at least 2 lags on its last axis, got shape {r.shape}")
    order = r.shape[-1] - 1 if order is None else positive_int(order, "order")
    if order >= r.shape[-1]:
        raise ValueError(f"order={order} needs {order + 1} autocorrelation lags, got {r.shape[-1]}")
    if np.any(r[..., 0] < 0) or not np.all(np.isfinite(r)):
        raise ValueError("r is not an autocorrelation: r[0] must be non-negative and all lags finite")
    batch = r.shape[:-1]
    a = np.zeros((*batch, order + 1))
    a[..., 0] = 1.0
    k = np.zeros((*batch, order))
    error = r[..., 0].copy()
    for m in range(1, order + 1):
        acc = r[..., m] + np.einsum("...i,...i->...", a[..., 1:m], r[..., m - 1 : 0 : -1])
        safe = error > 0
        km = np.where(safe, -acc / np.where(safe, error, 1.0), 0.0)
        a[..., 1:m] = a[..., 1:m] + km[..., None] * a[..., m - 1 : 0 : -1]
        a[..., m] = km
        k[..., m - 1] = km
        error = error * (1.0 - km * km)
    return a, k, error


def lpc(y: np.ndarray, order: int, method: str = "autocorrelation") -> np.ndarray:
    """LPC coefficients ``a`` ``(..., order + 1)``, ``a[..., 0] == 1``, of ``y`` ``(..., time)``.

    The autocorrelation method on the samples exactly as given (window them
    first if you want a window, as with ``librosa.lpc``): Levinson-Durbin on
    :func:`autocorrelation`. The filter ``1 / A(z)`` is always stable.
    """
    if method != "autocorrelation":
        raise ValueError(f"method must be 'autocorrelation', got {method!r}")
    y = as_signal(y)
    order = positive_int(order, "order")
    if order >= y.shape[-1]:
        raise ValueError(
            f"order={order} must be smaller than the frame length ({y.shape[-1]} samples): "
            "use a longer frame or a lower order"
        )
    return levinson_durbin(autocorrelation(y, order))[0]


def lpc_envelope(a: np.ndarray, gain: float | np.ndarray = 1.0, n_fft: int = 512) -> np.ndarray:
    """The LPC power spectrum ``gain^2 / |A(e^{jw})|^2`` on ``n_fft // 2 + 1`` bins.

    ``a`` is ``(..., order + 1)``; ``gain`` a scalar or ``(...)``; returns
    ``(..., n_fft // 2 + 1)``, at the frequencies ``k * sr / n_fft``.
    """
    a = np.asarray(a, dtype=np.float64)
    n_fft = positive_int(n_fft, "n_fft")
    if a.ndim == 0 or a.shape[-1] > n_fft:
        raise ValueError(f"a must be (..., order + 1) with order + 1 <= n_fft={n_fft}, got shape {a.shape}")
    response = np.fft.rfft(a, n_fft, axis=-1)
    return np.asarray(gain, dtype=np.float64)[..., None] ** 2 / np.maximum(np.abs(response) ** 2, 1e-300)


def formants(
    a: np.ndarray, sr: float, *, max_bandwidth_hz: float = 400.0, min_frequency_hz: float = 90.0
) -> np.ndarray:
    """Formant frequencies in Hz (sorted) from the roots of ``A(z)`` (``a`` of shape ``(order + 1,)``).

    Each complex root pair ``z = r e^{j theta}`` is a resonance at
    ``theta sr / (2 pi)`` Hz with bandwidth ``-ln(r) sr / pi`` Hz; roots with a
    bandwidth above ``max_bandwidth_hz`` (broad bumps that shape the spectral
    tilt) or below ``min_frequency_hz`` are dropped.
    """
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 1 or a.shape[0] < 3 or a[0] == 0:
        raise ValueError(f"a must be one filter (order + 1,), order >= 2, a[0] != 0; got shape {a.shape}")
    sr = positive_float(sr, "sr")
    roots = np.roots(a)
    roots = roots[roots.imag > 0]
    freqs = np.angle(roots) * sr / (2 * np.pi)
    bandwidths = -np.log(np.abs(roots)) * sr / np.pi
    keep = (freqs > min_frequency_hz) & (bandwidths < max_bandwidth_hz)
    return np.sort(freqs[keep])


def lpc_frames(
    y: np.ndarray, order: int, frame_length: int, hop_length: int, window: str = "hamming"
) -> tuple[np.ndarray, np.ndarray]:
    """Frame-by-frame LPC analysis of a mono signal ``(time,)`` for a vocoder.

    One windowed frame per block of ``hop_length`` samples
    (:func:`speechlm.dsp.block_frames`). Returns ``a`` ``(n_blocks, order + 1)``
    and ``gain`` ``(n_blocks,)``: the RMS of the prediction residual per
    sample (error energy divided by the window's energy), so that unit-power
    excitation through ``gain / A(z)`` has the frame's spectral envelope and level.
    """
    frames = block_frames(y, frame_length, hop_length)
    if frames.ndim != 2:
        raise ValueError(f"lpc_frames expects mono audio (time,), got shape {np.shape(y)}")
    order = positive_int(order, "order")
    if order >= frame_length:
        raise ValueError(f"order={order} must be smaller than frame_length={frame_length}")
    w = get_window(window, frame_length, periodic=False)
    a, _, error = levinson_durbin(autocorrelation(frames * w, order))
    return a, np.sqrt(np.maximum(error, 0.0) / np.sum(w * w))


def _check_filters(signal: np.ndarray, a: np.ndarray, hop_length: int | None) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        if a[0] == 0:
            raise ValueError("a[0] must be non-zero (it is 1 for LPC)")
        return a
    if a.ndim != 2 or hop_length is None:
        raise ValueError(f"a must be (order + 1,) or (n_blocks, order + 1) with hop_length; got {a.shape}")
    n_blocks = -(-signal.shape[-1] // positive_int(hop_length, "hop_length"))
    if a.shape[0] != n_blocks:
        raise ValueError(
            f"{a.shape[0]} filters for {signal.shape[-1]} samples: "
            f"expected ceil(time / hop_length) = {n_blocks}"
        )
    return a


def lpc_residual(y: np.ndarray, a: np.ndarray, hop_length: int | None = None) -> np.ndarray:
    """Inverse filtering: ``e(n) = sum_i a_i y(n - i)`` (``a_0 = 1``), shape ``(time,)``.

    ``a`` is one filter ``(order + 1,)`` or one per block ``(n_blocks, order + 1)``
    with block ``t`` covering samples ``[t * hop_length, (t + 1) * hop_length)``
    (as returned by :func:`lpc_frames`). The filter only looks back, so
    :func:`lpc_synthesize` with the same filters gives ``y`` back exactly.
    """
    y = as_signal(y).astype(np.float64, copy=False)
    if y.ndim != 1:
        raise ValueError(f"expected mono audio (time,), got shape {y.shape}")
    a = _check_filters(y, a, hop_length)
    if a.ndim == 1:
        return scipy.signal.lfilter(a, [1.0], y)
    order = a.shape[1] - 1
    history = np.lib.stride_tricks.sliding_window_view(np.pad(y, (order, 0)), order + 1)[:, ::-1]
    per_sample = np.repeat(a, hop_length, axis=0)[: y.shape[0]]
    return np.einsum("ni,ni->n", history, per_sample)


def lpc_synthesize(
    excitation: np.ndarray, a: np.ndarray, hop_length: int | None = None, gain: np.ndarray | None = None
) -> np.ndarray:
    """All-pole synthesis ``y(n) = g e(n) - sum_i a_i y(n - i)``: the inverse of :func:`lpc_residual`.

    ``excitation`` is ``(time,)``: the residual itself (exact resynthesis), a
    pulse train, noise, or :func:`speechlm.dsp.excitation`. ``a`` is one filter
    or one per block (then ``hop_length`` is required, and ``gain`` may give
    one factor per block, as from :func:`lpc_frames`). The filter changes at
    block boundaries while its memory (the last ``order`` outputs) carries on.
    """
    e = as_signal(excitation, "excitation").astype(np.float64, copy=False)
    if e.ndim != 1:
        raise ValueError(f"expected a mono excitation (time,), got shape {e.shape}")
    a = _check_filters(e, a, hop_length)
    if gain is not None:
        gain = np.asarray(gain, dtype=np.float64)
        if gain.ndim == 0:
            e = e * gain
        elif a.ndim == 2 and gain.shape == (a.shape[0],):
            e = e * np.repeat(gain, hop_length)[: e.shape[0]]
        else:
            raise ValueError(f"gain must be a scalar or one value per filter block, got shape {gain.shape}")
    if a.ndim == 1:
        return scipy.signal.lfilter([1.0], a, e)
    order = a.shape[1] - 1
    out = np.zeros(order + e.shape[0])
    for t, coeffs in enumerate(a):
        start = order + t * hop_length
        block = e[t * hop_length : (t + 1) * hop_length]
        state = scipy.signal.lfiltic([1.0], coeffs, out[start - order : start][::-1])
        out[start : start + block.shape[0]] = scipy.signal.lfilter([1.0], coeffs, block, zi=state)[0]
    return out[order:]
