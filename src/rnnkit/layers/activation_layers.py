"""Activation layers with Keras 3's names, arguments and defaults: ``ReLU``, ``LeakyReLU``, ``ELU``, ``PReLU``,
``Softmax`` and ``Activation``.

They keep the input's shape and pass the mask on. ``LeakyReLU``'s default slope is 0.3 (Keras 3's layer; the
``keras.activations.leaky_relu`` function defaults to 0.2). ``Softmax(axis)`` takes an axis or a tuple of axes
and an optional ``mask`` (positions where it is False get probability 0).

>>> import numpy as np
>>> from rnnkit.layers import LeakyReLU, ReLU, Softmax
>>> ReLU(max_value=6.0)(np.array([-1.0, 3.0, 8.0])).numpy()
array([0., 3., 6.], dtype=float32)
>>> LeakyReLU()(np.array([-1.0, 2.0])).numpy()
array([-0.3,  2. ], dtype=float32)
>>> Softmax()(np.array([[0.0, 0.0]])).numpy()
array([[0.5, 0.5]], dtype=float32)
"""
from __future__ import annotations

import warnings

import numpy as np

from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers.arguments import activation_fn, activation_name, initializer_config
from rnnkit.layers.base import Layer
from rnnkit.ops import activations
from rnnkit.ops.relu_family import leaky_relu, masked_softmax, relu_general


class _ShapeFree(Layer):
    """A weightless layer that takes inputs of any shape and passes the mask on."""

    supports_masking = True

    def _check_same_features(self, shape):
        self._check_rank(shape)


def _non_negative(value, what: str, layer: str, allow_none=False) -> None:
    if value is None and allow_none:
        return
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or value < 0:
        raise ConfigError(f"{what} of a {layer} layer cannot be None or a negative value; got {what}={value!r}")


class ReLU(_ShapeFree):
    """Rectified linear unit: ``min(x, max_value)`` above ``threshold``, ``negative_slope * (x - threshold)``
    below it (Keras' ``ReLU``).

    Args:
        max_value: cap on the output (None: no cap). negative_slope: 0.0. threshold: 0.0.

    >>> ReLU(negative_slope=0.5, threshold=1.0)(np.array([0.0, 2.0])).numpy()
    array([-0.5,  2. ], dtype=float32)
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        _non_negative(max_value, "max_value", "ReLU", allow_none=True)
        _non_negative(negative_slope, "negative_slope", "ReLU")
        _non_negative(threshold, "threshold", "ReLU")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)

    def call(self, inputs):
        if self.max_value is None and self.threshold == 0.0:
            return leaky_relu(inputs, self.negative_slope) if self.negative_slope else activations.relu(inputs)
        return relu_general(inputs, self.negative_slope, self.max_value, self.threshold)

    def get_config(self):
        config = super().get_config()
        config.update(max_value=self.max_value, negative_slope=self.negative_slope, threshold=self.threshold)
        return config


class LeakyReLU(_ShapeFree):
    """``x`` for ``x > 0``, else ``negative_slope * x`` (Keras 3's ``LeakyReLU``; ``alpha=`` is its old name).

    Args:
        negative_slope: 0.3 (Keras 3's default).

    >>> LeakyReLU(negative_slope=0.1)(np.array([-2.0])).numpy()
    array([-0.2], dtype=float32)
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.", stacklevel=2)
        super().__init__(**kwargs)
        _non_negative(negative_slope, "negative_slope", "LeakyReLU")
        self.negative_slope = float(negative_slope)

    def call(self, inputs):
        return leaky_relu(inputs, self.negative_slope)

    def get_config(self):
        config = super().get_config()
        config["negative_slope"] = self.negative_slope
        return config


class ELU(_ShapeFree):
    """Exponential linear unit: ``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)`` (Keras' ``ELU``).

    >>> ELU(alpha=2.0)(np.array([0.0, 1.0])).numpy()
    array([0., 1.], dtype=float32)
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, inputs):
        return activations.elu(inputs, self.alpha)

    def get_config(self):
        config = super().get_config()
        config["alpha"] = self.alpha
        return config


class PReLU(Layer):
    """Parametric ReLU: ``relu(x) - alpha * relu(-x)`` with a learnt ``alpha`` per input position (Keras'
    ``PReLU``); ``shared_axes`` share one ``alpha`` along those axes (1-based, the batch axis excluded).

    Args:
        alpha_initializer: ``"zeros"``. shared_axes: None, an int or a list of ints.

    Shapes: ``(B, ...)`` -> the same; ``alpha``: ``input_shape[1:]`` with the shared axes of size 1.

    >>> layer = PReLU(alpha_initializer="ones")
    >>> layer(np.array([[-2.0, 3.0]])).numpy(), layer.alpha.shape
    (array([[-2.,  3.]], dtype=float32), (2,))
    """

    supports_masking = True

    def __init__(self, alpha_initializer="zeros", shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializer_config(alpha_initializer)
        if shared_axes is None:
            self.shared_axes = None
        elif isinstance(shared_axes, (list, tuple)):
            self.shared_axes = [int(a) for a in shared_axes]
        else:
            self.shared_axes = [int(shared_axes)]

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            if not 1 <= axis <= len(shape):
                raise ConfigError(f"PReLU shared_axes must lie in 1..{len(shape)} for inputs of shape "
                                  f"{tuple(input_shape)}; got {self.shared_axes}")
            shape[axis - 1] = 1
        self.alpha = self.add_weight("alpha", tuple(shape), self.alpha_initializer)

    def call(self, inputs):
        return activations.relu(inputs) - self.alpha * activations.relu(-inputs)

    def get_config(self):
        config = super().get_config()
        config.update(alpha_initializer=self.alpha_initializer, shared_axes=self.shared_axes)
        return config


class Softmax(_ShapeFree):
    """Softmax over ``axis`` (an int or a tuple of ints), with an optional ``mask`` broadcastable to the input:
    masked positions get probability 0 (Keras' ``Softmax``).

    >>> Softmax()(np.array([[1.0, 1.0, 9.0]]), mask=np.array([[True, True, False]])).numpy()
    array([[0.5, 0.5, 0. ]], dtype=float32)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)

    def call(self, inputs, mask=None):
        if mask is not None:
            mask_shape = np.shape(getattr(mask, "data", mask))
            if len(mask_shape) > inputs.ndim or any(m not in (1, i) for m, i in zip(mask_shape[::-1],
                                                                                     inputs.shape[::-1])):
                raise ShapeError(f"The `mask` must be broadcastable to `inputs`. Received: inputs.shape="
                                 f"{inputs.shape}, mask.shape={mask_shape}")
            return masked_softmax(inputs, mask, self.axis)
        if isinstance(self.axis, list) and len(self.axis) > 1:
            return masked_softmax(inputs, None, self.axis)
        return activations.softmax(inputs, self.axis[0] if isinstance(self.axis, list) else self.axis)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


class Activation(_ShapeFree):
    """Apply an activation function given by name (``"relu"``, ``"tanh"``, ...) or as a callable (Keras'
    ``Activation``).

    >>> Activation("tanh")(np.array([0.0])).numpy()
    array([0.], dtype=float32)
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activation_fn(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def get_config(self):
        config = super().get_config()
        config["activation"] = activation_name(self.activation)
        return config
