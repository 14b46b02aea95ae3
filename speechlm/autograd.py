"""A tiny reverse-mode automatic differentiation engine over NumPy arrays (notebook 04).

A :class:`Tensor` wraps a NumPy array and remembers the operation that made
it. Calling :meth:`Tensor.backward` on a scalar walks that graph in reverse
topological order and applies the chain rule: every operation adds its
vector-Jacobian product to the ``grad`` of its inputs. Broadcasting is
supported (gradients are summed back to the input's shape), so the engine
trains a real multilayer perceptron on batches:

>>> x = Tensor(np.ones((4, 3)))
>>> layer = Linear(3, 2, rng=np.random.default_rng(0))
>>> loss = cross_entropy(layer(x).relu(), np.array([0, 1, 1, 0]))
>>> loss.backward()
>>> layer.weight.grad.shape
(3, 2)

It is about 50 times smaller than a real framework and checked against
``torch.autograd`` in float64 (tests/test_autograd.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence

import numpy as np

__all__ = ["MLP", "SGD", "Linear", "Tensor", "cross_entropy", "numerical_gradient", "unbroadcast"]


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The backward pass of broadcasting: sum ``grad`` over the axes that broadcasting added or stretched,
    back to ``shape`` (a ``(4, 3)`` gradient of a ``(3,)`` bias added to every row is summed over rows)."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


class Tensor:
    """A NumPy array that records how it was computed, for reverse-mode differentiation.

    ``data`` is stored as a float array (float64 unless a float32 array is
    given). ``grad`` has the same shape and is filled by :meth:`backward`.
    """

    def __init__(self, data, requires_grad: bool = False, _parents: tuple[Tensor, ...] = (), _op: str = ""):
        arr = np.asarray(data)
        if arr.dtype not in (np.float32, np.float64):
            if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
                raise TypeError(f"Tensor needs numeric data, got dtype {arr.dtype}")
            arr = arr.astype(np.float64)
        self.data: np.ndarray = arr
        self.grad: np.ndarray | None = None
        self.requires_grad = requires_grad or any(p.requires_grad for p in _parents)
        self._parents = _parents
        self._op = _op
        self._backward: Callable[[np.ndarray], None] = lambda g: None

    # ----------------------------------------------------------------- basics
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def __repr__(self) -> str:
        op = f", op={self._op!r}" if self._op else ""
        return f"Tensor(shape={self.shape}{op}, requires_grad={self.requires_grad})"

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        return float(self.data)

    def _make(self, data: np.ndarray, parents: tuple[Tensor, ...], op: str, backward) -> Tensor:
        out = Tensor(data, _parents=parents, _op=op)
        if out.requires_grad:
            out._backward = backward
        return out

    @staticmethod
    def _wrap(other) -> Tensor:
        return other if isinstance(other, Tensor) else Tensor(other)

    def _accumulate(self, grad: np.ndarray) -> None:
        if not self.requires_grad:
            return
        grad = unbroadcast(grad, self.shape)
        self.grad = grad.copy() if self.grad is None else self.grad + grad

    # ------------------------------------------------------------- arithmetic
    def __add__(self, other) -> Tensor:
        other = self._wrap(other)

        def backward(g):
            self._accumulate(g)
            other._accumulate(g)

        return self._make(self.data + other.data, (self, other), "add", backward)

    def __mul__(self, other) -> Tensor:
        other = self._wrap(other)

        def backward(g):
            self._accumulate(g * other.data)
            other._accumulate(g * self.data)

        return self._make(self.data * other.data, (self, other), "mul", backward)

    def __pow__(self, exponent: float) -> Tensor:
        if not isinstance(exponent, int | float):
            raise TypeError(f"only a constant exponent is supported, got {type(exponent).__name__}")

        def backward(g):
            self._accumulate(g * exponent * self.data ** (exponent - 1))

        return self._make(self.data**exponent, (self,), "pow", backward)

    def __neg__(self) -> Tensor:
        return self * -1.0

    def __sub__(self, other) -> Tensor:
        return self + (-self._wrap(other))

    def __rsub__(self, other) -> Tensor:
        return self._wrap(other) + (-self)

    def __truediv__(self, other) -> Tensor:
        return self * self._wrap(other) ** -1.0

    def __rtruediv__(self, other) -> Tensor:
        return self._wrap(other) * self**-1.0

    __radd__ = __add__
    __rmul__ = __mul__

    def __matmul__(self, other) -> Tensor:
        """Matrix product of ``(..., n, k)`` and ``(k, m)`` (or ``(..., k, m)``)."""
        other = self._wrap(other)
        if self.ndim < 2 or other.ndim < 2:
            raise ValueError(f"matmul needs at least 2-D operands, got shapes {self.shape} and {other.shape}")

        def backward(g):
            self._accumulate(g @ np.swapaxes(other.data, -1, -2))
            other._accumulate(np.swapaxes(self.data, -1, -2) @ g)

        return self._make(self.data @ other.data, (self, other), "matmul", backward)

    # ------------------------------------------------------------ elementwise
    def relu(self) -> Tensor:
        def backward(g):
            self._accumulate(g * (self.data > 0))

        return self._make(np.maximum(self.data, 0), (self,), "relu", backward)

    def tanh(self) -> Tensor:
        y = np.tanh(self.data)

        def backward(g):
            self._accumulate(g * (1.0 - y**2))

        return self._make(y, (self,), "tanh", backward)

    def sigmoid(self) -> Tensor:
        y = 0.5 * (1.0 + np.tanh(0.5 * self.data))  # stable for large |x|

        def backward(g):
            self._accumulate(g * y * (1.0 - y))

        return self._make(y, (self,), "sigmoid", backward)

    def exp(self) -> Tensor:
        y = np.exp(self.data)

        def backward(g):
            self._accumulate(g * y)

        return self._make(y, (self,), "exp", backward)

    def log(self) -> Tensor:
        def backward(g):
            self._accumulate(g / self.data)

        return self._make(np.log(self.data), (self,), "log", backward)

    # ------------------------------------------------------------- reductions
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        def backward(g):
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            self._accumulate(np.broadcast_to(g, self.shape))

        return self._make(self.data.sum(axis=axis, keepdims=keepdims), (self,), "sum", backward)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        count = self.data.size if axis is None else np.prod([self.shape[a] for a in np.atleast_1d(axis)])
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / count)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """``x - logsumexp(x)`` along ``axis``, computed stably (max subtracted first)."""
        shifted = self.data - self.data.max(axis=axis, keepdims=True)
        y = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))

        def backward(g):
            # d/dx of log_softmax: g - softmax * sum(g)
            self._accumulate(g - np.exp(y) * g.sum(axis=axis, keepdims=True))

        return self._make(y, (self,), "log_softmax", backward)

    # --------------------------------------------------------------- backward
    def backward(self, grad: np.ndarray | None = None) -> None:
        """Fill ``.grad`` of every tensor this one depends on (reverse-mode chain rule).

        ``grad`` defaults to 1 for a scalar; pass it explicitly for a non-scalar output.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad: no parameter led to it")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward() without a gradient needs a scalar, got shape {self.shape}")
            grad = np.ones_like(self.data)
        order: list[Tensor] = []
        seen: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        while stack:  # iterative post-order depth-first search: deep graphs do not hit the recursion limit
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node._parents if p.requires_grad)
        self.grad = np.asarray(grad, dtype=self.data.dtype).reshape(self.shape)
        for node in reversed(order):
            if node.grad is not None:
                node._backward(node.grad)


def cross_entropy(logits: Tensor, targets: np.ndarray) -> Tensor:
    """Mean negative log-likelihood of integer ``targets`` under ``softmax(logits)``.

    ``logits``: ``(batch, classes)``; ``targets``: ``(batch,)`` integers in ``[0, classes)``.
    Equals ``torch.nn.functional.cross_entropy``.
    """
    targets = np.asarray(targets)
    if logits.ndim != 2 or targets.shape != (logits.shape[0],):
        raise ValueError(
            f"expected logits (batch, classes) and targets (batch,), got {logits.shape} and {targets.shape}"
        )
    if not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(f"targets must be integer class indices, got dtype {targets.dtype}")
    if targets.size and (targets.min() < 0 or targets.max() >= logits.shape[1]):
        raise ValueError(
            f"targets must lie in [0, {logits.shape[1]}), got range [{targets.min()}, {targets.max()}]"
        )
    one_hot = np.zeros(logits.shape, dtype=logits.data.dtype)
    one_hot[np.arange(len(targets)), targets] = 1.0
    return -(logits.log_softmax(axis=1) * one_hot).sum() * (1.0 / len(targets))


class Linear:
    """``y = x @ weight + bias`` with ``weight (in, out)``, initialised like PyTorch (uniform ±1/sqrt(in))."""

    def __init__(self, n_in: int, n_out: int, *, rng: np.random.Generator, dtype=np.float64):
        bound = 1.0 / np.sqrt(n_in)
        self.weight = Tensor(rng.uniform(-bound, bound, (n_in, n_out)).astype(dtype), requires_grad=True)
        self.bias = Tensor(rng.uniform(-bound, bound, (n_out,)).astype(dtype), requires_grad=True)

    def __call__(self, x: Tensor) -> Tensor:
        return x @ self.weight + self.bias

    def parameters(self) -> list[Tensor]:
        return [self.weight, self.bias]


class MLP:
    """A multilayer perceptron: Linear, activation, ..., Linear (logits out).

    ``sizes`` = ``(n_in, hidden_1, ..., n_out)``; ``activation`` is ``"relu"``,
    ``"tanh"`` or ``"sigmoid"``. Input ``(batch, n_in)``, output ``(batch, n_out)``.
    """

    def __init__(self, sizes: Sequence[int], *, activation: str = "relu", seed: int = 0, dtype=np.float64):
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least input and output sizes, got {list(sizes)}")
        if activation not in ("relu", "tanh", "sigmoid"):
            raise ValueError(f"activation must be 'relu', 'tanh' or 'sigmoid', got {activation!r}")
        rng = np.random.default_rng(seed)
        self.layers = [Linear(a, b, rng=rng, dtype=dtype) for a, b in itertools.pairwise(sizes)]
        self.activation = activation

    def __call__(self, x: Tensor | np.ndarray) -> Tensor:
        x = Tensor._wrap(x)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = getattr(x, self.activation)()
        return x

    def parameters(self) -> list[Tensor]:
        return [p for layer in self.layers for p in layer.parameters()]


class SGD:
    """Stochastic gradient descent with optional momentum, the same update as ``torch.optim.SGD``:
    ``v = momentum * v + grad``; ``p -= lr * v``."""

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0):
        self.params = list(params)
        self.lr = lr
        self.momentum = momentum
        self._velocity: list[np.ndarray | None] = [None] * len(self.params)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            v = (
                p.grad
                if self._velocity[i] is None or not self.momentum
                else self.momentum * self._velocity[i] + p.grad
            )
            self._velocity[i] = v
            p.data = p.data - self.lr * v


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`` for every element of ``x``.

    ``f`` maps an array shaped like ``x`` to a float. Error is O(eps^2); use float64.
    """
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + eps
        plus = f(x)
        x[index] = old - eps
        minus = f(x)
        x[index] = old
        grad[index] = (plus - minus) / (2 * eps)
    return grad
