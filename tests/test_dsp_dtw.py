"""Dynamic time warping (speechlm.dsp.dtw) against librosa.sequence.dtw."""

import librosa
import numpy as np
import pytest

from speechlm import dsp


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_dtw_matches_librosa(metric):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((30, 5)), rng.standard_normal((41, 5))
    acc, path = librosa.sequence.dtw(x.T, y.T, metric=metric)
    cost, ours = dsp.dtw(x, y, metric=metric)
    assert cost == pytest.approx(acc[-1, -1], rel=1e-10)
    np.testing.assert_array_equal(ours, path[::-1])


def test_path_is_monotone_and_connected():
    rng = np.random.default_rng(1)
    _, path = dsp.dtw(rng.standard_normal((12, 3)), rng.standard_normal((20, 3)))
    assert tuple(path[0]) == (0, 0) and tuple(path[-1]) == (11, 19)
    steps = np.diff(path, axis=0)
    assert {tuple(s) for s in steps} <= {(0, 1), (1, 0), (1, 1)}


def test_time_stretch_costs_nothing():
    x = np.random.default_rng(2).standard_normal((15, 4))
    assert dsp.dtw(x, np.repeat(x, 2, axis=0))[0] == pytest.approx(0.0, abs=1e-6)


def test_batched_distances_equal_pairwise():
    rng = np.random.default_rng(3)
    query = rng.standard_normal((25, 6))
    templates = [rng.standard_normal((m, 6)) for m in (10, 33, 25, 7)]
    batched = dsp.dtw_distances(query, templates, normalize=False)
    pairwise = [dsp.dtw(query, t)[0] for t in templates]
    np.testing.assert_allclose(batched, pairwise, rtol=1e-10)
    normalised = dsp.dtw_distances(query, templates)
    np.testing.assert_allclose(normalised, batched / (25 + np.array([10, 33, 25, 7])))


def test_dtw_bad_input():
    with pytest.raises(ValueError, match=r"feature sequence \(time, features\)"):
        dsp.dtw(np.zeros(5), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="feature sizes differ"):
        dsp.dtw(np.zeros((5, 3)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="templates is empty"):
        dsp.dtw_distances(np.zeros((5, 2)), [])
    with pytest.raises(ValueError, match="metric must be"):
        dsp.cost_matrix(np.zeros((5, 2)), np.zeros((5, 2)), metric="manhattan")
