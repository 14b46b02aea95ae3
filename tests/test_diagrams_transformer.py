"""speechlm.diagrams.transformer: the block diagrams name their blocks in the order data flows through
them, pre-LN and post-LN put LayerNorm in different places, and BERT's diagram shows both heads and
both losses."""

import matplotlib
import matplotlib.pyplot as plt
import pytest

from speechlm.diagrams import transformer

matplotlib.use("Agg")

BLOCKS = ("input x", "LayerNorm", transformer.ATTENTION, "+", transformer.FEED_FORWARD, "output")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def flow(ax) -> list[str]:
    """The block labels of a diagram from the bottom up (the direction data flows)."""
    texts = [t for t in ax.texts if t.get_text() in BLOCKS]
    return [t.get_text() for t in sorted(texts, key=lambda t: t.get_position()[1])]


def test_pre_ln_block_normalises_before_each_sublayer():
    ax = transformer.transformer_block(pre_ln=True)
    assert ax.get_title() == "pre-LN encoder block"
    assert flow(ax) == [
        "input x",
        "LayerNorm",
        transformer.ATTENTION,
        "+",
        "LayerNorm",
        transformer.FEED_FORWARD,
        "+",
        "output",
    ]


def test_post_ln_block_normalises_after_each_residual_add():
    ax = transformer.transformer_block(pre_ln=False)
    assert ax.get_title() == "post-LN encoder block"
    assert flow(ax) == [
        "input x",
        transformer.ATTENTION,
        "+",
        "LayerNorm",
        transformer.FEED_FORWARD,
        "+",
        "LayerNorm",
        "output",
    ]


def test_pre_and_post_ln_differ_only_in_where_layernorm_sits():
    pre = flow(transformer.transformer_block(pre_ln=True))
    post = flow(transformer.transformer_block(pre_ln=False))
    assert pre != post
    assert [b for b in pre if b != "LayerNorm"] == [b for b in post if b != "LayerNorm"]
    # pre-LN: a LayerNorm right before each sub-layer; post-LN: right after each residual add
    assert all(
        pre[pre.index(sub) - 1] == "LayerNorm" for sub in (transformer.ATTENTION, transformer.FEED_FORWARD)
    )
    assert [post[i + 1] for i, b in enumerate(post) if b == "+"] == ["LayerNorm", "LayerNorm"]


def test_block_draws_both_residual_paths_on_a_given_axes():
    fig, axes = plt.subplots(1, 2)
    for ax, pre_ln in zip(axes, (True, False), strict=True):
        assert transformer.transformer_block(pre_ln=pre_ln, ax=ax) is ax
        assert [t.get_text() for t in ax.texts].count("residual") == 2
    assert len(fig.axes) == 2  # drew on the axes it was given, made no new figure


def test_bert_pretraining_names_both_heads_both_losses_and_the_embeddings():
    ax = transformer.bert_pretraining()
    texts = "\n".join(t.get_text() for t in ax.texts)
    for name in (
        "token embeddings",
        "position embeddings",
        "segment embeddings",
        "Transformer encoder",
        "MLM head",
        "NSP head",
        "MLM loss",
        "NSP loss",
        "loss = MLM loss + NSP loss",
        "[CLS]",
        "[MASK]",
    ):
        assert name in texts, name


def test_bert_pretraining_heads_sit_above_the_encoder_and_losses_above_the_heads():
    ax = transformer.bert_pretraining()

    def height(prefix: str) -> float:
        (y,) = [t.get_position()[1] for t in ax.texts if t.get_text().startswith(prefix)]
        return y

    assert (
        height("token embeddings") < height("Transformer encoder") < height("NSP head") < height("NSP loss")
    )
    assert height("Transformer encoder") < height("MLM head") < height("MLM loss") < height("loss = ")
