"""Exercises of notebook 04 (backpropagation): a Jacobian, the cross-entropy gradient, a backward pass by
hand and a gradient check."""

from __future__ import annotations

import numpy as np

from speechlm import autograd
from speechlm.exercises import Exercise, allclose, register


def _softmax_jacobian(z):
    p = np.exp(z - z.max())
    p /= p.sum()
    return np.diag(p) - np.outer(p, p)


def _jacobian_cases(rng):
    yield (np.array([0.0, 0.0]),)
    yield (rng.standard_normal(4),)
    yield (30 * rng.standard_normal(6),)
    yield (1000.0 + rng.standard_normal(5),)  # large scores: a naive exp overflows
    yield (np.array([1000.0, 0.0, -1000.0]),)


register(
    Exercise(
        id="04.softmax_jacobian",
        prompt="""
The softmax p = softmax(z) maps a vector z (C,) to probabilities p (C,). Write
`softmax_jacobian(z)` returning the (C, C) Jacobian J[i, j] = dp_i / dz_j. Derive it first:
dp_i/dz_j = p_i (delta_ij - p_j). Keep it stable for large z.
""",
        prompt_zh="""
softmax p = softmax(z) 把向量 z (C,) 映射为概率 p (C,)。编写
`softmax_jacobian(z)`，返回 (C, C) 的雅可比矩阵 J[i, j] = dp_i / dz_j。先推导出它：
dp_i/dz_j = p_i (delta_ij - p_j)。z 很大时也要保持数值稳定。
""",
        reference=_softmax_jacobian,
        cases=_jacobian_cases,
        hints=(
            "Compute p = softmax(z) first, stably; the Jacobian is then built from p alone.",
            "Differentiating p_i = e^{z_i} / sum_k e^{z_k} gives p_i (1 - p_i) on the diagonal and -p_i p_j "
            "off it: a diagonal matrix of p minus the outer product of p with itself.",
            "Softmax does not change when the same constant is subtracted from every z_i: subtract the "
            "largest before exponentiating, so that z around 1000 does not overflow to inf (and inf / inf "
            "to NaN).",
        ),
        hints_zh=(
            "先以数值稳定的方式算出 p = softmax(z)；之后雅可比矩阵只由 p 构成。",
            "对 p_i = e^{z_i} / sum_k e^{z_k} 求导，对角线上得到 p_i (1 - p_i)，非对角线上得到 -p_i p_j："
            "即以 p 为对角元的对角矩阵，减去 p 与自身的外积。",
            "把每个 z_i 都减去同一个常数，softmax 不变：取指数之前先减去最大值，这样 z 在 1000 "
            "左右时也不会上溢为 inf（inf / inf 也就不会变成 NaN）。",
        ),
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
        prompt_zh="""
一个不带偏置的两层网络：L = sum(tanh(x @ w1) @ w2)，其中 x (batch, n_in)、
w1 (n_in, hidden)、w2 (hidden, n_out)。编写 `tanh_mlp_grad(x, w1, w2)`，用链式法则求出
dL/dw1（形状与 w1 相同），不要使用自动微分库。
""",
        reference=_tanh_mlp_grad,
        cases=_mlp_cases,
        hints=(
            "Name every intermediate of the forward pass (a = x w1, h = tanh a, out = h w2, L = the sum of "
            "out) and go backwards one step at a time, starting from dL/d(out).",
            "dL/d(out) is all ones. Through a product y = h w the gradient goes back as (dL/dy) w^T to h "
            "and as h^T (dL/dy) to w; through tanh it is multiplied element-wise by 1 - tanh(a)^2.",
            "Every gradient has the shape of what it is the gradient of: let that decide the order and "
            "the transposes of the matrix products.",
        ),
        hints_zh=(
            "给前向传递的每个中间量起个名字（a = x w1，h = tanh a，out = h w2，L = out 各元素之和），"
            "然后从 dL/d(out) 开始，一步一步往回推。",
            "dL/d(out) 全为 1。经过乘积 y = h w 时，梯度以 (dL/dy) w^T 传回 h，以 h^T (dL/dy) 传给 w；经过 "
            "tanh 时，逐元素乘以 1 - tanh(a)^2。",
            "每个梯度的形状都与它所对应的量相同：让形状来决定矩阵乘法的次序和转置。",
        ),
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
        prompt_zh="""
梯度检验。对 f(v) = sum(sin(v) * v**2)，编写 `central_difference(x, eps)`：对 x（任意形状）
的每个元素 i 求数值梯度 (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)，返回与 x 形状相同的数组。
（解析梯度为 cos(x) x^2 + 2 x sin(x)：你的答案与它的差距应在 eps^2 左右。）
""",
        reference=_central_difference,
        cases=_fd_cases,
        hints=(
            "Perturb one element at a time: a copy of x with element i moved up by eps, another with it "
            "moved down by eps, and f of each.",
            "Element i of the gradient is the difference of the two values of f divided by 2 eps. Loop "
            "over every index of x, whatever its shape (NumPy's ndindex yields them), and leave x itself "
            "unchanged. The one-sided difference is only accurate to about eps, not eps^2.",
        ),
        hints_zh=(
            "每次只扰动一个元素：x 的一个副本把元素 i 增加 eps，另一个副本把它减小 eps，分别计算 f。",
            "梯度的第 i 个元素就是这两个 f 值之差除以 2 eps。无论 x 是什么形状，"
            "都要遍历它的每一个下标（NumPy 的 ndindex 会逐一给出），并且不要改动 x 本身。"
            "单侧差分的精度只有 eps 量级，而不是 eps^2。",
        ),
        compare=allclose(rtol=1e-6, atol=1e-7),
    )
)


def _cross_entropy_grad(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    z = autograd.Tensor(logits, requires_grad=True)
    autograd.cross_entropy(z, targets).backward()
    return z.grad


def _ce_cases(rng: np.random.Generator):
    yield (np.array([[0.0, 0.0]]), np.array([1]))
    yield (rng.standard_normal((4, 3)), np.array([0, 2, 1, 2]))
    yield (5 * rng.standard_normal((8, 10)), rng.integers(0, 10, size=8))
    yield (np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 999.0]]), np.array([1, 2]))  # no overflow


register(
    Exercise(
        id="04.cross_entropy_grad",
        prompt="""
Every backward pass of the phone classifier starts here. For logits (batch, classes) and integer
targets (batch,), the loss is the mean over the batch of -log softmax(logits[b])[targets[b]]
(`autograd.cross_entropy`). Write `cross_entropy_grad(logits, targets)` returning dL/dlogits,
shape (batch, classes), without an autograd library. Derive it first; keep it finite for logits
around 1000.
""",
        prompt_zh="""
音素分类器的每一次反向传递都从这里开始。对 logits (batch, classes) 和整数目标
targets (batch,)，损失是 -log softmax(logits[b])[targets[b]] 在批内的均值
（`autograd.cross_entropy`）。编写 `cross_entropy_grad(logits, targets)`，返回 dL/dlogits，
形状为 (batch, classes)，不要使用自动微分库。先推导出它；logits 在 1000 左右时结果也要保持有限。
""",
        reference=_cross_entropy_grad,
        cases=_ce_cases,
        hints=(
            "Take one example first: the derivative of -log p_y with respect to z_j, where p = softmax(z). "
            "Write -log p_y as the log of the sum of e^{z_k}, minus z_y.",
            "The derivative is p_j - 1 for j = y and p_j otherwise: the softmax minus the one-hot target. "
            "The mean over the batch divides every row by the batch size.",
            "Compute each row's softmax stably: subtract the row's largest logit before exponentiating.",
        ),
        hints_zh=(
            "先看单个样本：-log p_y 对 z_j 的导数，其中 p = softmax(z)。把 -log p_y 写成 e^{z_k} "
            "之和的对数减去 z_y。",
            "导数在 j = y 时为 p_j - 1，否则为 p_j：即 softmax 减去独热目标。对批取均值，"
            "就是把每一行除以批大小。",
            "以数值稳定的方式计算每一行的 softmax：取指数之前先减去该行最大的 logit。",
        ),
        compare=allclose(rtol=1e-7, atol=1e-12),
    )
)
