"""Diagrams of the Transformer encoder block (notebook 07) and of BERT's pretraining (notebook 08).

:func:`transformer_block` draws one encoder block, pre-LN (LayerNorm before each sub-layer: the
course's :class:`speechlm.transformer.EncoderBlock`, GPT-2) or post-LN (LayerNorm after each residual
add: the original Transformer, BERT, HuBERT Base). :func:`bert_pretraining` draws
:class:`speechlm.bert.Bert` with its two pretraining heads and their losses. Data flows from the bottom
up; each function draws on ``ax`` (a new figure when None) and returns the axes.
"""

from __future__ import annotations

import itertools

from speechlm.diagrams.draw import arrow, box, canvas, label

__all__ = ["bert_pretraining", "transformer_block"]

ATTENTION = "multi-head\nself-attention"
FEED_FORWARD = "feed-forward\n(Linear, activation, Linear)"


def _residual(ax, branch: tuple[float, float], add: tuple[float, float, float, float], side: float) -> None:
    """The skip path: from ``branch`` (a point on the main line) out to ``x = side``, up, and into the
    right edge of the ``add`` box."""
    x, y, w, h = add
    arrow(ax, branch, (side, branch[1]), arrowstyle="-")
    arrow(ax, (side, branch[1]), (side, y + h / 2), arrowstyle="-")
    arrow(ax, (side, y + h / 2), (x + w, y + h / 2))
    label(ax, side + 0.1, (branch[1] + y + h / 2) / 2, "residual", fontsize=6, rotation=90, va="center")


def transformer_block(pre_ln: bool = True, ax=None):
    """One Transformer encoder block, ``pre_ln`` (``x + MHA(LN(x))``, then ``x + FFN(LN(x))``) or
    post-LN (``LN(x + MHA(x))``, then ``LN(x + FFN(x))``), with both residual paths; returns the axes."""
    if pre_ln:
        blocks = [
            ("input x", "input"),
            ("LayerNorm", "norm"),
            (ATTENTION, "attention"),
            ("+", "other"),
            ("LayerNorm", "norm"),
            (FEED_FORWARD, "feedforward"),
            ("+", "other"),
            ("output", "output"),
        ]
        residuals = [(0, 3), (3, 6)]  # (block whose output branches off, the add it joins)
        title = "pre-LN encoder block"
        note = "course's EncoderBlock, GPT-2;\na stack ends with one more LayerNorm"
    else:
        blocks = [
            ("input x", "input"),
            (ATTENTION, "attention"),
            ("+", "other"),
            ("LayerNorm", "norm"),
            (FEED_FORWARD, "feedforward"),
            ("+", "other"),
            ("LayerNorm", "norm"),
            ("output", "output"),
        ]
        residuals = [(0, 2), (3, 5)]
        title = "post-LN encoder block"
        note = "original Transformer, BERT,\nHuBERT and wav2vec 2.0 Base"
    width, height, gap, centre, side = 6.0, 13.0, 0.6, 2.6, 5.0
    ax = canvas(width, height, scale=0.4, title=title, ax=ax)
    drawn, y = [], 1.4
    for text, kind in blocks:
        h = 0.6 if text == "+" else 1.0
        w = 0.8 if text == "+" else 3.6
        drawn.append(box(ax, centre - w / 2, y, w, h, text, kind, fontsize=10 if text == "+" else 7))
        y += h + gap
    for (_, y0, _, h0), (_, y1, _, _) in itertools.pairwise(drawn):
        arrow(ax, (centre, y0 + h0), (centre, y1))
    for start, add in residuals:
        _, y0, _, h0 = drawn[start]
        _residual(ax, (centre, y0 + h0 + gap / 2), drawn[add], side)
    label(ax, 0.2, 0.3, note, fontsize=6)
    return ax


def bert_pretraining(ax=None):
    """BERT's pretraining: token, position and segment embeddings summed and normalised, the encoder
    stack, the MLM head on the masked positions and the NSP head on ``[CLS]`` (through the pooler),
    the two cross-entropy losses and their sum; returns the axes."""
    tokens = ["[CLS]", "turn", "on", "the", "[MASK]", "[SEP]", "thanks", "[SEP]"]
    segments = "AAAAAABB"
    masked, step, token_w = tokens.index("[MASK]"), 1.75, 1.5
    title = "BERT pretraining: masked LM + next-sentence prediction"
    ax = canvas(15.0, 16.0, scale=0.45, title=title, ax=ax)

    def column(i: int) -> float:  # the centre of token i's column
        return 0.5 + step * i + token_w / 2

    for i, (token, segment) in enumerate(zip(tokens, segments, strict=True)):
        box(ax, column(i) - token_w / 2, 1.0, token_w, 0.7, token, "input", fontsize=7)
        label(ax, column(i), 0.55, f"{i}, {segment}", fontsize=6, ha="center")
    label(ax, 7.5, 0.05, "under each token: its position and its segment", fontsize=6, ha="center")

    kinds = ["token embeddings", "position embeddings", "segment embeddings (A/B)"]
    for j, text in enumerate(kinds):
        x = 0.5 + 4.75 * j
        box(ax, x, 2.4, 4.25, 0.9, text, "embedding", fontsize=7)
        arrow(ax, (x + 2.125, 1.7), (x + 2.125, 2.4))
        arrow(ax, (x + 2.125, 3.3), (x + 2.125, 4.1))
    box(ax, 0.5, 4.1, 14.0, 0.8, "sum, then LayerNorm", "norm", fontsize=7)
    arrow(ax, (7.5, 4.9), (7.5, 5.7))
    encoder = "Transformer encoder\nN post-LN blocks, every token sees every token"
    box(ax, 0.5, 5.7, 14.0, 1.4, encoder, "attention", fontsize=8)
    for i in range(len(tokens)):
        text = "h[CLS]" if i == 0 else "h[MASK]" if i == masked else "h"
        kind = "other" if text == "h" else "output"
        box(ax, column(i) - token_w / 2, 7.9, token_w, 0.7, text, kind, fontsize=7)
        arrow(ax, (column(i), 7.1), (column(i), 7.9))

    mlm_text = (
        "MLM head\ndense, GELU, LayerNorm,\nprojection onto the vocabulary\n(tied to the token embeddings)"
    )
    pooler = box(ax, 0.3, 9.4, 4.4, 0.9, "pooler\n(dense, tanh)", "feedforward", fontsize=7)
    nsp = box(ax, 0.3, 11.0, 4.4, 0.9, "NSP head\nIsNext / NotNext", "output", fontsize=7)
    mlm = box(ax, 5.8, 9.4, 5.0, 2.5, mlm_text, "output", fontsize=7)
    nsp_loss = box(ax, 0.3, 12.6, 4.4, 1.2, "NSP loss\ncross-entropy\nper sentence pair", "loss", fontsize=7)
    mlm_loss = box(
        ax, 5.8, 12.6, 5.0, 1.2, "MLM loss\ncross-entropy at the\nchosen positions", "loss", fontsize=7
    )
    total = box(ax, 1.5, 14.6, 8.0, 0.8, "loss = MLM loss + NSP loss", "loss", fontsize=7)
    arrow(ax, (column(0), 8.6), (column(0), pooler[1]))
    arrow(ax, (column(masked), 8.6), (column(masked), mlm[1]))
    for (x, y, w, h), upper in (
        (pooler, nsp),
        (nsp, nsp_loss),
        (mlm, mlm_loss),
        (nsp_loss, total),
        (mlm_loss, total),
    ):
        arrow(ax, (x + w / 2, y + h), (x + w / 2, upper[1]))
    label(ax, 11.0, 10.6, "only at the 15% of\npositions chosen\nfor masking", fontsize=6, va="center")
    return ax
