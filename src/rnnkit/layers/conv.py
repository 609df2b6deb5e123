"""Conv1D and Conv2D: Keras' convolution layers in the ``channels_last`` layout, with Keras' weight layout.

Kernels are stored as Keras stores them: ``(kh, kw, in_channels, filters)`` for Conv2D and ``(k, in_channels,
filters)`` for Conv1D, so weights copy one-to-one between rnnkit and Keras. The maths is
:func:`rnnkit.ops.conv.conv2d` (im2col + one BLAS product, backward by hand).

>>> import numpy as np
>>> from rnnkit.layers import Conv2D
>>> layer = Conv2D(8, 3, padding="same", activation="relu")
>>> layer(np.ones((2, 32, 128, 1))).shape, [w.shape for w in layer.weights]
((2, 32, 128, 8), [(3, 3, 1, 8), (8,)])
"""
from __future__ import annotations

from rnnkit.errors import ConfigError
from rnnkit.layers.arguments import activation_fn, activation_name, check_units, initializer_config
from rnnkit.layers.base import Layer
from rnnkit.ops.conv import PADDINGS, as_tuple, check_padding, conv1d, conv2d


def check_data_format(data_format, owner: str) -> str:
    """Only Keras' default ``channels_last`` layout is implemented; anything else is a ConfigError."""
    if data_format not in (None, "channels_last"):
        raise ConfigError(f"{owner}: only data_format='channels_last' is supported; got {data_format!r}")
    return "channels_last"


class _Conv(Layer):
    rank = 2
    paddings = PADDINGS

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.filters = check_units(filters, "filters", owner)
        self.kernel_size = as_tuple(kernel_size, self.rank, "kernel_size", owner)
        self.strides = as_tuple(strides, self.rank, "strides", owner)
        self.padding = check_padding(padding, owner, self.paddings)
        self.data_format = check_data_format(data_format, owner)
        self.dilation_rate = as_tuple(dilation_rate, self.rank, "dilation_rate", owner)
        if groups != 1:
            raise ConfigError(f"{owner}: only groups=1 is supported; got groups={groups!r}")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:  # Keras refuses this combination too
            raise ConfigError(f"{owner}: strides > 1 not supported in conjunction with dilation_rate > 1; got "
                              f"strides={self.strides} and dilation_rate={self.dilation_rate}")
        self.activation_name = activation_name(activation)
        self.activation = activation_fn(self.activation_name)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializer_config(kernel_initializer)
        self.bias_initializer = initializer_config(bias_initializer)
        self.kernel = self.bias = None

    def _rank_hint(self) -> str:
        return " (batch, steps, channels)" if self.rank == 1 else " (batch, height, width, channels)"

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ConfigError(f"layer {self.name!r}: the channel axis of the input must be known; got shape "
                              f"{input_shape}")
        self.kernel = self.add_weight("kernel", self.kernel_size + (channels, self.filters), self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=list(self.kernel_size), strides=list(self.strides),
                      padding=self.padding, data_format=self.data_format, dilation_rate=list(self.dilation_rate),
                      groups=1, activation=self.activation_name, use_bias=self.use_bias,
                      kernel_initializer=self.kernel_initializer, bias_initializer=self.bias_initializer)
        return config


class Conv2D(_Conv):
    """2-D convolution over ``(batch, height, width, channels)`` inputs (Keras ``Conv2D``).

    Args:
        filters: number of output channels.
        kernel_size: int or ``(kh, kw)``.
        strides: int or pair, default 1.
        padding: ``"valid"`` (default) or ``"same"`` (output ``ceil(size / stride)``; the odd pad of an even
            kernel goes at the bottom/right, as Keras).
        data_format: only ``"channels_last"`` (or None).
        dilation_rate: int or pair, default 1 (not together with strides > 1, as Keras).
        groups: only 1.
        activation, use_bias, kernel_initializer (``"glorot_uniform"``), bias_initializer (``"zeros"``).

    Weights: ``kernel (kh, kw, in_channels, filters)``, ``bias (filters,)``.

    >>> import numpy as np
    >>> Conv2D(4, (3, 2), strides=2)(np.ones((1, 9, 8, 3))).shape
    (1, 4, 4, 4)
    """

    input_ndim = (4,)
    rank = 2

    def call(self, inputs):
        y = conv2d(inputs, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate)
        return self.activation(y)  # (B, Ho, Wo, filters)


class Conv1D(_Conv):
    """1-D convolution over ``(batch, steps, channels)`` inputs (Keras ``Conv1D``).

    Same arguments as :class:`Conv2D` with single integers, and ``padding="causal"`` as well (zeros in front
    only, so that output step t sees inputs up to t). Weights: ``kernel (k, in_channels, filters)``,
    ``bias (filters,)``.

    >>> import numpy as np
    >>> Conv1D(6, 3, padding="causal", dilation_rate=2)(np.ones((2, 10, 4))).shape
    (2, 10, 6)
    """

    input_ndim = (3,)
    rank = 1
    paddings = PADDINGS + ("causal",)

    def call(self, inputs):
        y = conv1d(inputs, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate)
        return self.activation(y)  # (B, Lo, filters)
