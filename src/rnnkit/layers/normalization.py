"""Normalization: ``(x - mean) / sqrt(variance)`` per feature, statistics from ``adapt(data)`` (Keras' layer).

With ``invert=True`` the layer undoes it, ``x * sqrt(variance) + mean``: a network that predicts scaled values
ends in an inverted layer adapted on the same data and outputs values in the data's own units. The square root
is kept at least ``1e-7`` (Keras' epsilon), so a constant feature passes as ``x - mean``.

Adapted statistics are non-trainable weights (``mean``, ``variance``, ``count``, Keras' order), saved with the
model; ``mean=`` and ``variance=`` given to the constructor live in the config instead.

>>> import numpy as np
>>> from rnnkit.layers import Normalization
>>> layer = Normalization()
>>> layer.adapt(np.array([[1.0, 10.0], [3.0, 30.0]]))
>>> layer(np.array([[2.0, 30.0]])).numpy()
array([[0., 1.]], dtype=float32)
>>> Normalization(mean=2.0, variance=4.0, invert=True)(np.array([[1.0]])).numpy()
array([[4.]], dtype=float32)
"""
from __future__ import annotations

import numbers

import numpy as np

from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers.base import Layer

EPSILON = 1e-7  # keras.backend.epsilon()


def _axis_tuple(axis) -> tuple:
    if axis is None:
        return ()
    if isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        return (int(axis),)
    try:
        axes = tuple(axis)
    except TypeError:
        raise ConfigError(f"Normalization axis must be an int, a tuple of ints or None; got {axis!r}") from None
    if not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axes):
        raise ConfigError(f"Normalization axis must be an int, a tuple of ints or None; got {axis!r}")
    return tuple(int(a) for a in axes)


def _filled(value: float):
    return lambda shape, dtype: np.full(shape, value, dtype=dtype)


class Normalization(Layer):
    """Shift and scale inputs to mean 0 and variance 1 along the kept ``axis`` (Keras' arguments and formulas).

    Args:
        axis: the axis or axes that keep their own statistics (default -1: one mean and variance per feature);
            None: one mean and variance for everything.
        mean, variance: fixed statistics (broadcast to the kept axes, aligned from the right); without them call
            ``adapt(data)`` before use.
        invert: apply the inverse, ``x * sqrt(variance) + mean``.

    Shapes: any input of rank >= 1 (batch axis included); the output has the input's shape.

    >>> layer = Normalization(axis=None)
    >>> layer.adapt(np.array([0.0, 2.0, 4.0]))
    >>> float(layer.mean.squeeze()), float(layer.variance.squeeze())
    (2.0, 2.666666...)
    """

    supports_masking = True

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axis_tuple(axis)
        self.input_mean = mean
        self.input_variance = variance
        self.invert = bool(invert)
        if (mean is not None) != (variance is not None):
            raise ConfigError("When setting values directly, both `mean` and `variance` must be set. "
                              f"Received: mean={mean} and variance={variance}")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ConfigError("When setting values directly, `mean` and `variance` must have the same shape. "
                                  f"Received: mean shape {np.shape(mean)} and variance shape {np.shape(variance)}")
            if len(np.shape(mean)) > len(self.axis):
                raise ConfigError(f"The rank of `mean` must be less than or equal to the number of axes "
                                  f"({len(self.axis)}). Received: mean shape {np.shape(mean)} for axis {self.axis}")
            if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(variance)) and np.all(np.asarray(variance) >= 0)):
                raise ConfigError("Normalization `mean` must be finite and `variance` finite and >= 0")
        self.mean = self.variance = None  # (1, ..., kept, ...) broadcast shapes, set by build / adapt
        self.adapt_mean = self.adapt_variance = self.count = None

    # ------------------------------------------------------------------------------------------- build
    def build(self, input_shape):
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ShapeError(f"All `axis` values must be in the range [-ndim, ndim). Received inputs with "
                             f"ndim={ndim}, while axis={self.axis}")
        self._keep_axis = tuple(sorted(a if a >= 0 else a + ndim for a in self.axis))
        for d in self._keep_axis:
            if input_shape[d] is None:
                raise ShapeError(f"All `axis` values to be kept must have a known shape. Received axis={self.axis}, "
                                 f"inputs.shape={tuple(input_shape)}, with unknown axis at index {d}")
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = tuple(input_shape[d] if d in self._keep_axis else 1 for d in range(ndim))
        self._stat_shape = tuple(input_shape[d] for d in self._keep_axis)
        self._build_input_shape = tuple(input_shape)
        if self.input_mean is None:
            # plain NumPy fills: rnnkit's initializers give shape (1,) for () (axis=None, and Keras' scalar count)
            self.adapt_mean = self.add_weight("mean", self._stat_shape, _filled(0.0), trainable=False)
            self.adapt_variance = self.add_weight("variance", self._stat_shape, _filled(1.0), trainable=False)
            self.count = self.add_weight("count", (), _filled(0.0), trainable=False)  # Keras keeps it; unused
        else:
            expanded = [1] * ndim  # (1, ..., kept, ...): the given statistics aligned to the kept axes from the right
            mean = np.asarray(self.input_mean, dtype=np.float64)
            variance = np.asarray(self.input_variance, dtype=np.float64)
            for i in range(1, mean.ndim + 1):
                expanded[self._keep_axis[-i]] = mean.shape[-i]
            try:
                self.mean = np.broadcast_to(mean.reshape(expanded), self._broadcast_shape).astype(self.dtype)
                self.variance = np.broadcast_to(variance.reshape(expanded), self._broadcast_shape).astype(self.dtype)
            except ValueError:
                raise ShapeError(f"Normalization mean/variance of shape {mean.shape} do not fit inputs of shape "
                                 f"{tuple(input_shape)} with axis={self.axis}") from None
        self.built = True
        self._finalize_state()

    def _check_same_features(self, shape):
        # any input the statistics broadcast to keeps its shape: adapted on rows (N, F), used on windows (B, T, F)
        try:
            fits = np.broadcast_shapes(tuple(shape), self._broadcast_shape) == tuple(shape)
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(f"layer {self.name!r} (Normalization) has statistics of shape {self._broadcast_shape} "
                             f"(built for inputs of shape {self._build_input_shape}, kept axes {self._keep_axis}); "
                             f"got inputs of shape {tuple(shape)}")

    def _finalize_state(self):
        if self.input_mean is None and self.built:
            self.mean = self.adapt_mean.data.reshape(self._broadcast_shape)
            self.variance = self.adapt_variance.data.reshape(self._broadcast_shape)

    def set_weights(self, arrays) -> None:
        super().set_weights(arrays)
        self._finalize_state()

    # ------------------------------------------------------------------------------------------- adapt
    def adapt(self, data) -> None:
        """Set the mean and variance (population variance, as ``numpy.var``) of ``data`` per kept axis.

        ``data``: an array, or an iterable of batches (arrays, or ``(x, y)`` tuples whose ``x`` is used, such as a
        ``timeseries_dataset_from_array`` dataset), combined exactly as Keras combines batches."""
        if self.input_mean is not None:
            raise ConfigError("this Normalization was given fixed `mean` and `variance`; adapt() has nothing to set")
        if hasattr(data, "shape"):  # an array (or Tensor); anything else is an iterable of batches, as in Keras
            batches = [np.asarray(getattr(data, "data", data))]
        else:
            try:
                batches = [np.asarray(b[0] if isinstance(b, tuple) else b) for b in data]
            except TypeError:
                raise ConfigError(f"adapt() expects an array or an iterable of batches; got {type(data).__name__}") \
                    from None
            if not batches:
                raise ShapeError("adapt() received an empty iterable (no batches); expected at least one batch")
        if not self.built:
            self.build(batches[0].shape)
        for batch in batches:
            if batch.ndim != len(self._build_input_shape) or any(
                    batch.shape[d] != self._build_input_shape[d] for d in self._keep_axis):
                raise ShapeError(f"The layer was built with input_shape={self._build_input_shape}, but adapt() is "
                                 f"being called with data with an incompatible shape, data.shape={batch.shape}")
        if len(batches) == 1:
            batch = batches[0].astype(np.float64)
            total_mean = batch.mean(axis=self._reduce_axis)
            total_var = batch.var(axis=self._reduce_axis)
        else:  # batches pooled one by one (lack-of-fit sum of squares), as Keras does
            total_mean = np.zeros(self._stat_shape)
            total_var = np.zeros(self._stat_shape)
            total_count = 0
            for batch in batches:
                batch = batch.astype(np.float64)
                batch_mean = batch.mean(axis=self._reduce_axis)
                batch_var = batch.var(axis=self._reduce_axis)
                batch_count = int(np.prod([batch.shape[d] for d in self._reduce_axis])) if self._reduce_axis else 1
                total_count += batch_count
                weight = batch_count / total_count
                new_mean = total_mean * (1.0 - weight) + batch_mean * weight
                total_var = ((total_var + (total_mean - new_mean) ** 2) * (1.0 - weight)
                             + (batch_var + (batch_mean - new_mean) ** 2) * weight)
                total_mean = new_mean
        if not (np.all(np.isfinite(total_mean)) and np.all(np.isfinite(total_var))):
            raise ShapeError("adapt() data holds NaN or infinite values; fill or drop them first")
        self.adapt_mean.data[...] = total_mean
        self.adapt_variance.data[...] = total_var
        self._finalize_state()

    # -------------------------------------------------------------------------------------------- call
    def _scale(self) -> np.ndarray:
        return np.maximum(np.sqrt(self.variance), np.asarray(EPSILON, dtype=self.variance.dtype))

    def call(self, inputs):
        if self.invert:
            return inputs * self._scale() + self.mean  # (B, ...) * (1, ..., kept) broadcast
        return (inputs - self.mean) / self._scale()

    def get_config(self):
        config = super().get_config()
        config.update(axis=list(self.axis) if len(self.axis) != 1 else self.axis[0], invert=self.invert,
                      mean=None if self.input_mean is None else np.asarray(self.input_mean).tolist(),
                      variance=None if self.input_variance is None else np.asarray(self.input_variance).tolist())
        if not self.axis:
            config["axis"] = None
        return config
