"""The autograd engine of notebook 04 against torch.autograd (float64, 1e-8) and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from speechlm.autograd import MLP, SGD, Linear, Tensor, cross_entropy, numerical_gradient

TOL = 1e-8


def _pair(rng, shape):
    data = rng.standard_normal(shape)
    return Tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)


@pytest.mark.parametrize(
    ("name", "ours", "theirs"),
    [
        ("add_broadcast", lambda a, b: ((a + b) * a).sum(), lambda a, b: ((a + b) * a).sum()),
        (
            "sub_div",
            lambda a, b: ((a - b) / (b * b + 1.0)).sum(),
            lambda a, b: ((a - b) / (b * b + 1.0)).sum(),
        ),
        ("matmul_tanh", lambda a, b: (a @ b.tanh()).mean(), lambda a, b: (a @ b.tanh()).mean()),
        (
            "sigmoid_exp_log",
            lambda a, b: (a.sigmoid() + 1.0).log().sum() + b.exp().mean(),
            lambda a, b: torch.log(torch.sigmoid(a) + 1.0).sum() + b.exp().mean(),
        ),
        (
            "relu_pow",
            lambda a, b: ((a @ b).relu() ** 2).sum(axis=1).mean(),
            lambda a, b: ((a @ b).relu() ** 2).sum(dim=1).mean(),
        ),
        (
            "log_softmax",
            lambda a, b: (a.log_softmax(axis=1) * a).sum(),
            lambda a, b: (F.log_softmax(a, dim=1) * a).sum(),
        ),
        (
            "rsub_rdiv",
            lambda a, b: (1.0 - a).sum() + (2.0 / (a * a + 1.0)).sum(keepdims=True).sum(),
            lambda a, b: (1.0 - a).sum() + (2.0 / (a * a + 1.0)).sum(),
        ),
    ],
)
def test_ops_match_torch_autograd(name, ours, theirs):
    rng = np.random.default_rng(0)
    a, ta = _pair(rng, (4, 3))
    shape_b = (3,) if name in ("add_broadcast", "sub_div") else (3, 5)
    b, tb = _pair(rng, shape_b)
    out, tout = ours(a, b), theirs(ta, tb)
    out.backward()
    tout.backward()
    assert abs(out.item() - tout.item()) <= TOL
    np.testing.assert_allclose(a.grad, ta.grad.numpy(), rtol=0, atol=TOL)
    if tb.grad is not None:
        np.testing.assert_allclose(b.grad, tb.grad.numpy(), rtol=0, atol=TOL)


def test_diamond_graph_accumulates_gradients():
    x = Tensor(np.array([[2.0]]), requires_grad=True)
    y = x * x  # used twice below: dz/dx = 3 * (2 x) * ... by the chain rule
    z = (y + y * 2.0).sum()
    z.backward()
    assert x.grad[0, 0] == pytest.approx(3 * 2 * 2.0)


def test_mlp_cross_entropy_matches_torch_and_finite_differences():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 6))
    y = rng.integers(0, 4, size=8)
    mlp = MLP([6, 7, 4], activation="tanh", seed=3)
    loss = cross_entropy(mlp(x), y)
    loss.backward()

    params = [torch.tensor(p.data, requires_grad=True) for p in mlp.parameters()]
    w1, b1, w2, b2 = params
    tloss = F.cross_entropy(torch.tanh(torch.tensor(x) @ w1 + b1) @ w2 + b2, torch.tensor(y))
    tloss.backward()
    assert abs(loss.item() - tloss.item()) <= TOL
    for p, tp in zip(mlp.parameters(), params, strict=True):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=0, atol=TOL)

    first = mlp.layers[0].weight

    def loss_at(w):
        saved = first.data
        first.data = w
        value = cross_entropy(mlp(x), y).item()
        first.data = saved
        return value

    numeric = numerical_gradient(loss_at, first.data)
    np.testing.assert_allclose(first.grad, numeric, rtol=0, atol=1e-8)


def test_sgd_momentum_matches_torch():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((16, 5)), rng.integers(0, 3, size=16)
    mlp = MLP([5, 8, 3], seed=0)
    tparams = [torch.tensor(p.data, requires_grad=True) for p in mlp.parameters()]
    opt, topt = SGD(mlp.parameters(), lr=0.1, momentum=0.9), torch.optim.SGD(tparams, lr=0.1, momentum=0.9)
    for _ in range(5):
        opt.zero_grad()
        cross_entropy(mlp(x), y).backward()
        opt.step()
        topt.zero_grad()
        w1, b1, w2, b2 = tparams
        F.cross_entropy(torch.relu(torch.tensor(x) @ w1 + b1) @ w2 + b2, torch.tensor(y)).backward()
        topt.step()
    for p, tp in zip(mlp.parameters(), tparams, strict=True):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=0, atol=TOL)


def test_training_reduces_loss():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(int)  # XOR-like: needs the hidden layer
    mlp = MLP([2, 16, 2], seed=0)
    opt = SGD(mlp.parameters(), lr=0.5, momentum=0.9)
    for _ in range(200):
        opt.zero_grad()
        loss = cross_entropy(mlp(x), y)
        loss.backward()
        opt.step()
    accuracy = (mlp(x).data.argmax(axis=1) == y).mean()
    assert accuracy > 0.9, accuracy


def test_linear_shapes_and_float32():
    layer = Linear(3, 2, rng=np.random.default_rng(0), dtype=np.float32)
    out = layer(Tensor(np.ones((5, 3), dtype=np.float32)))
    assert out.shape == (5, 2) and out.data.dtype == np.float32


def test_bad_inputs_raise_clear_errors():
    logits = Tensor(np.zeros((3, 4)), requires_grad=True)
    with pytest.raises(ValueError, match="targets must lie in"):
        cross_entropy(logits, np.array([0, 4, 1]))
    with pytest.raises(TypeError, match="integer class indices"):
        cross_entropy(logits, np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"expected logits \(batch, classes\)"):
        cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(RuntimeError, match="needs a scalar"):
        (logits * 2.0).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor(np.ones(2)).sum().backward()
    with pytest.raises(ValueError, match="at least 2-D"):
        Tensor(np.ones(3)) @ Tensor(np.ones((3, 2)))
    with pytest.raises(TypeError, match="numeric data"):
        Tensor(np.array(["a"]))
    with pytest.raises(ValueError, match="activation must be"):
        MLP([2, 2], activation="gelu")
