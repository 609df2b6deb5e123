"""Pooling layers (Keras names and defaults, ``channels_last``): MaxPooling1D/2D, AveragePooling1D/2D,
GlobalAveragePooling2D, GlobalMaxPooling2D.

>>> import numpy as np
>>> from rnnkit.layers import MaxPooling2D, GlobalAveragePooling2D
>>> x = np.ones((2, 32, 128, 8))
>>> MaxPooling2D()(x).shape, MaxPooling2D((2, 1))(x).shape, GlobalAveragePooling2D()(x).shape
((2, 16, 64, 8), (2, 16, 128, 8), (2, 8))
"""
from __future__ import annotations

from rnnkit.layers.base import Layer
from rnnkit.layers.conv import check_data_format
from rnnkit.ops import max as reduce_max
from rnnkit.ops import mean as reduce_mean
from rnnkit.ops.conv import as_tuple, check_padding
from rnnkit.ops.pooling import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d


class _ShapeFree(Layer):
    """A layer without weights: any input of the right rank is fine after the first call."""

    def _check_same_features(self, shape):
        self._check_rank(shape)

    def _rank_hint(self) -> str:
        return {3: " (batch, steps, channels)", 4: " (batch, height, width, channels)"}.get(self.input_ndim[0], "")


class _Pooling(_ShapeFree):
    rank = 2
    op = None

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.pool_size = as_tuple(pool_size, self.rank, "pool_size", owner)
        self.strides = None if strides is None else as_tuple(strides, self.rank, "strides", owner)
        self.padding = check_padding(padding, owner)
        self.data_format = check_data_format(data_format, owner)

    def call(self, inputs):
        return type(self).op(inputs, self.pool_size, self.strides, self.padding)

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=list(self.pool_size), strides=None if self.strides is None else list(self.strides),
                      padding=self.padding, data_format=self.data_format)
        return config


class MaxPooling2D(_Pooling):
    """Max over ``pool_size`` windows of ``(batch, height, width, channels)`` (Keras ``MaxPooling2D``).

    Args:
        pool_size: int or pair, default ``(2, 2)``. strides: default None (= pool_size).
        padding: ``"valid"`` (default) or ``"same"``. data_format: only ``"channels_last"``.

    >>> import numpy as np
    >>> MaxPooling2D(3, strides=2, padding="same")(np.ones((1, 7, 7, 2))).shape
    (1, 4, 4, 2)
    """

    input_ndim = (4,)
    op = staticmethod(max_pool2d)


class AveragePooling2D(_Pooling):
    """Mean over ``pool_size`` windows (Keras ``AveragePooling2D``; with ``"same"``, padded cells are not
    counted). Arguments as :class:`MaxPooling2D`.

    >>> import numpy as np
    >>> AveragePooling2D()(np.ones((1, 4, 6, 1))).shape
    (1, 2, 3, 1)
    """

    input_ndim = (4,)
    op = staticmethod(avg_pool2d)


class MaxPooling1D(_Pooling):
    """Max over ``pool_size`` steps of ``(batch, steps, channels)`` (Keras ``MaxPooling1D``; pool_size 2).

    >>> import numpy as np
    >>> MaxPooling1D(3, padding="same")(np.ones((2, 10, 4))).shape
    (2, 4, 4)
    """

    input_ndim = (3,)
    rank = 1
    op = staticmethod(max_pool1d)


class AveragePooling1D(_Pooling):
    """Mean over ``pool_size`` steps of ``(batch, steps, channels)`` (Keras ``AveragePooling1D``).

    >>> import numpy as np
    >>> AveragePooling1D(strides=1)(np.ones((2, 10, 4))).shape
    (2, 9, 4)
    """

    input_ndim = (3,)
    rank = 1
    op = staticmethod(avg_pool1d)


class _GlobalPooling2D(_ShapeFree):
    input_ndim = (4,)
    reduce = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    def call(self, inputs):
        return type(self).reduce(inputs, (1, 2), self.keepdims)  # (B, H, W, C) -> (B, C) or (B, 1, 1, C)

    def get_config(self):
        config = super().get_config()
        config.update(data_format=self.data_format, keepdims=self.keepdims)
        return config


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over height and width: ``(B, H, W, C)`` -> ``(B, C)`` (``(B, 1, 1, C)`` with ``keepdims=True``).

    >>> import numpy as np
    >>> GlobalAveragePooling2D(keepdims=True)(np.ones((2, 3, 5, 4))).shape
    (2, 1, 1, 4)
    """

    reduce = staticmethod(reduce_mean)


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Max over height and width: ``(B, H, W, C)`` -> ``(B, C)`` (a tie shares the gradient evenly).

    >>> import numpy as np
    >>> GlobalMaxPooling2D()(np.ones((2, 3, 5, 4))).shape
    (2, 4)
    """

    reduce = staticmethod(reduce_max)
