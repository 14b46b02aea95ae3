"""speechlm.diagrams.seq2seq: the encoder-decoder diagram names its blocks and wires the memory into
the decoder's cross-attention."""

import matplotlib
import pytest
from matplotlib.patches import FancyBboxPatch
from matplotlib.text import Annotation

from speechlm.diagrams.seq2seq import seq2seq_decoder

matplotlib.use("Agg")


@pytest.fixture
def ax():
    import matplotlib.pyplot as plt

    ax = seq2seq_decoder()
    yield ax
    plt.close("all")


def _boxes(ax, words):
    """The (x0, y0, x1, y1) of every box whose label contains ``words``."""
    found = []
    for text in ax.texts:
        if isinstance(text, Annotation) or words not in text.get_text():
            continue
        x, y = text.get_position()
        for patch in ax.patches:
            if isinstance(patch, FancyBboxPatch):
                x0, y0 = patch.get_x(), patch.get_y()
                x1, y1 = x0 + patch.get_width(), y0 + patch.get_height()
                if x0 <= x <= x1 and y0 <= y <= y1:
                    found.append((x0, y0, x1, y1))
    return found


def _box(ax, words):
    (bounds,) = _boxes(ax, words)
    return bounds


def _inside(point, bounds, tol=1e-6):
    (x, y), (x0, y0, x1, y1) = point, bounds
    return x0 - tol <= x <= x1 + tol and y0 - tol <= y <= y1 + tol


def test_every_block_is_labelled(ax):
    texts = " ".join(t.get_text() for t in ax.texts)
    for words in [
        "speech frames",
        "memory",
        "shifted right",
        "masked self-attention",
        "cross-attention",
        "feed-forward",
        "softmax",
        "next token",
        "ENCODER",
        "DECODER",
    ]:
        assert words in texts, words


def test_cross_attention_reads_the_memory(ax):
    memory, cross = _box(ax, "memory"), _box(ax, "cross-attention")
    arrows = [(a.xyann, a.xy) for a in ax.texts if isinstance(a, Annotation)]
    assert any(_inside(start, memory) and _inside(end, cross) for start, end in arrows)
    assert not any(_inside(start, cross) and _inside(end, memory) for start, end in arrows)
    # the decoder's chain: masked self-attention -> cross-attention -> feed-forward
    masked = _box(ax, "masked self-attention")
    assert any(_inside(start, masked) and _inside(end, cross) for start, end in arrows)
    assert any(
        _inside(start, cross) and _inside(end, ff)
        for start, end in arrows
        for ff in _boxes(ax, "feed-forward")
    )


def test_draws_on_a_given_axes():
    import matplotlib.pyplot as plt

    fig, given = plt.subplots()
    try:
        assert seq2seq_decoder(ax=given) is given
        assert len(given.patches) >= 11
    finally:
        plt.close(fig)
