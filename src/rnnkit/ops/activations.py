"""Activation functions with Keras names, each forward and backward side by side, plus a name registry.

    tanh(x)         = (e^x - e^-x) / (e^x + e^-x)         d/dx = 1 - y^2
    sigmoid(x)      = 1 / (1 + e^-x)                      d/dx = y (1 - y)
    relu(x)         = max(x, 0)                           d/dx = [x > 0]
    softmax(x)_i    = e^{x_i} / sum_j e^{x_j}             dL/dx = y * (g - sum(g * y))
    log_softmax(x)  = x - logsumexp(x)                    dL/dx = g - softmax(x) * sum(g)
    hard_sigmoid(x) = relu6(x + 3) / 6                    d/dx = [-3 < x < 3] / 6   (Keras 3)
    softplus(x)     = log(1 + e^x)                        d/dx = sigmoid(x)
    elu(x)          = x if x > 0 else alpha (e^x - 1)     d/dx = 1 if x > 0 else y + alpha
    linear(x)       = x

Every exponential is taken of a non-positive number, so inputs of +-400 (or 1e4) give no overflow.

``softmax`` and ``sigmoid`` leave their input on the output (``_softmax_logits`` / ``_sigmoid_logits``) so a
loss with ``from_logits=False`` can use the fused, stable cross-entropy on the logits, as Keras does.

>>> import numpy as np
>>> from rnnkit import Tensor
>>> from rnnkit.ops import activations
>>> activations.get("sigmoid")(Tensor([-400.0, 0.0, 400.0])).numpy()
array([0. , 0.5, 1. ], dtype=float32)
>>> activations.serialize(activations.get(None))
'linear'
"""
from __future__ import annotations

import numpy as np

from rnnkit.autograd import Tensor, as_tensor, make
from rnnkit.errors import ConfigError


def _stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + e^-x)`` computed from ``e^-|x|`` so no exponential overflows."""
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z)).astype(x.dtype, copy=False)


def tanh(a) -> Tensor:
    """Hyperbolic tangent."""
    a = as_tensor(a)
    out = np.tanh(a.data)

    def backward(g):
        return (g * (1.0 - out * out),)

    return make("tanh", out, (a,), backward)


def sigmoid(a) -> Tensor:
    """Logistic sigmoid, stable for any input; the output remembers its logits as ``_sigmoid_logits``."""
    a = as_tensor(a)
    out = _stable_sigmoid(a.data)

    def backward(g):
        return (g * out * (1.0 - out),)

    result = make("sigmoid", out, (a,), backward)
    result._sigmoid_logits = a
    return result


def relu(a) -> Tensor:
    """``max(x, 0)``; gradient 0 at 0, as PyTorch."""
    a = as_tensor(a)
    out = np.maximum(a.data, 0)

    def backward(g):
        return (g * (a.data > 0),)

    return make("relu", out, (a,), backward)


def softmax(a, axis: int = -1) -> Tensor:
    """Softmax along ``axis``; the output remembers its logits as ``_softmax_logits``.

    >>> softmax(Tensor([[0.0, 0.0], [400.0, -400.0]])).numpy()
    array([[0.5, 0.5],
           [1. , 0. ]], dtype=float32)
    """
    a = as_tensor(a)
    z = np.exp(a.data - a.data.max(axis=axis, keepdims=True))
    out = z / z.sum(axis=axis, keepdims=True)

    def backward(g):
        gy = g * out
        return (gy - out * gy.sum(axis=axis, keepdims=True),)

    result = make("softmax", out, (a,), backward)
    result._softmax_logits = a
    return result


def log_softmax(a, axis: int = -1) -> Tensor:
    """``x - logsumexp(x)`` along ``axis``, stable for any input.

    >>> log_softmax(Tensor([0.0, 0.0])).numpy()
    array([-0.6931472, -0.6931472], dtype=float32)
    """
    a = as_tensor(a)
    shifted = a.data - a.data.max(axis=axis, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))

    def backward(g):
        return (g - np.exp(out) * g.sum(axis=axis, keepdims=True),)

    return make("log_softmax", out, (a,), backward)


def hard_sigmoid(a) -> Tensor:
    """Keras 3 ``hard_sigmoid``: ``relu6(x + 3) / 6`` (0 below -3, 1 above 3, linear between)."""
    a = as_tensor(a)
    out = np.clip((a.data + 3.0) / 6.0, 0.0, 1.0).astype(a.dtype, copy=False)

    def backward(g):
        return (g * ((a.data > -3.0) & (a.data < 3.0)) / 6.0,)

    return make("hard_sigmoid", out, (a,), backward)


def softplus(a) -> Tensor:
    """``log(1 + e^x)`` computed as ``max(x, 0) + log1p(e^-|x|)``."""
    a = as_tensor(a)
    out = np.maximum(a.data, 0) + np.log1p(np.exp(-np.abs(a.data)))

    def backward(g):
        return (g * _stable_sigmoid(a.data),)

    return make("softplus", out, (a,), backward)


def elu(a, alpha: float = 1.0) -> Tensor:
    """Exponential linear unit: ``x`` for ``x > 0``, else ``alpha * (e^x - 1)``."""
    a = as_tensor(a)
    positive = a.data > 0
    out = np.where(positive, a.data, alpha * np.expm1(np.minimum(a.data, 0))).astype(a.dtype, copy=False)

    def backward(g):
        return (g * np.where(positive, 1.0, out + alpha).astype(g.dtype, copy=False),)

    return make("elu", out, (a,), backward)


def linear(a) -> Tensor:
    """The identity (Keras' ``activation=None``)."""
    return as_tensor(a)


_REGISTRY = {
    "tanh": tanh,
    "sigmoid": sigmoid,
    "relu": relu,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "linear": linear,
    "hard_sigmoid": hard_sigmoid,
    "softplus": softplus,
    "elu": elu,
}


def get(identifier):
    """Resolve a Keras activation name, ``None`` (linear) or a callable to a function of a Tensor.

    >>> get("relu") is relu, get(None) is linear
    (True, True)
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        try:
            return _REGISTRY[identifier]
        except KeyError:
            raise ConfigError(
                f"unknown activation {identifier!r}; expected one of {sorted(_REGISTRY)} or a callable"
            ) from None
    if callable(identifier):
        return identifier
    raise ConfigError(f"activation must be a name, None or a callable; got {identifier!r}")


def serialize(fn) -> str:
    """The Keras name of an activation function (its ``__name__`` for a custom callable).

    >>> serialize(tanh)
    'tanh'
    """
    for name, known in _REGISTRY.items():
        if fn is known:
            return name
    if fn is None:
        return "linear"
    return getattr(fn, "__name__", repr(fn))
