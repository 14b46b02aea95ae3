"""Padding, masks, masked pooling and the collate function."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from speechlm.batching import (
    FeatureDataset,
    PaddedBatch,
    collate_padded,
    context_window,
    lengths_to_mask,
    masked_mean,
    pad_sequences,
    random_batches,
    shuffled_batches,
)


def test_pad_sequences_pads_at_the_end():
    a, b = torch.arange(6.0).reshape(3, 2), torch.ones(1, 2)
    padded, lengths = pad_sequences([a, b], padding_value=-1.0)
    assert padded.shape == (2, 3, 2) and lengths.tolist() == [3, 1]
    torch.testing.assert_close(padded[0], a)
    torch.testing.assert_close(padded[1], torch.tensor([[1.0, 1.0], [-1.0, -1.0], [-1.0, -1.0]]))


def test_lengths_to_mask():
    mask = lengths_to_mask(torch.tensor([3, 1, 0]), 4)
    expected = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)
    assert torch.equal(mask, expected)
    assert lengths_to_mask(torch.tensor([2, 5])).shape == (2, 5)


def test_masked_mean_ignores_padding_and_empty_rows():
    x = torch.tensor([[[1.0], [3.0], [100.0]], [[5.0], [7.0], [9.0]], [[4.0], [4.0], [4.0]]])
    mask = lengths_to_mask(torch.tensor([2, 3, 0]), 3)
    torch.testing.assert_close(masked_mean(x, mask), torch.tensor([[2.0], [7.0], [0.0]]))


def test_collate_padded_is_a_tuple_with_names():
    items = [(torch.ones(4, 3), 1), (torch.zeros(2, 3), 0)]
    batch = collate_padded(items)
    assert isinstance(batch, PaddedBatch) and isinstance(batch, tuple)
    features, lengths, labels = batch
    assert features.shape == (2, 4, 3) and lengths.tolist() == [4, 2] and labels.tolist() == [1, 0]
    assert batch.mask.tolist() == [[True] * 4, [True, True, False, False]]
    loader = torch.utils.data.DataLoader(items, batch_size=2, collate_fn=collate_padded)
    assert next(iter(loader)).features.shape == (2, 4, 3)


def test_feature_dataset_maps_labels_and_normalises():
    utts = [
        SimpleNamespace(audio=np.full(n, float(n), dtype=np.float32), sample_rate=16000, label=lab)
        for n, lab in ((4, "yes"), (6, "no"), (8, "yes"))
    ]

    def frames(audio, sr):
        return audio.reshape(-1, 2)

    ds = FeatureDataset(utts, frames, lambda u: u.label)
    assert ds.classes == ["no", "yes"] and ds.labels == [1, 0, 1]
    assert len(ds) == 3 and ds[1][0].shape == (3, 2) and ds[1][0].dtype == torch.float32
    mean, std = ds.stats()
    normed = FeatureDataset(utts, frames, lambda u: u.label, classes=["yes", "no"], normalize=(mean, std))
    assert normed.labels == [0, 1, 0]
    all_frames = torch.cat(normed.features)
    torch.testing.assert_close(all_frames.mean(0), torch.zeros(2), rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match=r"labels \['maybe'\] are not in classes"):
        FeatureDataset(utts, frames, lambda u: "maybe", classes=["yes", "no"])
    with pytest.raises(ValueError, match=r"\(time, channels\)"):
        FeatureDataset(utts, lambda a, sr: a, lambda u: u.label)


def test_bad_inputs():
    with pytest.raises(ValueError, match="all must agree except in the first"):
        pad_sequences([torch.ones(3, 2), torch.ones(3, 4)])
    with pytest.raises(ValueError, match="empty list"):
        pad_sequences([])
    with pytest.raises(ValueError, match="shorter than the longest"):
        lengths_to_mask(torch.tensor([5]), 3)
    with pytest.raises(ValueError, match="non-negative"):
        lengths_to_mask(torch.tensor([-1]))
    with pytest.raises(ValueError, match="does not match"):
        masked_mean(torch.ones(2, 3, 1), torch.ones(2, 4, dtype=torch.bool))


def test_context_window_stacks_neighbours_and_repeats_edges():
    frames = np.arange(8.0).reshape(4, 2)  # frame t = [2t, 2t + 1]
    out = context_window(frames, 1, 2)
    assert out.shape == (4, 8)
    np.testing.assert_array_equal(out[0], [0, 1, 0, 1, 2, 3, 4, 5])  # t=0: frames 0 (repeated), 0, 1, 2
    np.testing.assert_array_equal(out[3], [4, 5, 6, 7, 6, 7, 6, 7])  # t=3: frames 2, 3, 3, 3
    np.testing.assert_array_equal(context_window(frames, 0, 0), frames)
    with pytest.raises(ValueError, match="non-negative"):
        context_window(frames, -1, 0)
    with pytest.raises(ValueError, match=r"\(time, channels\)"):
        context_window(np.ones(3), 1, 1)


def test_shuffled_batches_cover_every_item_once_per_pass():
    batches = shuffled_batches(10, 4, np.random.default_rng(0))
    drawn = [next(batches) for _ in range(5)]  # 20 indices: two whole passes
    assert all(len(b) == 4 for b in drawn)
    flat = [i for b in drawn for i in b]
    assert sorted(flat[:10]) == list(range(10)) and sorted(flat[10:]) == list(range(10))
    assert flat[:10] != flat[10:]  # each pass shuffled anew
    again = shuffled_batches(10, 4, np.random.default_rng(0))
    assert [next(again) for _ in range(5)] == drawn  # seeded
    small = shuffled_batches(3, 8, np.random.default_rng(0))
    assert sorted(next(small)) == [0, 1, 2]  # fewer items than a batch: one whole pass
    with pytest.raises(ValueError, match="at least one item"):
        shuffled_batches(0, 4, np.random.default_rng(0))  # at the call, not at the first batch


def test_random_batches_draw_with_replacement_from_the_generator():
    batches = random_batches(5, 64, torch.Generator().manual_seed(0))
    first = next(batches)
    assert len(first) == 64 and set(first) == set(range(5))  # 64 draws of 5: repeats, every item
    assert first == torch.randint(5, (64,), generator=torch.Generator().manual_seed(0)).tolist()
    with pytest.raises(ValueError, match="batch size of at least 1"):
        random_batches(5, 0, torch.Generator())
