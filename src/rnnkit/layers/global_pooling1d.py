"""Global pooling over time: the mean or the maximum of every feature over the steps of a sequence.

``GlobalAveragePooling1D`` and ``GlobalMaxPooling1D`` have Keras 3's names, arguments (``data_format``,
``keepdims``) and shapes. Both honour a mask (from ``Embedding(mask_zero=True)`` or ``Masking``): masked steps
are left out of the mean (sum of the unmasked steps / their count, as Keras computes it) and of the maximum.
The output carries no mask (the time axis is gone).

Two deliberate differences from Keras 3.15, both where Keras gives nothing useful:

- Keras' ``GlobalMaxPooling1D`` ignores the mask (the maximum runs over padded steps too); here masked steps
  are excluded, as they are from the average.
- A row whose every step is masked gives zeros (Keras' average gives 0/0 = NaN there), with zero gradient.

The backward passes are compositions of existing ops (multiply, sum, add, max), so their gradients are those
ops' gradients: the mean spreads ``g / count`` over the unmasked steps, the maximum routes ``g`` to the
winning step (shared evenly among ties, as ``torch.amax``).

>>> import numpy as np
>>> from rnnkit.layers import Embedding, GlobalAveragePooling1D, GlobalMaxPooling1D
>>> x = np.array([[[1.0, 4.0], [3.0, 0.0], [9.0, 9.0]]])        # (1, 3, 2)
>>> mask = np.array([[True, True, False]])                        # the last step is padding
>>> GlobalAveragePooling1D()(x, mask=mask).numpy()
array([[2., 2.]], dtype=float32)
>>> GlobalMaxPooling1D(keepdims=True)(x, mask=mask).numpy()
array([[[3., 4.]]], dtype=float32)
>>> GlobalAveragePooling1D()(Embedding(10, 4, mask_zero=True)(np.array([[3, 5, 0]]))).shape
(1, 4)
"""
from __future__ import annotations

import numpy as np

from rnnkit.autograd import Tensor
from rnnkit.errors import ConfigError
from rnnkit.layers.arguments import as_mask
from rnnkit.layers.base import Layer

DATA_FORMATS = ("channels_last", "channels_first")


def check_data_format(value, owner: str) -> str:
    """``"channels_last"`` (also for None, Keras' default) or ``"channels_first"``; ConfigError otherwise."""
    if value is None:
        return "channels_last"
    if not isinstance(value, str) or value.lower() not in DATA_FORMATS:
        raise ConfigError(f"{owner}: data_format must be one of {DATA_FORMATS}; got {value!r}")
    return value.lower()


class _GlobalPooling1D(Layer):
    """Shared arguments, checks and mask handling of the two global 1D poolings."""

    input_ndim = (3,)
    supports_masking = True

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format, type(self).__name__)
        if not isinstance(keepdims, (bool, np.bool_)):
            raise ConfigError(f"{type(self).__name__}: keepdims must be True or False; got {keepdims!r}")
        self.keepdims = bool(keepdims)

    def _check_same_features(self, shape):
        self._check_rank(shape)  # no weights: any (batch, time, features) after the first call

    @property
    def _steps_axis(self) -> int:
        return 1 if self.data_format == "channels_last" else 2

    def _mask(self, inputs, mask):
        """``(keep, any_kept)``: the mask as a float array broadcastable to the input (1 on kept steps) and a
        ``(batch, 1, 1)`` float array, 0 on rows with no kept step; None when there is no mask."""
        if mask is None:
            return None
        if self.data_format == "channels_last":
            batch, steps = inputs.shape[0], inputs.shape[1]
        else:
            batch, steps = inputs.shape[0], inputs.shape[2]
        keep = as_mask(mask, batch, steps, self.name)  # (B, T) bool
        any_kept = keep.any(axis=1)[:, None, None]  # (B, 1, 1)
        axis = 2 if self.data_format == "channels_last" else 1
        return np.expand_dims(keep, axis), any_kept  # (B, T, 1) or (B, 1, T)

    def compute_mask(self, inputs, mask=None):
        return None  # the time axis is reduced away

    def get_config(self):
        config = super().get_config()
        config.update(data_format=self.data_format, keepdims=self.keepdims)
        return config


class GlobalAveragePooling1D(_GlobalPooling1D):
    """Mean over time of each feature (Keras ``GlobalAveragePooling1D``); masked steps are left out.

    Args:
        data_format: ``"channels_last"`` (default: inputs ``(batch, steps, features)``) or
            ``"channels_first"`` (``(batch, features, steps)``).
        keepdims: keep the time axis with length 1 (``(batch, 1, features)``) instead of dropping it.

    Shapes: ``(B, T, D)`` -> ``(B, D)`` (channels_last). Call with ``mask=`` a ``(B, T)`` boolean array, or
    after a layer that makes one.

    >>> GlobalAveragePooling1D(data_format="channels_first")(np.ones((2, 3, 5))).shape
    (2, 3)
    """

    def call(self, inputs, mask=None):
        axis = self._steps_axis
        masks = self._mask(inputs, mask)
        if masks is None:
            return inputs.mean(axis=axis, keepdims=self.keepdims)
        keep, _ = masks
        count = keep.sum(axis=axis, keepdims=True)  # (B, 1, 1): unmasked steps per row
        weights = keep / np.maximum(count, 1)  # 1/count on kept steps, 0 elsewhere (all 0 on empty rows)
        return (inputs * Tensor(weights, dtype=inputs.dtype)).sum(axis=axis, keepdims=self.keepdims)


class GlobalMaxPooling1D(_GlobalPooling1D):
    """Maximum over time of each feature (Keras ``GlobalMaxPooling1D``); masked steps are left out.

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        keepdims: keep the time axis with length 1 instead of dropping it.

    Shapes: ``(B, T, D)`` -> ``(B, D)`` (channels_last).

    >>> GlobalMaxPooling1D()(np.arange(6.0).reshape(1, 3, 2)).numpy()
    array([[4., 5.]], dtype=float32)
    """

    def call(self, inputs, mask=None):
        axis = self._steps_axis
        masks = self._mask(inputs, mask)
        if masks is None:
            return inputs.max(axis=axis, keepdims=self.keepdims)
        keep, any_kept = masks
        if self.data_format == "channels_first":
            any_kept = any_kept.reshape(-1, 1, 1)
        # masked steps sink to the lowest finite value so they never win; rows with no kept step pool
        # over everything (no fill) and are then multiplied by zero
        lowest = np.finfo(inputs.dtype).min
        fill = np.where(keep | ~any_kept, 0.0, lowest)  # (B, T, 1) or (B, 1, T)
        pooled = (inputs + Tensor(fill, dtype=inputs.dtype)).max(axis=axis, keepdims=True)  # (B, 1, D) / (B, D, 1)
        pooled = pooled * Tensor(any_kept, dtype=inputs.dtype)
        if self.keepdims:
            return pooled
        batch, features = pooled.shape[0], pooled.shape[1] * pooled.shape[2]
        return pooled.reshape((batch, features))  # (B, 1, D) or (B, D, 1) -> (B, D)
