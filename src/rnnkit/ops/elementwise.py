"""Broadcasting arithmetic and elementwise maths, each op's forward and backward side by side.

The gradient of a broadcast operand is summed back to that operand's shape by :func:`unbroadcast`.
Derived ops (``sub``, ``neg``) are built from primitives where that costs nothing.

>>> from rnnkit import Tensor
>>> from rnnkit.ops import add, mul
>>> a = Tensor([[1.0, 2.0]], requires_grad=True)
>>> b = Tensor([[10.0], [20.0]], requires_grad=True)
>>> mul(add(a, b), 2.0).sum().backward()
>>> a.grad, b.grad
(array([[4., 4.]], dtype=float32), array([[4.],
       [4.]], dtype=float32))
"""
from __future__ import annotations

import numpy as np

from rnnkit.autograd import Tensor, as_tensor, make


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it has ``shape``."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def _operands(a, b) -> tuple[Tensor, Tensor]:
    """Lift Python numbers and arrays to constant Tensors of the other operand's float dtype."""
    if isinstance(a, Tensor) and not isinstance(b, Tensor):
        return a, Tensor(b, dtype=a.dtype if a.dtype.kind == "f" else None)
    if isinstance(b, Tensor) and not isinstance(a, Tensor):
        return Tensor(a, dtype=b.dtype if b.dtype.kind == "f" else None), b
    return as_tensor(a), as_tensor(b)


def add(a, b) -> Tensor:
    """``a + b`` with NumPy broadcasting."""
    a, b = _operands(a, b)
    out = a.data + b.data

    def backward(g):
        return unbroadcast(g, a.shape), unbroadcast(g, b.shape)

    return make("add", out, (a, b), backward)


def mul(a, b) -> Tensor:
    """``a * b`` with NumPy broadcasting."""
    a, b = _operands(a, b)
    out = a.data * b.data

    def backward(g):
        ga = unbroadcast(g * b.data, a.shape) if a.requires_grad else None
        gb = unbroadcast(g * a.data, b.shape) if b.requires_grad else None
        return ga, gb

    return make("mul", out, (a, b), backward)


def div(a, b) -> Tensor:
    """``a / b`` with NumPy broadcasting."""
    a, b = _operands(a, b)
    out = a.data / b.data

    def backward(g):
        ga = unbroadcast(g / b.data, a.shape) if a.requires_grad else None
        gb = unbroadcast(-g * out / b.data, b.shape) if b.requires_grad else None
        return ga, gb

    return make("div", out, (a, b), backward)


def neg(a) -> Tensor:
    """``-a``."""
    return mul(a, -1.0)


def sub(a, b) -> Tensor:
    """``a - b`` with NumPy broadcasting."""
    a, b = _operands(a, b)
    return add(a, neg(b))


def power(a, exponent: float) -> Tensor:
    """``a ** exponent`` for a constant exponent."""
    a = as_tensor(a)
    out = a.data**exponent

    def backward(g):
        return (g * exponent * a.data ** (exponent - 1),)

    return make("power", out, (a,), backward)


def exp(a) -> Tensor:
    """Elementwise ``e ** a``."""
    a = as_tensor(a)
    out = np.exp(a.data)

    def backward(g):
        return (g * out,)

    return make("exp", out, (a,), backward)


def log(a) -> Tensor:
    """Elementwise natural logarithm."""
    a = as_tensor(a)
    out = np.log(a.data)

    def backward(g):
        return (g / a.data,)

    return make("log", out, (a,), backward)


def sqrt(a) -> Tensor:
    """Elementwise square root."""
    a = as_tensor(a)
    out = np.sqrt(a.data)

    def backward(g):
        return (g * 0.5 / out,)

    return make("sqrt", out, (a,), backward)


def absolute(a) -> Tensor:
    """Elementwise ``|a|`` (gradient 0 at 0, as PyTorch)."""
    a = as_tensor(a)
    out = np.abs(a.data)

    def backward(g):
        return (g * np.sign(a.data),)

    return make("abs", out, (a,), backward)


def clip(a, low: float, high: float) -> Tensor:
    """Elementwise clamp to ``[low, high]``; the gradient passes where the value was inside."""
    a = as_tensor(a)
    out = np.clip(a.data, low, high)

    def backward(g):
        return (g * ((a.data >= low) & (a.data <= high)),)

    return make("clip", out, (a,), backward)


def cast(a, dtype) -> Tensor:
    """``a`` converted to float ``dtype``; the gradient is converted back to ``a``'s dtype."""
    a = as_tensor(a)
    out = a.data.astype(dtype)

    def backward(g):
        return (g.astype(a.dtype),)

    return make("cast", out, (a,), backward)
