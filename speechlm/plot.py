"""Small matplotlib figures used across the notebooks: waveform, spectrogram, alignments, curves.

Every function draws on ``ax`` (a new small figure when None) and returns
the axes, so notebooks can combine them. Introduced in notebook 00.
:func:`use_cjk_font` lets every figure draw Chinese (notebook 16).
"""

from __future__ import annotations

import numpy as np

_DARK = {"facecolor": "black", "alpha": 0.6, "pad": 0.5, "linewidth": 0}

__all__ = [
    "CJK_FONT",
    "alignment",
    "curves",
    "log_power_spectrogram",
    "spectrogram",
    "use_cjk_font",
    "waveform",
]

# The font that draws Chinese: Noto Sans SC (SIL Open Font License 1.1), shipped by the PyPI package
# `pylopdf-fonts-zh-cn` (a 17 MB wheel, no dependencies); Debian's `fonts-noto-cjk` is the fallback.
CJK_FONT = "Noto Sans SC"
_SYSTEM_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "PingFang SC",
)


def use_cjk_font() -> str | None:
    """Let every matplotlib figure draw Chinese characters; returns the font's family name.

    Registers Noto Sans SC (from the ``pylopdf-fonts-zh-cn`` package) with matplotlib's font
    manager and appends it to ``rcParams["font.family"]`` as a fallback: Latin text keeps the
    default font, and each glyph that font lacks (every Chinese character) is drawn from the CJK
    font. Idempotent and cheap (about 10 ms). Without the package, an installed system CJK font
    (Debian's ``fonts-noto-cjk``, macOS's PingFang, Windows's YaHei) is used; with neither it warns
    how to install one and returns None (Chinese then draws as empty boxes).
    """
    import warnings

    import matplotlib
    from matplotlib import font_manager

    try:
        import pylopdf_fonts_zh_cn
    except ImportError:
        installed = {font.name for font in font_manager.fontManager.ttflist}
        name = next((f for f in (CJK_FONT, *_SYSTEM_CJK_FONTS) if f in installed), None)
        if name is None:
            warnings.warn(
                "no font with Chinese glyphs found: `pip install pylopdf-fonts-zh-cn` (Noto Sans SC) "
                "or install Debian's fonts-noto-cjk, then restart the kernel",
                stacklevel=2,
            )
            return None
    else:
        name = CJK_FONT
        if name not in {font.name for font in font_manager.fontManager.ttflist}:
            font_manager.fontManager.addfont(str(pylopdf_fonts_zh_cn.sans_path()))
    families = list(matplotlib.rcParams["font.family"])
    if name not in families:
        matplotlib.rcParams["font.family"] = [*families, name]
    return name


def _axes(ax, figsize=(7.0, 2.4)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def waveform(audio: np.ndarray, sample_rate: int, ax=None, title: str | None = None):
    """Plot samples ``(num_samples,)`` against time in seconds."""
    ax = _axes(ax)
    ax.plot(np.arange(len(audio)) / sample_rate, audio, lw=0.6)
    ax.set(xlabel="time (s)", ylabel="amplitude", xlim=(0, len(audio) / sample_rate))
    if title:
        ax.set_title(title)
    return ax


def log_power_spectrogram(
    audio: np.ndarray, sample_rate: int, win_s: float = 0.025, hop_s: float = 0.01
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hann-windowed STFT power in dB: ``(db, freqs_hz, times_s)``.

    ``db`` has shape ``(freqs, frames)``; frame ``i`` is centred at ``i * hop_s``.
    """
    win, hop = round(win_s * sample_rate), round(hop_s * sample_rate)
    n_fft = 1 << (win - 1).bit_length()
    padded = np.pad(np.asarray(audio, dtype=np.float64), (win // 2, win // 2))
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop] * np.hanning(win)
    power = np.abs(np.fft.rfft(frames, n_fft, axis=1)) ** 2
    db = 10 * np.log10(np.maximum(power, 1e-10)).T
    return db, np.fft.rfftfreq(n_fft, 1 / sample_rate), np.arange(frames.shape[0]) * hop / sample_rate


def spectrogram(audio: np.ndarray, sample_rate: int, ax=None, max_hz: float = 8000, dynamic_db: float = 70):
    """A log-power spectrogram (25 ms Hann windows, 10 ms hop), the top ``dynamic_db`` dB shown."""
    ax = _axes(ax)
    db, freqs, times = log_power_spectrogram(audio, sample_rate)
    keep = freqs <= max_hz
    ax.imshow(
        db[keep],
        origin="lower",
        aspect="auto",
        cmap="magma",
        vmin=db.max() - dynamic_db,
        vmax=db.max(),
        extent=(times[0], times[-1], freqs[0], freqs[keep][-1]),
    )
    ax.set(xlabel="time (s)", ylabel="frequency (Hz)")
    return ax


def alignment(utterance, ax=None, max_hz: float = 6000, phones: bool = True):
    """A spectrogram with the word boundaries (white lines, words on top) and phones (bottom)."""
    ax = spectrogram(utterance.audio, utterance.sample_rate, ax=_axes(ax, (8.0, 3.0)), max_hz=max_hz)
    for word, start, end in utterance.words:
        ax.axvline(start, color="white", lw=1.0)
        ax.axvline(end, color="white", lw=1.0, ls=":")
        ax.text((start + end) / 2, max_hz * 0.92, word, color="white", ha="center", fontsize=9, bbox=_DARK)
    if phones:
        for i, (phone, start, end) in enumerate(utterance.phones):
            ax.axvline(start, ymax=0.12, color="cyan", lw=0.6)
            y = max_hz * (0.03 if i % 2 else 0.08)
            ax.text((start + end) / 2, y, phone, color="cyan", ha="center", fontsize=7, bbox=_DARK)
    ax.set_title(f"{utterance.text!r} ({utterance.speaker})", fontsize=9)
    return ax


def curves(history: dict[str, list[float]], ax=None, xlabel: str = "step", logy: bool = False):
    """Plot named curves (``{"train loss": [...], "dev loss": [...]}``) against their index."""
    ax = _axes(ax)
    for name, values in history.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    ax.set(xlabel=xlabel)
    if logy:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    return ax
