"""Primitive and fused operations on Tensors; each module keeps every op's forward and backward together.

This package also gives ``Tensor`` its operators (``+ - * / ** @``, indexing, ``.sum()`` ...).

>>> from rnnkit import Tensor
>>> (Tensor([1.0, 2.0]) * 3 + 1).numpy()
array([4., 7.], dtype=float32)
"""
from rnnkit.autograd import Tensor
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
    power,
    sqrt,
    sub,
    unbroadcast,
)


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


_bind_tensor_methods()
