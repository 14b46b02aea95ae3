"""The encoder-decoder Transformer of notebook 16, drawn: :func:`seq2seq_decoder`.

The picture shows what :class:`speechlm.seq2seq.Seq2Seq` computes: the encoder turns the source
(speech frames or characters) into a memory; the decoder reads the target shifted right through
masked self-attention, reads the memory through cross-attention, and ends in a softmax over the
next token.
"""

from __future__ import annotations

from speechlm.diagrams.draw import arrow, box, canvas, label

__all__ = ["seq2seq_decoder"]


def _up(ax, lower, upper, text=None):
    """An arrow from the top middle of box ``lower`` to the bottom middle of box ``upper``."""
    (x0, y0, w0, h0), (x1, y1, w1, _) = lower, upper
    arrow(ax, (x0 + w0 / 2, y0 + h0), (x1 + w1 / 2, y1), text)


def _frame(ax, x, y, w, h, text):
    """A dashed frame around the sub-layers that repeat, with ``text`` (the repeat count) beside it."""
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((x, y), w, h, fill=False, linestyle="--", linewidth=0.8, edgecolor="0.4"))
    label(ax, x + w + 0.1, y + h / 2, text, va="center", color="0.3")


def seq2seq_decoder(ax=None):
    """Draw the encoder-decoder Transformer (notebook 16) on ``ax`` (a new figure when None).

    Left, the encoder: source (speech frames or tokens) -> embedding -> N blocks of self-attention
    and feed-forward -> memory ``M``. Right, the decoder: target tokens shifted right -> embedding
    -> N blocks of masked self-attention, cross-attention (queries from the decoder, keys and
    values from ``M``: the arrow from the memory) and feed-forward -> linear + softmax over the
    next token. Returns the axes.
    """
    ax = canvas(14.0, 11.6, ax=ax, title="Encoder-decoder Transformer (pre-LN sub-layers)")
    # the encoder, bottom to top
    ex, ew = 0.3, 4.8
    source = box(ax, ex, 0.3, ew, 1.0, "source $x$: speech frames\nor characters", "input")
    enc_in = box(ax, ex, 1.9, ew, 0.9, "projection or embedding\n+ positions", "embedding")
    enc_attn = box(ax, ex, 3.5, ew, 0.9, "self-attention\n(every source position)", "attention")
    enc_ff = box(ax, ex, 5.0, ew, 0.9, "feed-forward", "feedforward")
    memory = box(
        ax, ex, 7.1, ew, 1.0, "memory $M = \\mathrm{Enc}(x)$\n(a vector per source position)", "other"
    )
    _frame(ax, ex - 0.15, 3.3, ew + 0.3, 2.8, "× N")
    for lower, upper in ((source, enc_in), (enc_in, enc_attn), (enc_attn, enc_ff), (enc_ff, memory)):
        _up(ax, lower, upper)
    label(ax, ex, 8.8, "ENCODER: reads the whole source", fontsize=8, fontweight="bold")

    # the decoder, bottom to top
    dx, dw = 7.6, 5.0
    target = box(ax, dx, 0.3, dw, 1.0, "target tokens, shifted right\n<eos> $y_1 \\ldots y_{t-1}$", "input")
    dec_in = box(ax, dx, 1.9, dw, 0.9, "token embedding + positions", "embedding")
    masked = box(ax, dx, 3.5, dw, 0.9, "masked self-attention\n(causal: sees $y_{<t}$ only)", "attention")
    cross = box(ax, dx, 5.0, dw, 0.9, "cross-attention\nqueries: decoder; keys, values: $M$", "attention")
    dec_ff = box(ax, dx, 6.5, dw, 0.9, "feed-forward", "feedforward")
    softmax = box(ax, dx, 8.3, dw, 0.9, "LayerNorm, linear, softmax", "output")
    _frame(ax, dx - 0.15, 3.3, dw + 0.3, 4.3, "× N")
    chain = ((target, dec_in), (dec_in, masked), (masked, cross), (cross, dec_ff), (dec_ff, softmax))
    for lower, upper in chain:
        _up(ax, lower, upper)
    top = (dx + dw / 2, 8.3 + 0.9)
    arrow(ax, top, (top[0], 10.0))
    label(ax, top[0], 10.1, "$p(y_t \\mid y_{<t}, M)$: the next token", ha="center", va="bottom", fontsize=8)

    # the memory feeds every decoder block's cross-attention
    mx, my, mw, mh = memory
    cx, cy, _, ch = cross
    arrow(ax, (mx + mw, my + mh / 2), (cx, cy + ch / 2))
    label(ax, mx + mw + 0.2, 6.0, "keys, values\n(every block)", va="top")
    label(ax, dx, 10.9, "DECODER: one token at a time", fontsize=8, fontweight="bold")
    notes = "every sub-layer: $X \\leftarrow X + f(\\mathrm{LN}(X))$\n"
    notes += "decoding: append the chosen $y_t$, run again"
    label(ax, 0.3, 10.3, notes, fontsize=7, va="bottom")
    return ax
