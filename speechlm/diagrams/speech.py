"""Diagrams of the speech models of notebooks 11 and 12: HuBERT's masked prediction and the CTC lattice.

:func:`hubert_masking` draws what notebook 11 trains: frames through the convolutional front end,
spans replaced by the mask embedding, the Transformer, a projection scored against the cluster
embeddings, and the loss at the masked frames only, whose targets are the k-means units of the
unmasked input. :func:`ctc_lattice` draws the trellis that notebook 12's forward algorithm walks:
the extended target (blank, label, blank, ...) down the side, time across, and every transition a
CTC path may take; :func:`ctc_lattice_edges` lists those transitions.
"""

from __future__ import annotations

from itertools import pairwise
from typing import NamedTuple

from speechlm.diagrams import draw
from speechlm.diagrams.draw import arrow, box, canvas

__all__ = ["BLANK", "LatticeEdge", "ctc_lattice", "ctc_lattice_edges", "hubert_masking"]

BLANK = "∅"  # how the diagrams write CTC's blank symbol

_MASKED = (2, 3, 4)  # the masked span of hubert_masking's eight frames


def hubert_masking(ax=None):
    """HuBERT's masked prediction (notebook 11), bottom to top: log-mel frames, the CNN front end,
    a span of frames replaced by the mask embedding, the Transformer, the projection and cosine
    scores against the cluster embeddings, and the cross-entropy at the masked frames only, against
    the k-means units of the unmasked input (MFCC in iteration 1, a hidden layer in iteration 2).
    Returns the axes."""
    title = "HuBERT: predict the k-means unit of every masked frame"
    ax = canvas(17.0, 10.6, scale=0.5, title=title, ax=ax)
    n_frames, x0, step, w = 8, 0.6, 1.3, 1.0
    left, right = x0, x0 + (n_frames - 1) * step + w
    span = right - left
    centre = [x0 + i * step + w / 2 for i in range(n_frames)]

    box(ax, left, 0.2, span, 0.8, "waveform / log-mel frames (100 per second)", "input")
    arrow(ax, ((left + right) / 2, 1.0), ((left + right) / 2, 1.5))
    box(ax, left, 1.5, span, 0.8, "CNN front end (stride 2: 50 frames per second)", "conv")
    for i, x in enumerate(centre):
        masked = i in _MASKED
        arrow(ax, (x, 2.3), (x, 2.9))
        text, kind = ("[M]", "embedding") if masked else (f"$x_{i + 1}$", "input")
        box(ax, x - w / 2, 2.9, w, 0.7, text, kind)
        arrow(ax, (x, 3.6), (x, 4.2))
        arrow(ax, (x, 5.2), (x, 5.8))
        if masked:
            arrow(ax, (x, 6.6), (x, 7.2))
            box(ax, x - 0.6, 7.2, 1.2, 0.7, r"$p(c\,|\,h_t)$", "output", fontsize=7)
            arrow(ax, (x, 7.9), (x, 8.5))
            box(ax, x - 0.6, 8.5, 1.2, 0.7, "CE", "loss")
    draw.label(ax, right + 0.3, 3.05, "masked span:\nreplaced by the\nmask embedding [M]")
    box(ax, left, 4.2, span, 1.0, "Transformer encoder (conv. position embedding, blocks)", "attention")
    box(ax, left, 5.8, span, 0.8, "projection $W h_t$, cosine with cluster embeddings $e_c$", "output")
    first, last = centre[_MASKED[0]], centre[_MASKED[-1]]
    draw.label(ax, (first + last) / 2, 9.45, "loss only at masked frames", ha="center")
    unmasked_note = "unmasked frames:\nno loss (the encoder\ncould copy its input)"
    draw.label(ax, centre[_MASKED[-1] + 1] - w / 2 + 0.3, 7.0, unmasked_note)

    tx, tw = right + 0.3, 16.7 - (right + 0.3)
    mid = tx + tw / 2
    box(ax, tx, 0.2, tw, 0.8, "unmasked input frames", "input")
    arrow(ax, (mid, 1.0), (mid, 5.8))
    draw.label(ax, mid + 0.15, 4.6, "MFCC (iteration 1)\nor a hidden layer\n(iteration 2)", fontsize=6)
    box(ax, tx, 5.8, tw, 0.8, "k-means", "other")
    arrow(ax, (mid, 6.6), (mid, 8.5))
    box(ax, tx, 8.5, tw, 0.7, "targets $z_t$ (units)", "other")
    arrow(ax, (tx, 8.85), (last + 0.6, 8.85))
    return ax


class LatticeEdge(NamedTuple):
    """One allowed transition of the CTC lattice, from state ``source`` at frame ``t`` to state
    ``target`` at frame ``t + 1`` (0-based, states of the extended target); ``kind`` is ``"stay"``
    (same state), ``"advance"`` (next state) or ``"skip"`` (two states on, over a blank)."""

    t: int
    source: int
    target: int
    kind: str


def _extended(label: str) -> list[str]:
    if not label:
        raise ValueError("label must be a non-empty string, e.g. 'cat'")
    states = [BLANK]
    for c in label:
        states += [c, BLANK]
    return states


def _moves(states: list[str], s: int) -> list[tuple[int, str]]:
    """The states reachable in one frame from state ``s``: stay, advance, and skip when state
    ``s + 2`` is a label that differs from state ``s``."""
    moves = [(s, "stay")]
    if s + 1 < len(states):
        moves.append((s + 1, "advance"))
    if s + 2 < len(states) and states[s + 2] != BLANK and states[s + 2] != states[s]:
        moves.append((s + 2, "skip"))
    return moves


def _on_path(states: list[str], label: str, frames: int) -> list[set[int]]:
    """For each frame, the states that some valid path visits at that frame."""
    n = len(states)
    needed = len(label) + sum(a == b for a, b in pairwise(label))
    if frames < needed:
        raise ValueError(f"{label!r} needs at least {needed} frames (a blank between repeats), got {frames}")
    forward = [{0, 1}]
    for _ in range(frames - 1):
        forward.append({target for s in forward[-1] for target, _ in _moves(states, s)})
    backward = [{n - 1, n - 2}]
    for _ in range(frames - 1):
        backward.insert(0, {s for s in range(n) if any(t in backward[0] for t, _ in _moves(states, s))})
    return [f & b for f, b in zip(forward, backward, strict=True)]


def ctc_lattice_edges(label: str, frames: int) -> tuple[list[str], list[LatticeEdge]]:
    """The extended target of ``label`` (``2 * len(label) + 1`` states: blank, first symbol, blank,
    ...) and every transition on some path from a start state (blank or first symbol at frame 0) to
    an end state (last symbol or final blank at the last frame) in ``frames`` frames. A path of
    ``frames`` frames must fit: ``len(label)`` plus one frame per repeated neighbour at least."""
    states = _extended(label)
    on_path = _on_path(states, label, frames)
    edges = [
        LatticeEdge(t, s, target, kind)
        for t in range(frames - 1)
        for s in sorted(on_path[t])
        for target, kind in _moves(states, s)
        if target in on_path[t + 1]
    ]
    return states, edges


def ctc_lattice(label: str = "cat", frames: int = 6, ax=None):
    """The CTC lattice of ``label`` over ``frames`` frames (notebook 12): one row per state of the
    extended target (blank, ``label[0]``, blank, ...), one column per frame, a node for every state
    and frame (blue where some valid path passes), and an arrow for every allowed transition: stay
    (grey), advance to the next state (black), and skip over a blank (blue, curved), which exists
    only between two different labels. Every path from a start node (top left) to an end node
    (bottom right) collapses to ``label``. The rows' labels and the arrows carry matplotlib gids
    (``"row"``, ``"edge:KIND:t:SOURCE:TARGET"``), so a test can read the drawing back. Returns the
    axes."""
    states, edges = ctc_lattice_edges(label, frames)
    n = len(states)
    dx, dy, x0 = 1.3, 0.8, 1.4
    width, height = x0 + (frames - 1) * dx + 1.0, n * dy + 1.6
    ax = canvas(width, height, scale=0.55, title=f"CTC lattice of {label!r} over {frames} frames", ax=ax)

    def node(t: int, s: int) -> tuple[float, float]:
        return x0 + t * dx, height - 0.9 - s * dy

    for s, symbol in enumerate(states):
        draw.label(ax, 0.3, node(0, s)[1], symbol, fontsize=9, va="center", gid="row")
    on_path = _on_path(states, label, frames)
    for t in range(frames):
        draw.label(ax, node(t, 0)[0], 0.25, f"t={t + 1}", ha="center")
        for s in range(n):
            x, y = node(t, s)
            kind = "embedding" if s in on_path[t] else "input"
            box(ax, x - 0.17, y - 0.17, 0.34, 0.34, "", kind)
    styles = {
        "stay": {"color": "grey"},
        "advance": {"color": "black"},
        "skip": {"color": "tab:blue", "connectionstyle": "arc3,rad=-0.25"},
    }
    for e in edges:
        (xa, ya), (xb, yb) = node(e.t, e.source), node(e.t + 1, e.target)
        dxa, dya = xb - xa, yb - ya
        norm = (dxa**2 + dya**2) ** 0.5
        shrink = 0.22 / norm  # start and end at the nodes' edges, not their centres
        start, end = (xa + dxa * shrink, ya + dya * shrink), (xb - dxa * shrink, yb - dya * shrink)
        arrow(ax, start, end, **styles[e.kind])
        ax.texts[-1].set_gid(f"edge:{e.kind}:{e.t}:{e.source}:{e.target}")  # the arrow just drawn
    legend = "grey: stay   black: advance   blue: skip a blank (only between different labels)"
    draw.label(ax, x0, height - 0.35, legend, fontsize=6)
    return ax
