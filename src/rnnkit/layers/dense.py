"""Dense: ``y = activation(x K + b)`` on the last axis of a 2-D or 3-D input (Keras ``Dense``).

>>> import numpy as np
>>> from rnnkit.layers import Dense
>>> layer = Dense(2, kernel_initializer="ones", bias_initializer="ones")
>>> layer(np.array([[1.0, 2.0, 3.0]])).numpy()
array([[7., 7.]], dtype=float32)
>>> layer(np.ones((4, 5, 3))).shape       # (B, T, D) -> (B, T, units), the mask passes through
(4, 5, 2)
"""
from __future__ import annotations

from rnnkit.layers.arguments import activation_fn, activation_name, check_units, initializer_config
from rnnkit.layers.base import Layer
from rnnkit.ops import affine


class Dense(Layer):
    """Fully connected layer on the last axis.

    Args:
        units: output size.
        activation: None (linear, default), or a Keras name such as ``"relu"``, ``"softmax"``.
        use_bias: True.
        kernel_initializer: ``"glorot_uniform"``. bias_initializer: ``"zeros"``.

    Weights: ``kernel (D, units)``, ``bias (units,)``. Shapes: ``(B, D)`` -> ``(B, units)``,
    ``(B, T, D)`` -> ``(B, T, units)``.

    >>> import numpy as np
    >>> layer = Dense(4, activation="relu")
    >>> layer(np.ones((2, 3))).shape, [w.shape for w in layer.weights]
    ((2, 4), [(3, 4), (4,)])
    """

    input_ndim = (2, 3)
    supports_masking = True

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.units = check_units(units, "units", "Dense")
        self.activation_name = activation_name(activation)
        self.activation = activation_fn(self.activation_name)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializer_config(kernel_initializer)
        self.bias_initializer = initializer_config(bias_initializer)
        self.kernel = self.bias = None

    def build(self, input_shape):
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer)

    def call(self, inputs):
        return self.activation(affine(inputs, self.kernel, self.bias))  # (..., D) @ (D, units) + (units,)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, activation=self.activation_name, use_bias=self.use_bias,
                      kernel_initializer=self.kernel_initializer, bias_initializer=self.bias_initializer)
        return config
