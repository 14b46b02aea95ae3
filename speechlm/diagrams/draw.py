"""Primitives for the architecture diagrams: a blank canvas in data units, labelled boxes and arrows.

Every diagram function of :mod:`speechlm.diagrams` builds on these, so that all diagrams share one
look: rounded boxes whose colour says what kind of block they are (:data:`COLOURS`), arrows for
the data flow, a title. Coordinates are in canvas units, ``(0, 0)`` bottom left.
"""

from __future__ import annotations

__all__ = ["COLOURS", "arrow", "box", "canvas", "label"]

# what a block is -> its fill colour (shared by every diagram)
COLOURS = {
    "input": "#e8e8e8",
    "embedding": "#cfe2f3",
    "attention": "#f9cb9c",
    "feedforward": "#b6d7a8",
    "norm": "#fff2cc",
    "output": "#d9d2e9",
    "loss": "#f4cccc",
    "conv": "#d0e0e3",
    "other": "#ffffff",
}


def canvas(width: float, height: float, *, scale: float = 0.5, title: str | None = None, ax=None):
    """A blank axes ``width`` x ``height`` canvas units (``scale`` inches per unit) without ticks."""
    import matplotlib.pyplot as plt

    if width <= 0 or height <= 0:
        raise ValueError(f"canvas needs a positive width and height, got {width} x {height}")
    if ax is None:
        _, ax = plt.subplots(figsize=(width * scale, height * scale))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def box(ax, x: float, y: float, w: float, h: float, text: str, kind: str = "other", fontsize: float = 8):
    """A rounded box with its lower-left corner at ``(x, y)``, filled by ``kind`` (a key of
    :data:`COLOURS`), ``text`` centred; returns ``(x, y, w, h)`` for :func:`arrow`."""
    from matplotlib.patches import FancyBboxPatch

    if kind not in COLOURS:
        raise ValueError(f"kind must be one of {sorted(COLOURS)}, got {kind!r}")
    ax.add_patch(
        FancyBboxPatch(
            (x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.15", facecolor=COLOURS[kind],
            edgecolor="black", linewidth=0.8,
        )
    )  # fmt: skip
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize)
    return (x, y, w, h)


def arrow(ax, start: tuple[float, float], end: tuple[float, float], text: str | None = None, **style):
    """An arrow from ``start`` to ``end`` (canvas points), with an optional ``text`` beside its middle."""
    props = {"arrowstyle": "-|>", "color": "black", "linewidth": 0.8, "shrinkA": 0, "shrinkB": 0, **style}
    ax.annotate("", xy=end, xytext=start, arrowprops=props)
    if text:
        ax.text((start[0] + end[0]) / 2 + 0.1, (start[1] + end[1]) / 2, text, fontsize=7, va="center")


def label(ax, x: float, y: float, text: str, fontsize: float = 7, **kw):
    """Free text at ``(x, y)`` (a note beside a block, a dimension, an equation)."""
    ax.text(x, y, text, fontsize=fontsize, **kw)
