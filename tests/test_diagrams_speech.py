"""speechlm.diagrams.speech: the HuBERT and CTC diagrams draw what they claim."""

import matplotlib
import matplotlib.pyplot as plt
import pytest

from speechlm.diagrams import speech

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _texts(ax) -> str:
    return "\n".join(t.get_text() for t in ax.texts)


def _edges(ax) -> set[tuple[str, int, int, int]]:
    """The lattice's arrows, read back from their gids: (kind, t, source, target)."""
    found = set()
    for text in ax.texts:
        gid = text.get_gid() or ""
        if gid.startswith("edge:"):
            _, kind, t, source, target = gid.split(":")
            found.add((kind, int(t), int(source), int(target)))
    return found


def test_hubert_masking_names_every_stage():
    ax = speech.hubert_masking()
    text = _texts(ax)
    for part in ("log-mel", "CNN front end", "[M]", "mask embedding", "Transformer", "projection", "k-means",
                 "targets", "CE", "loss only at masked frames", "unmasked"):  # fmt: skip
        assert part in text, part
    assert text.count("CE") == 3  # one loss per masked frame, none at the unmasked ones


def test_hubert_masking_draws_into_a_given_axes():
    _, ax = plt.subplots()
    assert speech.hubert_masking(ax=ax) is ax


@pytest.mark.parametrize("label", ["cat", "too", "a", "aab"])
def test_ctc_lattice_has_one_row_per_state_of_the_extended_target(label):
    ax = speech.ctc_lattice(label, frames=6)
    rows = [t.get_text() for t in ax.texts if t.get_gid() == "row"]
    assert len(rows) == 2 * len(label) + 1
    assert rows[1::2] == list(label)
    assert set(rows[::2]) == {speech.BLANK}


def test_ctc_lattice_skips_a_blank_only_between_different_labels():
    states, edges = speech.ctc_lattice_edges("too", frames=6)
    assert states == [speech.BLANK, "t", speech.BLANK, "o", speech.BLANK, "o", speech.BLANK]
    skips = {(e.source, e.target) for e in edges if e.kind == "skip"}
    assert skips == {(1, 3)}  # t -> o; never o -> o, which must keep its blank
    drawn = _edges(speech.ctc_lattice("too", frames=6))
    assert drawn == {(e.kind, e.t, e.source, e.target) for e in edges}
    assert not any(kind == "skip" and (source, target) == (3, 5) for kind, _, source, target in drawn)
    assert any(kind == "skip" and (source, target) == (1, 3) for kind, _, source, target in drawn)


def test_ctc_lattice_edges_are_exactly_the_steps_of_valid_paths():
    states, edges = speech.ctc_lattice_edges("cat", frames=6)
    n = len(states)
    assert {e.kind for e in edges} == {"stay", "advance", "skip"}
    for e in edges:
        assert e.target - e.source == {"stay": 0, "advance": 1, "skip": 2}[e.kind]
        if e.kind == "skip":
            assert states[e.target] != speech.BLANK and states[e.target] != states[e.source]
    starts = {e.source for e in edges if e.t == 0}
    ends = {e.target for e in edges if e.t == 4}
    assert starts == {0, 1} and ends == {n - 2, n - 1}


def test_ctc_lattice_with_just_enough_frames_is_a_single_path():
    _, edges = speech.ctc_lattice_edges("cat", frames=3)
    assert [(e.source, e.target) for e in edges] == [(1, 3), (3, 5)]  # c, a, t: skip, skip


def test_ctc_lattice_refuses_too_few_frames_and_an_empty_label():
    with pytest.raises(ValueError, match="at least 4 frames"):
        speech.ctc_lattice_edges("too", frames=3)  # t, o, blank, o
    with pytest.raises(ValueError, match="non-empty"):
        speech.ctc_lattice("", frames=4)
