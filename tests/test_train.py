"""The training loop: determinism, step/epoch counting, evaluation, checkpoints, helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from torch import nn

from speechlm.batching import PaddedBatch
from speechlm.metrics import accuracy
from speechlm.train import (
    History,
    confusion_matrix,
    count_parameters,
    fit,
    load_checkpoint,
    plot_history,
    predict,
    to_device,
)
from speechlm.utils import set_seed


def _data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return torch.utils.data.TensorDataset(x, y)


def _run(seed=0, **kwargs):
    set_seed(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))
    loader = torch.utils.data.DataLoader(_data(), batch_size=8, shuffle=True)
    eval_loader = torch.utils.data.DataLoader(_data(32, 1), batch_size=16)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit(
        model,
        loader,
        optimizer=opt,
        loss_fn=F.cross_entropy,
        progress=False,
        seed=seed,
        **{"eval_loader": eval_loader} | kwargs,
    )
    return model, history


def test_same_seed_gives_identical_history():
    _, h1 = _run(epochs=3, log_every=4)
    _, h2 = _run(epochs=3, log_every=4)
    _, h3 = _run(seed=1, epochs=3, log_every=4)
    assert h1.train_loss == h2.train_loss and h1.eval == h2.eval
    assert h1.train_loss != h3.train_loss


def test_epochs_steps_logging_and_evaluation():
    _, h = _run(epochs=3, log_every=5)
    assert h.steps == [5, 10, 15, 20, 24]  # 8 batches per epoch, 24 steps, the last one always logged
    assert h.eval_steps == [8, 16, 24] and set(h.eval) == {"loss", "accuracy"}
    assert h.eval["accuracy"][-1] > 0.8 and h.train_loss[-1] < h.train_loss[0]
    assert h.lr == [0.1] * 5 and h.time_s > 0
    _, h = _run(steps=20, log_every=10, eval_every=7)
    assert h.steps == [10, 20] and h.eval_steps == [7, 14, 20]


def test_step_fn_and_model_returning_loss():
    set_seed(0)
    model = nn.Linear(4, 2)
    loader = torch.utils.data.DataLoader(_data(), batch_size=16)
    calls = []

    def step_fn(m, batch):
        x, y = batch
        calls.append(len(x))
        return F.cross_entropy(m(x), y), {"batch": float(len(x))}

    h = fit(
        model,
        loader,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        step_fn=step_fn,
        steps=6,
        eval_loader=loader,
        progress=False,
    )
    assert len(calls) == 6 + 2 * 4 and h.eval["batch"] == [16.0, 16.0]  # wraps around the 4-batch loader

    class WithLoss(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 2)

        def forward(self, x, y):
            return F.cross_entropy(self.linear(x), y)

    model = WithLoss()
    h = fit(
        model,
        loader,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.5),
        epochs=5,
        progress=False,
        log_every=4,
    )
    assert h.train_loss[-1] < h.train_loss[0]


def test_grad_clip_and_scheduler():
    set_seed(0)
    model = nn.Linear(4, 2)
    before = torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    loader = [(torch.randn(8, 4) * 1000, torch.zeros(8, dtype=torch.long))]
    h = fit(
        model,
        loader,
        optimizer=opt,
        loss_fn=F.cross_entropy,
        steps=1,
        grad_clip=1e-3,
        scheduler=sched,
        progress=False,
        log_every=1,
    )
    moved = torch.nn.utils.parameters_to_vector(model.parameters()).detach() - before
    assert 0 < moved.norm() <= 1e-3 * (1 + 1e-5)  # lr 1 times a gradient clipped to norm 1e-3
    assert h.lr == [0.5]


def test_checkpoint_round_trip(tmp_path):
    path = tmp_path / "ckpt" / "model.pt"
    model, h = _run(epochs=2, checkpoint=path)
    fresh = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))
    opt = torch.optim.SGD(fresh.parameters(), lr=0.1)
    state = load_checkpoint(path, fresh, opt)
    assert state["step"] == 16 and state["history"]["train_loss"] == h.train_loss
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt", fresh)


def test_keep_best_restores_the_weights_of_the_best_evaluation():
    scores = iter([0.5, 0.2, 0.2, 0.4])  # a made-up metric per evaluation; the best, 0.2, comes twice
    snapshots = {}

    def eval_fn(model):
        assert not model.training  # evaluated in eval mode
        snapshots[len(snapshots) + 1] = model[0].weight.detach().clone()
        return {"cer": next(scores)}

    model, h = _run(steps=16, eval_loader=None, eval_fn=eval_fn, eval_every=4, keep_best="cer")
    assert model.training and h.eval_steps == [4, 8, 12, 16] and h.eval["cer"] == [0.5, 0.2, 0.2, 0.4]
    assert (h.best_step, h.best) == (8, 0.2)  # the first of equal ones
    assert torch.equal(model[0].weight, snapshots[2]) and not torch.equal(snapshots[2], snapshots[4])
    scores = iter([0.5, 0.2, 0.7, 0.4])
    model, h = _run(steps=16, eval_loader=None, eval_fn=eval_fn, eval_every=4, keep_best="cer", mode="max")
    assert (h.best_step, h.best) == (12, 0.7)
    _, h = _run(steps=16, eval_every=8, keep_best="accuracy", mode="max")  # from the eval loader
    assert h.best == max(h.eval["accuracy"]) and h.best_step in h.eval_steps
    _, h = _run(steps=8)
    assert h.best is None and h.best_step is None  # nothing kept unless asked


def test_before_step_sees_every_step_before_its_batch():
    seen = []

    def step_fn(model, batch):
        seen.append(("step", len(seen)))
        x, y = batch
        return F.cross_entropy(model(x), y)

    model = nn.Linear(4, 2)
    batches = iter(torch.utils.data.DataLoader(_data(), batch_size=8))  # no length: trains for steps
    fit(model, batches, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), steps=3, step_fn=step_fn,
        before_step=lambda step: seen.append(("before", step)), progress=False)  # fmt: skip
    assert [s[0] for s in seen] == ["before", "step"] * 3 and [s[1] for s in seen[::2]] == [1, 2, 3]


def test_fit_bad_arguments():
    model = nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = torch.utils.data.DataLoader(_data(), batch_size=8)
    with pytest.raises(ValueError, match="exactly one of epochs and steps"):
        fit(model, loader, optimizer=opt, loss_fn=F.cross_entropy)
    with pytest.raises(ValueError, match="not both"):
        fit(model, loader, optimizer=opt, loss_fn=F.cross_entropy, step_fn=lambda m, b: 0, steps=1)
    with pytest.raises(ValueError, match="eval_loader or eval_fn, not both"):
        fit(model, loader, optimizer=opt, steps=1, eval_loader=loader, eval_fn=lambda m: {})
    with pytest.raises(ValueError, match="keep_best='cer' needs an evaluation"):
        fit(model, loader, optimizer=opt, steps=1, keep_best="cer")
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        fit(model, loader, optimizer=opt, steps=1, eval_fn=lambda m: {}, keep_best="cer", mode="best")
    with pytest.raises(KeyError, match=r"keep_best='cer', but the evaluation gave only \['wer'\]"):
        fit(model, loader, optimizer=opt, loss_fn=F.cross_entropy, steps=1, eval_fn=lambda m: {"wer": 0.1},
            keep_best="cer", progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="yielded no batch"):
        fit(model, iter([]), optimizer=opt, loss_fn=F.cross_entropy, steps=3, progress=False)
    with pytest.raises(TypeError, match=r"tuple \(\*inputs, target\)"):
        fit(model, [torch.ones(2, 4)], optimizer=opt, loss_fn=F.cross_entropy, steps=1, progress=False)
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        fit(
            model,
            [(torch.full((2, 4), float("nan")), torch.zeros(2, dtype=torch.long))],
            optimizer=opt,
            loss_fn=F.cross_entropy,
            steps=1,
            progress=False,
        )


def test_accuracy_confusion_matrix_and_predict():
    targets = torch.tensor([0, 1, 2, 2, 1])
    preds = torch.tensor([0, 2, 2, 2, 1])
    assert accuracy(preds, targets) == pytest.approx(0.8)
    assert accuracy(F.one_hot(preds, 3).float(), targets) == pytest.approx(0.8)
    np.testing.assert_array_equal(
        confusion_matrix(preds, targets, 3),
        sk_confusion_matrix(targets.numpy(), preds.numpy(), labels=[0, 1, 2]),
    )
    with pytest.raises(ValueError, match=r"must lie in \[0, 2\)"):
        confusion_matrix(preds, targets, 2)
    with pytest.raises(ValueError, match="differ in shape"):
        accuracy(preds[:3], targets)
    model = nn.Linear(4, 2)
    logits, y = predict(model, torch.utils.data.DataLoader(_data(10), batch_size=4))
    assert logits.shape == (10, 2) and y.shape == (10,)
    assert count_parameters(model) == 10


def test_to_device_and_plot():
    batch = PaddedBatch(torch.ones(1, 2, 3), torch.tensor([2]), torch.tensor([0]))
    moved = to_device({"b": batch, "xs": [torch.ones(1)]}, "cpu")
    assert isinstance(moved["b"], PaddedBatch) and isinstance(moved["xs"], list)
    h = History(
        steps=[1, 2],
        train_loss=[1.0, 0.5],
        lr=[0.1, 0.1],
        eval_steps=[2],
        eval={"loss": [0.6], "accuracy": [0.7]},
    )
    ax = plot_history(h)
    assert len(ax.get_lines()) == 2
