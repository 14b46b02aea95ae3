"""Exercises of notebook 04 (backpropagation): a Jacobian, a backward pass by hand and a gradient check."""

from __future__ import annotations

import numpy as np

from speechlm.exercises import Exercise, allclose, register


def _softmax_jacobian(z):
    p = np.exp(z - z.max())
    p /= p.sum()
    return np.diag(p) - np.outer(p, p)


def _jacobian_cases(rng):
    yield (np.array([0.0, 0.0]),)
    yield (rng.standard_normal(4),)
    yield (30 * rng.standard_normal(6),)  # large scores: needs the max-subtraction trick


register(
    Exercise(
        id="04.softmax_jacobian",
        prompt="""
The softmax p = softmax(z) maps a vector z (C,) to probabilities p (C,). Write
`softmax_jacobian(z)` returning the (C, C) Jacobian J[i, j] = dp_i / dz_j. Derive it first:
dp_i/dz_j = p_i (delta_ij - p_j). Keep it stable for large z.
""",
        reference=_softmax_jacobian,
        cases=_jacobian_cases,
        hint="Compute p with the max subtracted from z; then J = np.diag(p) - np.outer(p, p).",
        compare=allclose(rtol=1e-6, atol=1e-12),
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
