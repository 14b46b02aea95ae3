import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from speechlm import units


def test_perfect_one_to_one_mapping_has_purities_and_pnmi_one():
    rng = np.random.default_rng(0)
    phones = rng.choice(np.array(["a", "b", "k", "s"]), size=500)
    mapping = {"a": 7, "b": 3, "k": 0, "s": 12}
    q = units.unit_quality(phones, np.array([mapping[p] for p in phones]))
    assert q.phone_purity == pytest.approx(1.0)
    assert q.cluster_purity == pytest.approx(1.0)
    assert q.pnmi == pytest.approx(1.0)
    assert q.n_frames == 500


def test_splitting_each_phone_over_two_units_keeps_phone_purity_but_halves_cluster_purity():
    phones = np.repeat(np.array(["a", "b"]), 100)
    split = np.concatenate([np.tile([0, 1], 50), np.tile([2, 3], 50)])
    q = units.unit_quality(phones, split)
    assert q.phone_purity == pytest.approx(1.0)
    assert q.cluster_purity == pytest.approx(0.5)
    assert q.pnmi == pytest.approx(1.0)  # the unit still determines the phone


def test_independent_labels_have_pnmi_near_zero():
    rng = np.random.default_rng(1)
    phones = rng.integers(0, 10, size=200_000)
    unit_ids = rng.integers(0, 50, size=200_000)
    q = units.unit_quality(phones, unit_ids)
    assert q.pnmi < 0.01
    assert q.phone_purity == pytest.approx(0.1, abs=0.02)


def test_hand_computed_example():
    # counts: phone a -> units {0: 2, 1: 1}; phone b -> units {1: 1}; 4 frames
    phones = np.array(["a", "a", "a", "b"])
    unit_ids = np.array([0, 0, 1, 1])
    q = units.unit_quality(phones, unit_ids)
    # phone purity: unit 0 -> a (2 of 2), unit 1 -> a or b (1 of 2): (2 + 1) / 4
    assert q.phone_purity == pytest.approx(0.75)
    # cluster purity: phone a -> unit 0 (2 of 3), phone b -> unit 1 (1 of 1): (2 + 1) / 4
    assert q.cluster_purity == pytest.approx(0.75)
    h_y = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    mi = (
        0.5 * np.log(0.5 / (0.75 * 0.5))
        + 0.25 * np.log(0.25 / (0.75 * 0.5))
        + 0.25 * np.log(0.25 / (0.25 * 0.5))
    )
    assert q.pnmi == pytest.approx(mi / h_y, abs=1e-12)


def test_pnmi_matches_sklearn_mutual_information():
    rng = np.random.default_rng(2)
    phones = rng.integers(0, 6, size=3000)
    unit_ids = (phones * 3 + rng.integers(0, 4, size=3000)) % 11
    counts = np.bincount(phones) / phones.size
    h_y = -np.sum(counts * np.log(counts))
    expected = mutual_info_score(phones, unit_ids) / h_y
    assert units.unit_quality(phones, unit_ids).pnmi == pytest.approx(expected, abs=1e-10)


def test_contingency_counts_pairs():
    counts, phone_names, unit_names = units.contingency(np.array(["b", "a", "a"]), np.array([2, 2, 5]))
    assert phone_names.tolist() == ["a", "b"]
    assert unit_names.tolist() == [2, 5]
    np.testing.assert_array_equal(counts, [[1, 1], [1, 0]])


def test_contingency_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        units.contingency(np.zeros(3), np.zeros(4))


def test_deduplicate_collapses_runs_with_durations():
    values, durations = units.deduplicate([5, 5, 5, 2, 2, 5])
    np.testing.assert_array_equal(values, [5, 2, 5])
    np.testing.assert_array_equal(durations, [3, 2, 1])
    np.testing.assert_array_equal(np.repeat(values, durations), [5, 5, 5, 2, 2, 5])
    empty_values, empty_durations = units.deduplicate([])
    assert empty_values.size == 0 and empty_durations.size == 0


def test_deduplicate_round_trips_random_sequences():
    rng = np.random.default_rng(3)
    seq = rng.integers(0, 3, size=1000)
    values, durations = units.deduplicate(seq)
    np.testing.assert_array_equal(np.repeat(values, durations), seq)
    assert np.all(values[1:] != values[:-1])
    with pytest.raises(ValueError, match="1-D"):
        units.deduplicate(np.zeros((2, 2)))


def test_frame_phone_labels_reads_the_alignment_at_frame_times():
    phones = [("h", 0.10, 0.20), ("i", 0.20, 0.35)]
    labels = units.frame_phone_labels(phones, n_frames=8, frame_rate_hz=20.0)  # t = 0, 0.05, ..., 0.35
    assert labels.tolist() == ["sil", "sil", "h", "h", "i", "i", "i", "sil"]
    shifted = units.frame_phone_labels(phones, n_frames=4, frame_rate_hz=10.0, offset_s=0.05, fill="-")
    assert shifted.tolist() == ["-", "h", "i", "-"]  # t = 0.05, 0.15, 0.25, 0.35
    with pytest.raises(ValueError, match="before it starts"):
        units.frame_phone_labels([("a", 0.3, 0.1)], 3, 100.0)


def test_kmeans_recovers_well_separated_clusters_deterministically():
    rng = np.random.default_rng(4)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    truth = rng.integers(0, 3, size=600)
    frames = centres[truth] + 0.3 * rng.standard_normal((600, 2))
    km = units.fit_kmeans(frames, 3, seed=0)
    found = units.assign_units(km, frames)
    q = units.unit_quality(truth, found)
    assert q.phone_purity == 1.0 and q.pnmi == pytest.approx(1.0)
    again = units.assign_units(units.fit_kmeans(frames, 3, seed=0), frames)
    np.testing.assert_array_equal(found, again)
    assert found.dtype == np.int64


def test_kmeans_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        units.fit_kmeans(np.zeros(10), 2)
    with pytest.raises(ValueError, match="NaN"):
        units.fit_kmeans(np.full((10, 2), np.nan), 2)
    with pytest.raises(ValueError, match="more than the 5 frames"):
        units.fit_kmeans(np.zeros((5, 2)), 6)
    km = units.fit_kmeans(np.random.default_rng(0).standard_normal((50, 3)), 2)
    with pytest.raises(ValueError, match="fit on 3"):
        units.assign_units(km, np.zeros((4, 2)))
