"""The CNN, GRU and Transformer classifiers: shapes, padding invariance, and that they learn."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from speechlm.batching import collate_padded
from speechlm.classifiers import CNNClassifier, GRUClassifier, TransformerClassifier
from speechlm.metrics import accuracy
from speechlm.train import fit, predict

MODELS = {
    "cnn": lambda: CNNClassifier(6, 3, channels=(16, 16), kernel_size=3),
    "gru": lambda: GRUClassifier(6, 3, hidden=16, num_layers=2),
    "gru_stacked_frames": lambda: GRUClassifier(6, 3, hidden=16, bidirectional=False, stack=3),
    "transformer": lambda: TransformerClassifier(6, 3, d_model=16, num_heads=2, num_layers=1, d_ff=32),
    "transformer_no_subsampling": lambda: TransformerClassifier(6, 3, d_model=16, num_heads=2, subsample=1),
}


@pytest.mark.parametrize("name", MODELS)
def test_padding_does_not_change_predictions(name):
    torch.manual_seed(0)
    model = MODELS[name]().eval()
    seqs = [torch.randn(n, 6) for n in (9, 4, 7)]
    batch = collate_padded([(s, 0) for s in seqs])
    with torch.no_grad():
        together = model(batch.features, batch.lengths)
        alone = torch.cat([model(s[None]) for s in seqs])
    assert together.shape == (3, 3)
    torch.testing.assert_close(together, alone, rtol=0, atol=1e-5)


def _toy_task(n, seed):
    """Class = which third of the 6 channels carries a tone; variable lengths."""
    g = torch.Generator().manual_seed(seed)
    items = []
    for i in range(n):
        label = i % 3
        x = 0.5 * torch.randn(int(torch.randint(5, 15, (1,), generator=g)), 6, generator=g)
        x[:, 2 * label : 2 * label + 2] += 1.5
        items.append((x, label))
    return items


@pytest.mark.parametrize("name", MODELS)
def test_models_learn_a_toy_task(name):
    torch.manual_seed(0)
    model = MODELS[name]()
    train = torch.utils.data.DataLoader(
        _toy_task(96, 1), batch_size=16, shuffle=True, collate_fn=collate_padded
    )
    test = torch.utils.data.DataLoader(_toy_task(48, 2), batch_size=16, collate_fn=collate_padded)
    fit(
        model,
        train,
        optimizer=torch.optim.Adam(model.parameters(), 3e-3),
        loss_fn=F.cross_entropy,
        epochs=8,
        progress=False,
    )
    logits, targets = predict(model, test)
    assert accuracy(logits, targets) > 0.9


def test_transformer_attention_maps_and_lengths():
    model = TransformerClassifier(6, 3, d_model=16, num_heads=2, num_layers=2, subsample=2).eval()
    assert model.output_lengths(torch.tensor([1, 2, 3, 9])).tolist() == [1, 1, 2, 5]
    hidden, mask, maps = model.encode(torch.randn(2, 9, 6), torch.tensor([9, 3]), need_weights=True)
    assert hidden.shape == (2, 5, 16) and mask.sum(1).tolist() == [5, 2]
    assert len(maps) == 2 and maps[0].shape == (2, 2, 5, 5)
    assert torch.all(maps[1][1, :, :, 2:] == 0)  # no attention to padded frames


def test_bad_inputs():
    model = CNNClassifier(6, 3)
    with pytest.raises(ValueError, match=r"features must be \(batch, time, 6\)"):
        model(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 5\]"):
        model(torch.randn(2, 5, 6), torch.tensor([5, 6]))
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        CNNClassifier(6, 3, kernel_size=4)
    with pytest.raises(ValueError, match="stack must be at least 1"):
        GRUClassifier(6, 3, stack=0)
    with pytest.raises(ValueError, match="subsample must be at least 1"):
        TransformerClassifier(6, 3, subsample=0)
