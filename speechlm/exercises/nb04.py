"""Exercises of notebook 04 (backpropagation): backward passes by hand and a gradient check."""

from __future__ import annotations

import numpy as np

from speechlm.exercises import Exercise, allclose, register


def compare_arrays(rtol: float = 1e-6, atol: float = 1e-8):
    """Compare a tuple of arrays element by element (``allclose`` for each, same count)."""
    one = allclose(rtol=rtol, atol=atol)

    def compare(got, expected):
        if not isinstance(got, tuple | list) or len(got) != len(expected):
            return f"expected a tuple of {len(expected)} arrays, got {type(got).__name__}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            problem = one(g, e)
            if problem is not None:
                return f"item {i}: {problem}"
        return None

    return compare


def _linear_backward(x, w, grad_out):
    return grad_out @ w.T, x.T @ grad_out, grad_out.sum(axis=0)


def _linear_cases(rng):
    for n, k, m in ((1, 1, 1), (4, 3, 2), (7, 5, 6)):
        yield rng.standard_normal((n, k)), rng.standard_normal((k, m)), rng.standard_normal((n, m))


register(
    Exercise(
        id="04.linear_backward",
        prompt="""
A linear layer computes y = x @ w + b with x (batch, n_in), w (n_in, n_out), b (n_out,).
Write `linear_backward(x, w, grad_out)` that, given dL/dy = grad_out (batch, n_out),
returns the tuple (dL/dx, dL/dw, dL/db) with the shapes of x, w and b.
""",
        reference=_linear_backward,
        cases=_linear_cases,
        hint="Each gradient has the shape of what it differentiates: dL/dx = grad_out @ w.T, "
        "dL/dw = x.T @ grad_out, and b was broadcast over the batch, so its gradient is a sum over axis 0.",
        compare=compare_arrays(),
    )
)


def _cross_entropy_grad(logits, targets):
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    p[np.arange(len(targets)), targets] -= 1.0
    return p / len(targets)


def _ce_cases(rng):
    yield np.array([[0.0, 0.0]]), np.array([1])
    yield rng.standard_normal((5, 4)), rng.integers(0, 4, size=5)
    yield 50 * rng.standard_normal((3, 10)), rng.integers(0, 10, size=3)  # large logits: needs stability


register(
    Exercise(
        id="04.cross_entropy_grad",
        prompt="""
Write `cross_entropy_grad(logits, targets)`: the gradient of the MEAN cross-entropy loss
L = -(1/B) sum_b log softmax(logits)[b, targets[b]] with respect to logits (B, C).
targets holds B integer classes. Return a (B, C) array. Keep it stable for large logits.
""",
        reference=_cross_entropy_grad,
        cases=_ce_cases,
        hint="dL/dlogits = (softmax(logits) - one_hot(targets)) / B. Subtract the row maximum before exp.",
        compare=allclose(rtol=1e-6, atol=1e-10),
    )
)


def _tanh_mlp_grad(x, w1, w2):
    """Gradient of sum(tanh(x @ w1) @ w2) with respect to w1."""
    h = np.tanh(x @ w1)
    grad_h = np.ones((x.shape[0], w2.shape[1])) @ w2.T
    return x.T @ (grad_h * (1 - h**2))


def _mlp_cases(rng):
    for n, k, h, m in ((1, 2, 2, 1), (3, 4, 5, 2), (6, 3, 8, 4)):
        yield rng.standard_normal((n, k)), rng.standard_normal((k, h)), rng.standard_normal((h, m))


register(
    Exercise(
        id="04.tanh_mlp_grad",
        prompt="""
A two-layer network without biases: L = sum(tanh(x @ w1) @ w2), with x (batch, n_in),
w1 (n_in, hidden), w2 (hidden, n_out). Write `tanh_mlp_grad(x, w1, w2)` returning dL/dw1
(shape of w1) by the chain rule, without an autograd library.
""",
        reference=_tanh_mlp_grad,
        cases=_mlp_cases,
        hint="Go backwards: dL/d(out) is all ones; dL/dh = ones @ w2.T; through tanh multiply by "
        "1 - tanh(a)^2 where a = x @ w1; then dL/dw1 = x.T @ dL/da.",
        compare=allclose(rtol=1e-6, atol=1e-10),
    )
)


def _central_difference(x, eps):
    f = lambda v: float(np.sum(np.sin(v) * v**2))  # noqa: E731 - the fixed function of the exercise
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += eps
        minus[i] -= eps
        grad[i] = (f(plus) - f(minus)) / (2 * eps)
    return grad


def _fd_cases(rng):
    yield np.array([0.5]), 1e-5
    yield rng.standard_normal(6), 1e-6
    yield rng.standard_normal((2, 3)), 1e-4


register(
    Exercise(
        id="04.central_difference",
        prompt="""
Gradient checking. For f(v) = sum(sin(v) * v**2), write `central_difference(x, eps)` that
returns the numerical gradient (f(x + eps e_i) - f(x - eps e_i)) / (2 eps) for every element i
of x (any shape), as an array shaped like x. (The analytic gradient is
cos(x) x^2 + 2 x sin(x): your answer should be within about eps^2 of it.)
""",
        reference=_central_difference,
        cases=_fd_cases,
        hint="Loop over np.ndindex(x.shape); perturb a copy of x at index i by +eps and -eps; "
        "divide the difference of f by 2 * eps.",
        compare=allclose(rtol=1e-6, atol=1e-7),
    )
)
