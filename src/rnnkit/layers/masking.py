"""Masking: mark the time steps whose features all equal ``mask_value`` as padding (Keras ``Masking``).

The output is the input with masked steps set to zero, carrying the mask ``any(x != mask_value, axis=-1)``
to the next layers (recurrent layers skip masked steps).

>>> import numpy as np
>>> from rnnkit.layers import Masking
>>> x = np.array([[[1.0, 2.0], [0.0, 0.0], [3.0, 0.0]]])
>>> Masking()(x)._keras_mask
array([[ True, False,  True]])
"""
from __future__ import annotations

import numpy as np

from rnnkit.layers.base import Layer


class Masking(Layer):
    """Mask time steps equal to ``mask_value`` in every feature.

    Args:
        mask_value: 0.0 (default).

    Shapes: ``(B, T, D)`` -> ``(B, T, D)``, with mask ``(B, T)``.

    >>> Masking(mask_value=-1.0)(np.full((1, 2, 3), -1.0))._keras_mask
    array([[False, False]])
    """

    input_ndim = (3,)
    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def _check_same_features(self, shape):
        self._check_rank(shape)  # no weights: the feature size may change

    def compute_mask(self, inputs, mask=None):
        return np.any(inputs.data != self.mask_value, axis=-1)  # (B, T)

    def call(self, inputs):
        keep = self.compute_mask(inputs)
        return inputs * keep[..., None].astype(inputs.dtype)  # (B, T, 1) broadcast over features

    def get_config(self):
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config
