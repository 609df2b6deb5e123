"""Primitive and fused operations on Tensors; each module keeps every op's forward and backward together.

This package also gives ``Tensor`` its operators (``+ - * / ** @``, indexing, ``.sum()`` ...).

>>> import numpy as np
>>> from rnnkit import Tensor
>>> (Tensor([1.0, 2.0]) * 3 + 1).numpy()
array([4., 7.], dtype=float32)
>>> x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
>>> (x.T @ x)[0].softmax().max().shape, x.reshape(3, 2).sum(axis=0).shape
((), (2,))
"""
from rnnkit.autograd import Tensor
from rnnkit.ops import activations
from rnnkit.ops.affine import affine
from rnnkit.ops.activations import (
    elu,
    hard_sigmoid,
    linear,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    softplus,
    tanh,
)
from rnnkit.ops.ctc import ctc_loss
from rnnkit.ops.ctc_decode import ctc_decode
from rnnkit.ops.elementwise import (
    absolute,
    add,
    cast,
    clip,
    div,
    exp,
    log,
    mul,
    neg,
    sqrt,
    sub,
    unbroadcast,
)
from rnnkit.ops.losses import (
    binary_cross_entropy,
    mean_absolute_error,
    mean_squared_error,
    softmax_cross_entropy,
)
from rnnkit.ops.conv import conv1d, conv2d
from rnnkit.ops.matmul import matmul
from rnnkit.ops.normalization import batch_norm
from rnnkit.ops.pooling import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d
from rnnkit.ops.reductions import mean
from rnnkit.ops.reductions import sum_ as sum  # rnnkit.ops.sum, as np.sum
from rnnkit.ops.shape import (
    concat,
    flip,
    getitem,
    reshape,
    squeeze,
    stack,
    take,
    transpose,
    unstack,
)

# Keras 3's ``keras.ops`` names and signatures (rnnkit.ops.keras_names): new names, and supersets of the
# internal functions where a name existed (max with initial=, expand_dims with a tuple of axes, power with an
# array exponent); ``sum`` and ``mean`` stay the reductions' own.
from rnnkit.ops import keras_names  # noqa: E402
from rnnkit.ops.keras_names import (  # noqa: E402
    abs,
    concatenate,
    convert_to_tensor,
    divide,
    dot,
    einsum,
    expand_dims,
    max,
    maximum,
    min,
    minimum,
    multiply,
    negative,
    ones,
    ones_like,
    power,
    shape,
    split,
    square,
    subtract,
    where,
    zeros,
    zeros_like,
)

__all__ = [
    "absolute",
    "activations",
    "add",
    "affine",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "cast",
    "clip",
    "concat",
    "conv1d",
    "conv2d",
    "ctc_decode",
    "ctc_loss",
    "div",
    "elu",
    "exp",
    "expand_dims",
    "flip",
    "getitem",
    "hard_sigmoid",
    "linear",
    "log",
    "log_softmax",
    "matmul",
    "max",
    "max_pool1d",
    "max_pool2d",
    "mean",
    "mean_absolute_error",
    "mean_squared_error",
    "mul",
    "neg",
    "power",
    "relu",
    "reshape",
    "sigmoid",
    "softmax",
    "softmax_cross_entropy",
    "softplus",
    "sqrt",
    "squeeze",
    "stack",
    "sub",
    "sum",
    "take",
    "tanh",
    "transpose",
    "unbroadcast",
    "unstack",
    # Keras 3 names (keras_names)
    "abs", "concatenate", "convert_to_tensor", "divide", "dot", "einsum", "keras_names", "maximum", "min",
    "minimum", "multiply", "negative", "ones", "ones_like", "shape", "split", "square", "subtract", "where",
    "zeros", "zeros_like",
]


def _shape_args(shape: tuple) -> tuple:
    """``t.reshape(2, 3)`` and ``t.reshape((2, 3))`` both mean the shape ``(2, 3)``."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def _bind_tensor_methods() -> None:
    T = Tensor
    T.__add__ = add
    T.__radd__ = lambda self, other: add(other, self)
    T.__sub__ = sub
    T.__rsub__ = lambda self, other: sub(other, self)
    T.__mul__ = mul
    T.__rmul__ = lambda self, other: mul(other, self)
    T.__truediv__ = div
    T.__rtruediv__ = lambda self, other: div(other, self)
    T.__neg__ = neg
    T.__pow__ = power
    T.__abs__ = absolute
    T.exp = exp
    T.log = log
    T.sqrt = sqrt
    T.__matmul__ = matmul
    T.__rmatmul__ = lambda self, other: matmul(other, self)
    T.__getitem__ = getitem
    T.reshape = lambda self, *shape: reshape(self, _shape_args(shape))
    T.transpose = lambda self, *axes: transpose(self, _shape_args(axes) if axes else None)
    T.T = property(lambda self: transpose(self))
    T.sum = lambda self, axis=None, keepdims=False: sum(self, axis, keepdims)
    T.mean = lambda self, axis=None, keepdims=False: mean(self, axis, keepdims)
    T.max = lambda self, axis=None, keepdims=False: max(self, axis, keepdims)
    T.tanh = tanh
    T.sigmoid = sigmoid
    T.relu = relu
    T.softmax = lambda self, axis=-1: softmax(self, axis)
    T.flip = lambda self, axis=1: flip(self, axis)


_bind_tensor_methods()
