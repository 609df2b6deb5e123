"""The activations a recurrent op may apply to its gates, each as a forward and a derivative.

Every entry writes into a preallocated array (``out=``, which may be the input itself) so the time loop makes
no temporaries, and gives its derivative *from the activation's output* ``y``, which the op has cached:

    ==============  ===================================  ==================================
    name            y = f(x)                             f'(x) written with y
    ==============  ===================================  ==================================
    tanh            tanh(x)                              1 - y²
    sigmoid         1 / (1 + e^-x) = (tanh(x/2) + 1) / 2 y (1 - y)
    relu            max(x, 0)                            1 if y > 0 else 0
    hard_sigmoid    clip(x/6 + 1/2, 0, 1)   (Keras 3)    1/6 if 0 < y < 1 else 0
    linear          x                                    1
    ==============  ===================================  ==================================

At the kinks of ``relu`` and ``hard_sigmoid`` the derivative from the output is the one-sided value the
frameworks use (0 at ``x = 0`` for relu). The sigmoid goes through ``tanh``, which never overflows
(``sigmoid(-1000)`` is 0, not a warning).

>>> import numpy as np
>>> from rnnkit.ops.recurrent.gate_activations import get_activation
>>> sigmoid = get_activation("sigmoid")
>>> y = sigmoid.forward(np.array([-1000.0, 0.0, 2.0]), np.empty(3))
>>> y.round(4)
array([0.    , 0.5   , 0.8808])
>>> sigmoid.derivative(y, np.empty(3)).round(4)
array([0.   , 0.25 , 0.105])
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.ops.recurrent import kernel_math


class GateActivation(NamedTuple):
    """An activation for the recurrent ops: ``forward(x, out) -> out`` and ``derivative(y, out) -> out``."""

    name: str
    forward: Callable[[np.ndarray, np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray, np.ndarray], np.ndarray]
    code: int  # the compiled kernels' code for it (see kernel_math)


# ------------------------------------------------------------------------------------------------ tanh
def _tanh(x, out):
    return np.tanh(x, out=out)


def _tanh_derivative(y, out):
    np.multiply(y, y, out=out)
    return np.subtract(1, out, out=out)


# --------------------------------------------------------------------------------------------- sigmoid
def _sigmoid(x, out):
    np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    np.multiply(out, 0.5, out=out)
    return np.add(out, 0.5, out=out)


def _sigmoid_derivative(y, out):
    np.subtract(1, y, out=out)
    return np.multiply(out, y, out=out)


# ------------------------------------------------------------------------------------------------ relu
def _relu(x, out):
    return np.maximum(x, 0, out=out)


def _relu_derivative(y, out):
    return np.sign(y, out=out)  # y >= 0, so sign(y) is 1 where y > 0 and 0 elsewhere


# ---------------------------------------------------------------------------------------- hard_sigmoid
def _hard_sigmoid(x, out):
    np.multiply(x, 1 / 6, out=out)
    np.add(out, 0.5, out=out)
    return np.clip(out, 0, 1, out=out)


def _hard_sigmoid_derivative(y, out):
    inside = (y > 0) & (y < 1)
    np.copyto(out, inside)
    return np.multiply(out, 1 / 6, out=out)


# ---------------------------------------------------------------------------------------------- linear
def _linear(x, out):
    if out is not x:
        np.copyto(out, x)
    return out


def _linear_derivative(y, out):
    out.fill(1)
    return out


ACTIVATIONS = {
    "tanh": GateActivation("tanh", _tanh, _tanh_derivative, kernel_math.TANH),
    "sigmoid": GateActivation("sigmoid", _sigmoid, _sigmoid_derivative, kernel_math.SIGMOID),
    "relu": GateActivation("relu", _relu, _relu_derivative, kernel_math.RELU),
    "hard_sigmoid": GateActivation("hard_sigmoid", _hard_sigmoid, _hard_sigmoid_derivative, kernel_math.HARD_SIGMOID),
    "linear": GateActivation("linear", _linear, _linear_derivative, kernel_math.LINEAR),
}


def get_activation(name) -> GateActivation:
    """The :class:`GateActivation` called ``name`` (``None`` means ``"linear"``, as in Keras).

    >>> get_activation("tanh").name
    'tanh'
    >>> get_activation("swish")
    Traceback (most recent call last):
    ...
    rnnkit.errors.ConfigError: unknown recurrent activation 'swish'; expected one of 'tanh', 'sigmoid', ...
    """
    if name is None:
        name = "linear"
    if isinstance(name, GateActivation):
        return name
    if not isinstance(name, str) or name not in ACTIVATIONS:
        valid = ", ".join(repr(n) for n in ACTIVATIONS)
        raise ConfigError(f"unknown recurrent activation {name!r}; expected one of {valid}")
    return ACTIVATIONS[name]
