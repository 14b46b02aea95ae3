"""speechlm.plot.use_cjk_font: Chinese text renders in a matplotlib figure with no missing glyph."""

import warnings

import matplotlib
import pytest

from speechlm import plot

matplotlib.use("Agg")

CHINESE = "打开厨房的灯"  # "turn on the kitchen light", a translation of notebook 16


def _draw_chinese():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    try:
        ax.set_title(f"{CHINESE} (kitchen light)")
        ax.set_xticks([0, 1], ["一", "二"])
        ax.text(0.5, 0.5, "请关掉客厅的风扇", ha="center")
        fig.canvas.draw()
    finally:
        plt.close(fig)


def test_chinese_renders_with_no_missing_glyph():
    with matplotlib.rc_context():
        assert plot.use_cjk_font() == plot.CJK_FONT
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
            _draw_chinese()


def test_the_default_font_alone_misses_the_glyphs():
    # the check above can fail: without the fallback, matplotlib warns for every Chinese character
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        with pytest.warns(UserWarning, match="missing from font"):
            _draw_chinese()


def test_use_cjk_font_is_idempotent_and_keeps_the_latin_font_first():
    # from a known state: speechlm.setup(), called by other tests, has added the font already
    with matplotlib.rc_context({"font.family": ["sans-serif"]}):
        plot.use_cjk_font()
        plot.use_cjk_font()
        assert matplotlib.rcParams["font.family"] == ["sans-serif", plot.CJK_FONT]
