"""Reductions over axes: sum, mean, max, each forward and backward side by side.

With ``y = reduce(x, axes)`` and ``g = dL/dy`` (made broadcastable to ``x`` by restoring the reduced axes):

    sum:   dL/dx = g
    mean:  dL/dx = g / n                            (n = number of elements reduced into each output)
    max:   dL/dx = g * [x == y] / #ties             (split evenly among ties, as ``torch.amax``)

The functions are defined as ``sum_``, ``mean``, ``max_`` here (not to shadow the builtins inside this
module) and exported from ``rnnkit.ops`` as ``sum``, ``mean``, ``max``.

>>> import numpy as np
>>> from rnnkit import Tensor
>>> x = Tensor([[1.0, 3.0, 3.0], [0.0, 2.0, 1.0]], requires_grad=True)
>>> x.max(axis=1).sum().backward()
>>> x.grad
array([[0. , 0.5, 0.5],
       [0. , 1. , 0. ]], dtype=float32)
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from rnnkit.autograd import Tensor, as_tensor, make
from rnnkit.errors import ShapeError


def _axes(axis, ndim: int, op: str) -> tuple:
    """Normalise ``axis`` (None, an int or a tuple) to a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    items = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    for ax in items:
        if not -ndim <= ax < max(ndim, 1):
            raise ShapeError(f"{op}: axis {ax} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted({ax % max(ndim, 1) for ax in items})) if ndim else ()


def _kept_shape(shape: tuple, axes: tuple) -> tuple:
    """``shape`` with each reduced axis set to 1 (the keepdims shape)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _spread(g: np.ndarray, shape: tuple, axes: tuple) -> np.ndarray:
    """The output gradient broadcast back over the reduced axes, as a writable array of ``shape``."""
    return np.broadcast_to(g.reshape(_kept_shape(shape, axes)), shape).copy()


def sum_(a, axis=None, keepdims: bool = False) -> Tensor:
    """Sum of ``a`` over ``axis`` (all axes when None).

    >>> sum_(Tensor([[1.0, 2.0], [3.0, 4.0]]), axis=0).numpy()
    array([4., 6.], dtype=float32)
    """
    a = as_tensor(a)
    axes = _axes(axis, a.ndim, "sum")
    out = np.asarray(a.data.sum(axis=axes, keepdims=keepdims))

    def backward(g):
        return (_spread(g, a.shape, axes),)

    return make("sum", out, (a,), backward)


def mean(a, axis=None, keepdims: bool = False) -> Tensor:
    """Mean of ``a`` over ``axis`` (all axes when None).

    >>> mean(Tensor([[1.0, 2.0], [3.0, 4.0]]), axis=-1).numpy()
    array([1.5, 3.5], dtype=float32)
    """
    a = as_tensor(a)
    axes = _axes(axis, a.ndim, "mean")
    count = math.prod(a.shape[ax] for ax in axes)
    out = np.asarray(a.data.mean(axis=axes, keepdims=keepdims))

    def backward(g):
        return (_spread(g, a.shape, axes) / max(count, 1),)

    return make("mean", out, (a,), backward)


def max_(a, axis=None, keepdims: bool = False) -> Tensor:
    """Maximum of ``a`` over ``axis``; the gradient is shared evenly by tied maxima (``torch.amax``).

    >>> max_(Tensor([[1.0, 5.0], [7.0, 2.0]]), axis=1).numpy()
    array([5., 7.], dtype=float32)
    """
    a = as_tensor(a)
    axes = _axes(axis, a.ndim, "max")
    if a.size == 0:
        raise ShapeError(f"max of an empty tensor (shape {a.shape}) is undefined")
    top = a.data.max(axis=axes, keepdims=True)  # reduced axes kept as size 1
    out = np.asarray(top if keepdims else top.reshape([n for i, n in enumerate(a.shape) if i not in axes]))

    def backward(g):
        winners = a.data == top  # (shape of a) bool, True at every tied maximum
        ties = winners.sum(axis=axes, keepdims=True)
        return (winners * (g.reshape(top.shape) / ties).astype(g.dtype),)

    return make("max", out, (a,), backward)
