"""The array functions of Keras 3's ``keras.ops`` under their Keras names and signatures, on the tape.

What a user-defined layer or recurrent cell needs (``matmul``, ``einsum``, ``tanh``, ``concatenate``, ``split``,
``where`` ...), each differentiable. They reuse the primitives of this package (``rnnkit.ops.elementwise``,
``shape``, ``reductions``, ``activations``, ``matmul``, ``einsum``, ``select``); most are those primitives
under another name. Where a name already existed in ``rnnkit.ops`` these follow Keras:

- ``concatenate(xs, axis=0)`` is Keras' (default axis 0); the internal ``concat(tensors, axis=-1)`` stays.
- ``expand_dims`` also takes a tuple of axes, ``max`` / ``min`` take ``initial=``, ``power`` a tensor exponent
  that needs no gradient; otherwise the same function as before.
- ``convert_to_tensor`` keeps a NumPy float array's dtype (a ``Tensor(array)`` becomes ``float32``), as Keras.

Inputs may be Tensors, NumPy arrays or Python numbers; results are Tensors (``shape`` gives a tuple).

>>> import numpy as np
>>> from rnnkit import Tensor, ops
>>> x = Tensor(np.ones((2, 3)), requires_grad=True)
>>> w = Tensor(np.full((3, 4), 0.5), requires_grad=True)
>>> h = ops.tanh(ops.matmul(x, w))
>>> a, b = ops.split(ops.concatenate([h, h], axis=-1), 2, axis=-1)
>>> ops.sum(ops.square(a - b)).item(), ops.shape(h)
(0.0, (2, 4))
>>> ops.einsum("bi,ij->bj", x, w).shape
(2, 4)
"""
from __future__ import annotations

import numbers

import numpy as np

from rnnkit.autograd import Tensor, as_tensor
from rnnkit.backend import as_float_dtype
from rnnkit.errors import ShapeError
from rnnkit.ops import elementwise as _el
from rnnkit.ops import reductions as _red
from rnnkit.ops.activations import relu, sigmoid, softmax, tanh
from rnnkit.ops.einsum import einsum
from rnnkit.ops.matmul import matmul
from rnnkit.ops.select import maximum, minimum, split, where
from rnnkit.ops.shape import concat, reshape, squeeze, stack, transpose

__all__ = [
    "abs", "absolute", "add", "cast", "clip", "concatenate", "convert_to_tensor", "divide", "dot", "einsum", "exp",
    "expand_dims", "log", "matmul", "max", "maximum", "mean", "min", "minimum", "multiply", "negative", "ones",
    "ones_like", "power", "relu", "reshape", "shape", "sigmoid", "softmax", "split", "sqrt", "square", "squeeze",
    "stack", "subtract", "sum", "tanh", "transpose", "where", "zeros", "zeros_like",
]

# ----------------------------------------------------------------------------- arithmetic, same primitives
add = _el.add
subtract = _el.sub
multiply = _el.mul
divide = _el.div
negative = _el.neg
exp = _el.exp
log = _el.log
sqrt = _el.sqrt
absolute = _el.absolute
abs = _el.absolute  # noqa: A001  (keras.ops.abs)
clip = _el.clip
cast = _el.cast
sum = _red.sum_  # noqa: A001
mean = _red.mean


def square(x) -> Tensor:
    """``x * x``."""
    x = as_tensor(x)
    return _el.mul(x, x)


def power(x1, x2) -> Tensor:
    """``x1 ** x2``; the exponent is a number or an array that needs no gradient."""
    if isinstance(x2, Tensor):
        if x2.requires_grad:
            raise ShapeError("power(x1, x2): a gradient with respect to the exponent x2 is not supported; pass "
                             "x2 as a number or a constant (or use exp(x2 * log(x1)) for positive x1)")
        x2 = x2.data
    return _el.power(x1, x2)


def dot(x1, x2) -> Tensor:
    """Matrix product as ``keras.ops.dot``: ``matmul`` for operands with axes, ``multiply`` when one is a scalar."""
    a, b = as_tensor(x1), as_tensor(x2)
    if a.ndim == 0 or b.ndim == 0:
        return _el.mul(a, b)
    return matmul(a, b)


def concatenate(xs, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis (``keras.ops.concatenate``: default ``axis=0``)."""
    return concat(list(xs), axis=axis)


def expand_dims(x, axis) -> Tensor:
    """``x`` with new size-1 axes at ``axis`` (an int or a tuple of ints, positions in the result)."""
    x = as_tensor(x)
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    ndim = x.ndim + len(axes)
    positions = set()
    for ax in axes:
        if not -ndim <= ax < ndim:
            raise ShapeError(f"expand_dims: axis {ax} is out of range for a result with {ndim} dimensions")
        positions.add(ax % ndim)
    if len(positions) != len(axes):
        raise ShapeError(f"expand_dims: repeated axis in {axes}")
    dims = iter(x.shape)
    return reshape(x, tuple(1 if i in positions else next(dims) for i in range(ndim)))


def max(x, axis=None, keepdims: bool = False, initial=None) -> Tensor:  # noqa: A001
    """Largest value over ``axis``; ``initial``: a lower bound included in the reduction."""
    out = _red.max_(x, axis, keepdims)
    return out if initial is None else maximum(out, initial)


def min(x, axis=None, keepdims: bool = False, initial=None) -> Tensor:  # noqa: A001
    """Smallest value over ``axis``; ``initial``: an upper bound included in the reduction."""
    out = _el.neg(_red.max_(_el.neg(as_tensor(x)), axis, keepdims))
    return out if initial is None else minimum(out, initial)


# ------------------------------------------------------------------------------------------- creation
def convert_to_tensor(x, dtype=None, sparse=None, ragged=None) -> Tensor:
    """A Tensor holding ``x``: a Tensor is returned as it is (cast if ``dtype`` differs); a NumPy array keeps its
    dtype; Python floats become ``float32`` (``backend.floatx()``)."""
    if sparse or ragged:
        raise ShapeError("convert_to_tensor: sparse and ragged tensors are not supported")
    if isinstance(x, Tensor):
        return x if dtype is None or x.dtype == np.dtype(dtype) else _el.cast(x, dtype)
    if dtype is None and isinstance(x, (np.ndarray, np.generic)):
        return Tensor(x, dtype=x.dtype)
    return Tensor(x, dtype=dtype)


def _dtype(dtype):
    return as_float_dtype(None) if dtype is None else np.dtype(dtype)


def zeros(shape, dtype=None) -> Tensor:
    """A Tensor of zeros (``float32`` by default)."""
    return Tensor(np.zeros(shape, dtype=_dtype(dtype)), dtype=_dtype(dtype))


def ones(shape, dtype=None) -> Tensor:
    """A Tensor of ones (``float32`` by default)."""
    return Tensor(np.ones(shape, dtype=_dtype(dtype)), dtype=_dtype(dtype))


def zeros_like(x, dtype=None) -> Tensor:
    """Zeros with the shape (and, by default, the dtype) of ``x``."""
    data = np.asarray(x.data if isinstance(x, Tensor) else x)
    kind = data.dtype if dtype is None else np.dtype(dtype)
    return Tensor(np.zeros(data.shape, dtype=kind), dtype=kind)


def ones_like(x, dtype=None) -> Tensor:
    """Ones with the shape (and, by default, the dtype) of ``x``."""
    data = np.asarray(x.data if isinstance(x, Tensor) else x)
    kind = data.dtype if dtype is None else np.dtype(dtype)
    return Tensor(np.ones(data.shape, dtype=kind), dtype=kind)


def shape(x) -> tuple:
    """The shape of ``x`` as a tuple of ints."""
    return tuple(np.shape(x.data if isinstance(x, Tensor) else x))
