"""Checks and JSON forms for the constructor arguments layers share (activations, initializers, rates, units).

Layers keep the argument the user gave (a Keras name such as ``"tanh"`` or ``"glorot_uniform"``) so that
``get_config()`` can write it back; these helpers validate it once, at construction, with errors that name the
value received and what was expected.

>>> from rnnkit.layers.arguments import activation_name, check_rate
>>> activation_name(None), activation_name("relu")
('linear', 'relu')
>>> check_rate(0.25, "dropout", "LSTM")
0.25
"""
from __future__ import annotations

import numbers

import numpy as np

from rnnkit import initializers
from rnnkit.autograd import Tensor
from rnnkit.errors import ConfigError, ShapeError
from rnnkit.ops import activations


def activation_name(identifier) -> str:
    """The Keras name of an activation given by name or function (``None`` is ``"linear"``)."""
    if identifier is None:
        return "linear"
    return activations.serialize(activations.get(identifier))


def activation_fn(identifier):
    """The activation function for a Keras name or function (``None`` is the identity)."""
    return activations.get("linear" if identifier is None else identifier)


def initializer_config(identifier):
    """A JSON form of an initializer argument: names stay names, objects become ``{class_name, config}``."""
    if isinstance(identifier, str):
        initializers.get(identifier)  # raise ConfigError for unknown names now, not at build time
        return identifier
    if isinstance(identifier, dict):
        return identifier
    return initializers.serialize(initializers.get(identifier))


def check_units(value, argument: str, owner: str) -> int:
    """A positive integer, or a ConfigError naming the argument and the value received."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ConfigError(f"{owner}: {argument} must be a positive integer; got {value!r}")
    return int(value)


def check_rate(value, argument: str, owner: str) -> float:
    """A probability in ``[0, 1)``, or a ConfigError naming the argument and the value received."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) < 1.0:
        raise ConfigError(f"{owner}: {argument} must be a number in [0, 1); got {value!r}")
    return float(value)


def as_mask(mask, batch: int, steps: int, owner: str):
    """A ``(batch, time)`` bool ndarray (or None) from a mask given as an array or Tensor, shape-checked."""
    if mask is None:
        return None
    array = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if array.shape != (batch, steps):
        raise ShapeError(
            f"layer {owner!r}: mask shape {array.shape} does not match the input's (batch, time) = "
            f"{(batch, steps)}; expected a (batch, time) boolean mask"
        )
    return array.astype(bool, copy=False)
