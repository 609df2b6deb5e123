"""Reshape, Permute and Flatten (Keras names): shape changes of each sample, the batch axis left alone.

>>> import numpy as np
>>> from rnnkit.layers import Flatten, Permute, Reshape
>>> x = np.zeros((2, 8, 32, 64))                   # (batch, height, width, channels) feature maps
>>> columns = Permute((2, 1, 3))(x); columns.shape  # width first: the columns become time steps
(2, 32, 8, 64)
>>> Reshape((-1, 8 * 64))(columns).shape, Flatten()(x).shape
((2, 32, 512), (2, 16384))
"""
from __future__ import annotations

import math
import numbers

from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers.base import Layer
from rnnkit.layers.conv import check_data_format
from rnnkit.ops.shape import reshape, transpose


class _ShapeLayer(Layer):
    def _check_same_features(self, shape):
        pass  # no weights: each call is checked on its own


class Reshape(_ShapeLayer):
    """Reshape each sample to ``target_shape`` (no batch axis; one entry may be -1), as Keras ``Reshape``.

    >>> import numpy as np
    >>> Reshape((3, 4))(np.zeros((5, 12))).shape
    (5, 3, 4)
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            shape = tuple(target_shape)
        except TypeError:
            shape = None
        if (not shape or any(isinstance(d, bool) or not isinstance(d, numbers.Integral) or (d < 1 and d != -1)
                             for d in shape) or list(shape).count(-1) > 1):
            raise ConfigError(f"Reshape: target_shape must be a tuple of positive integers with at most one -1; "
                              f"got {target_shape!r}")
        self.target_shape = tuple(int(d) for d in shape)

    def call(self, inputs):
        batch, sample = inputs.shape[0], inputs.shape[1:]
        size = math.prod(sample)
        known = math.prod(d for d in self.target_shape if d != -1)
        if (-1 in self.target_shape and (known == 0 or size % known)) or (
                -1 not in self.target_shape and known != size):
            raise ShapeError(f"layer {self.name!r}: total size of the new array must be unchanged: cannot reshape "
                             f"a sample of shape {sample} ({size} values) to target_shape {self.target_shape}")
        return reshape(inputs, (batch,) + self.target_shape)

    def get_config(self):
        config = super().get_config()
        config.update(target_shape=list(self.target_shape))
        return config


class Permute(_ShapeLayer):
    """Permute the axes of each sample: ``dims`` numbers them from 1 (the batch axis stays 0), as Keras.

    >>> import numpy as np
    >>> Permute((2, 1))(np.zeros((4, 10, 3))).shape
    (4, 3, 10)
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        try:
            dims = tuple(dims)
        except TypeError:
            dims = (dims,)
        if sorted(d if isinstance(d, numbers.Integral) and not isinstance(d, bool) else -1
                  for d in dims) != list(range(1, len(dims) + 1)):
            raise ConfigError(f"Permute: dims must be a permutation of 1..{len(dims)} (the batch axis is not "
                              f"included); got {dims!r}")
        self.dims = tuple(int(d) for d in dims)

    def call(self, inputs):
        if inputs.ndim != len(self.dims) + 1:
            raise ShapeError(f"layer {self.name!r}: dims {self.dims} permute {len(self.dims)} axes, so the input "
                             f"must have rank {len(self.dims) + 1}; got shape {inputs.shape}")
        return transpose(inputs, (0,) + self.dims)

    def get_config(self):
        config = super().get_config()
        config.update(dims=list(self.dims))
        return config


class Flatten(_ShapeLayer):
    """Flatten each sample to one axis: ``(B, ...)`` -> ``(B, prod(...))`` (Keras ``Flatten``; a 1-D input
    becomes ``(B, 1)``).

    >>> import numpy as np
    >>> Flatten()(np.zeros((4, 3, 5))).shape
    (4, 15)
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format, "Flatten")

    def call(self, inputs):
        return reshape(inputs, (inputs.shape[0], math.prod(inputs.shape[1:])))  # (B, ...) -> (B, N)

    def get_config(self):
        config = super().get_config()
        config.update(data_format=self.data_format)
        return config
