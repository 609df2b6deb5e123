"""Ops that pick elements: ``where``, ``maximum``, ``minimum``, and ``split``, forward and backward side by side.

    where(c, x, y):  dL/dx = g * c,   dL/dy = g * (1 - c)            (c is a constant boolean array)
    maximum(x, y):   dL/dx = g * ([x > y] + [x == y] / 2)             (ties share the gradient, as PyTorch)
    split(x, ...):   dL/dx = the parts' gradients joined back (zeros for a part that received none)

Broadcast operands get their gradient summed back to their shape (``unbroadcast``).

>>> import numpy as np
>>> from rnnkit import Tensor
>>> from rnnkit.ops.select import maximum, split, where
>>> x = Tensor([1.0, 5.0, 3.0], requires_grad=True)
>>> maximum(x, 3.0).sum().backward()
>>> x.grad
array([0. , 1. , 0.5], dtype=float32)
>>> where(np.array([True, False, True]), x, 0.0).numpy()
array([1., 0., 3.], dtype=float32)
>>> [p.numpy().tolist() for p in split(Tensor(np.arange(6.0)), [2, 5])]
[[0.0, 1.0], [2.0, 3.0, 4.0], [5.0]]
"""
from __future__ import annotations

import numbers

import numpy as np

from rnnkit.autograd import Tensor, as_tensor, make, make_many
from rnnkit.errors import ShapeError
from rnnkit.ops.elementwise import _operands, unbroadcast


def _condition(condition) -> np.ndarray:
    data = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    return data.astype(bool, copy=False)


def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` holds, else ``x2`` (broadcast together). With only ``condition``: the indices of
    its true elements, one row per axis (``(ndim, count)`` int64, as ``keras.ops.where``)."""
    cond = _condition(condition)
    if x1 is None and x2 is None:
        return Tensor(np.stack(np.nonzero(cond), axis=0).astype(np.int64))
    if x1 is None or x2 is None:
        raise ShapeError("where() takes a condition alone, or a condition with both x1 and x2; got only one of them")
    a, b = _operands(x1, x2)
    out = np.where(cond, a.data, b.data)

    def backward(g):
        ga = unbroadcast(np.where(cond, g, 0).astype(g.dtype, copy=False), a.shape) if a.requires_grad else None
        gb = unbroadcast(np.where(cond, 0, g).astype(g.dtype, copy=False), b.shape) if b.requires_grad else None
        return ga, gb

    return make("where", out, (a, b), backward)


def _extremum(x1, x2, name: str, pick) -> Tensor:
    a, b = _operands(x1, x2)
    out = pick(a.data, b.data)

    def backward(g):
        a_wins = (a.data > b.data) if name == "maximum" else (a.data < b.data)
        share = np.where(a_wins, 1.0, np.where(a.data == b.data, 0.5, 0.0)).astype(g.dtype)  # (broadcast shape)
        ga = unbroadcast(g * share, a.shape) if a.requires_grad else None
        gb = unbroadcast(g * (1.0 - share), b.shape) if b.requires_grad else None
        return ga, gb

    return make(name, out, (a, b), backward)


def maximum(x1, x2) -> Tensor:
    """Elementwise larger of ``x1`` and ``x2`` (broadcast); a tie splits the gradient in half, as PyTorch."""
    return _extremum(x1, x2, "maximum", np.maximum)


def minimum(x1, x2) -> Tensor:
    """Elementwise smaller of ``x1`` and ``x2`` (broadcast); a tie splits the gradient in half, as PyTorch."""
    return _extremum(x1, x2, "minimum", np.minimum)


def split(x, indices_or_sections, axis: int = 0) -> list:
    """``x`` cut along ``axis`` into ``indices_or_sections`` equal parts (an int that divides the axis) or at the
    given indices (as ``np.split`` / ``keras.ops.split``); a list of Tensors."""
    x = as_tensor(x)
    if x.ndim == 0:
        raise ShapeError("split needs a tensor with at least one axis; got a scalar")
    if not -x.ndim <= axis < x.ndim:
        raise ShapeError(f"split: axis {axis} is out of range for a tensor of shape {x.shape}")
    axis %= x.ndim
    length = x.shape[axis]
    if isinstance(indices_or_sections, numbers.Integral):
        sections = int(indices_or_sections)
        if sections <= 0 or length % sections:
            raise ShapeError(f"split: indices_or_sections={sections} (a number of sections) must divide "
                             f"x.shape[{axis}]={length} (shape {x.shape})")
        bounds = list(range(length // sections, length, length // sections))
    else:
        bounds = [int(i) for i in indices_or_sections]
    parts = np.split(x.data, bounds, axis=axis)

    def backward(grads):
        return (np.concatenate([np.zeros(p.shape, p.dtype) if g is None else g for g, p in zip(grads, parts)],
                               axis=axis),)

    return list(make_many("split", [np.ascontiguousarray(p) for p in parts], (x,), backward, zero_fill=False))
