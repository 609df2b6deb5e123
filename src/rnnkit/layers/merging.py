"""Layers that merge a list of inputs, as Keras 3's: ``Add``, ``Multiply``, ``Concatenate``, ``Dot``.

They take a list of Tensors (``Add()([a, b])``), as in functional models. ``Add`` and ``Multiply`` combine
inputs of one shape elementwise (an input of lower rank gets axes inserted after the batch axis, then NumPy
broadcasting applies, as in Keras); ``Concatenate(axis=-1)`` joins along an axis; ``Dot(axes, normalize=False)``
takes batched dot products along ``axes`` (with ``normalize``, of L2-normalised vectors: cosine similarity).

Masks follow Keras 3: ``Add`` and ``Multiply`` carry the OR of the input masks when every input has one
(``Multiply`` also treats masked entries as 1 and zeroes the output outside the OR), ``Concatenate`` the OR of
the masks of the inputs that have one, ``Dot`` none. All are compositions of tape ops (no backward of their
own).

>>> import numpy as np
>>> from rnnkit.layers import Add, Concatenate, Dot, Multiply
>>> a, b = np.ones((2, 3)), np.full((2, 3), 2.0)
>>> Add()([a, b]).numpy()[0].tolist(), Multiply()([a, b]).numpy()[0].tolist()
([3.0, 3.0, 3.0], [2.0, 2.0, 2.0])
>>> Concatenate()([a, b]).shape, Dot(axes=1)([a, b]).numpy().tolist()
((2, 6), [[6.0], [6.0]])
"""
from __future__ import annotations

import numbers

import numpy as np

from rnnkit.autograd import Tensor
from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers.base import Layer
from rnnkit.ops import clip, concat, expand_dims, matmul, reshape, sqrt, transpose
from rnnkit.ops import sum as sum_


def _mask_of(mask):
    return None if mask is None else np.asarray(mask.data if isinstance(mask, Tensor) else mask).astype(bool)


class Merge(Layer):
    """Base of the merge layers: checks the list of inputs and collects their masks."""

    supports_masking = True
    min_inputs = 1

    def _check_same_features(self, shape):
        pass  # no weights: shapes are checked on every call

    def _inputs(self, inputs) -> list:
        if not isinstance(inputs, (list, tuple)):
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) must be called on a list of inputs; "
                             f"got a {type(inputs).__name__}")
        if len(inputs) < self.min_inputs:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) needs at least {self.min_inputs} "
                             f"inputs; got {len(inputs)}")
        return list(inputs)

    def _masks(self, inputs, mask) -> list:
        if mask is None:
            return [_mask_of(getattr(x, "_keras_mask", None)) for x in inputs]
        if not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
            raise ShapeError(f"layer {self.name!r}: mask must be a list with one entry per input ({len(inputs)}); "
                             f"got {mask!r:.100}")
        return [_mask_of(m) for m in mask]

    def _same_rank(self, inputs) -> list:
        """Lower-rank inputs with axes inserted after the batch axis (Keras' reshape for broadcasting)."""
        rank = max(x.ndim for x in inputs)
        out = []
        for x in inputs:
            for _ in range(rank - x.ndim):
                x = expand_dims(x, 1)
            out.append(x)
        try:
            np.broadcast_shapes(*[x.shape for x in out])
        except ValueError:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) needs inputs of one shape (or "
                             f"broadcastable); got shapes {[tuple(x.shape) for x in inputs]}") from None
        return out

    def compute_mask(self, inputs, mask=None):
        inputs = self._inputs(inputs)
        masks = self._masks(inputs, mask)
        if any(m is None for m in masks):
            return None
        return np.logical_or.reduce(np.broadcast_arrays(*masks))


class Add(Merge):
    """Elementwise sum of the inputs (Keras ``Add``).

    >>> Add()([np.ones((1, 2)), np.ones((1, 2)), np.ones((1, 2))]).numpy()
    array([[3., 3.]], dtype=float32)
    """

    def call(self, inputs, mask=None):
        inputs = self._same_rank(self._inputs(inputs))
        output = inputs[0]
        for x in inputs[1:]:
            output = output + x
        return output


class Multiply(Merge):
    """Elementwise product of the inputs (Keras ``Multiply``); masked entries count as 1, and where every input
    has a mask the output is zero outside their OR.

    >>> Multiply()([np.full((1, 2), 3.0), np.full((1, 2), 2.0)]).numpy()
    array([[6., 6.]], dtype=float32)
    """

    def call(self, inputs, mask=None):
        inputs = self._inputs(inputs)
        masks = self._masks(inputs, mask)
        inputs = self._same_rank(inputs)
        every = all(m is not None for m in masks)
        output = union = None
        for x, m in zip(inputs, masks):
            if m is not None:
                m = np.broadcast_to(m.reshape(m.shape + (1,) * (x.ndim - m.ndim)), x.shape)
                x = x * Tensor(m, dtype=x.dtype) + Tensor(~m, dtype=x.dtype)  # 1 outside the mask
                union = m if union is None else (union | m)
            output = x if output is None else output * x
        if every and union is not None:
            output = output * Tensor(union, dtype=output.dtype)
        return output


class Concatenate(Merge):
    """Join the inputs along ``axis`` (Keras ``Concatenate``; default the last axis).

    >>> Concatenate(axis=1)([np.ones((2, 3, 4)), np.ones((2, 5, 4))]).shape
    (2, 8, 4)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise ConfigError(f"Concatenate: axis must be an integer; got {axis!r}")
        self.axis = int(axis)

    def call(self, inputs, mask=None):
        inputs = self._inputs(inputs)
        ranks = {x.ndim for x in inputs}
        axis = self.axis % inputs[0].ndim if -inputs[0].ndim <= self.axis < inputs[0].ndim else None
        shapes = [tuple(x.shape) for x in inputs]
        if len(ranks) != 1 or axis is None or len({s[:axis] + s[axis + 1:] for s in shapes}) != 1:
            raise ShapeError(f"layer {self.name!r} (Concatenate, axis={self.axis}) needs inputs with matching "
                             f"shapes except along the concatenation axis; got shapes {shapes}")
        return concat(inputs, axis=axis)

    def compute_mask(self, inputs, mask=None):
        inputs = self._inputs(inputs)
        masks = self._masks(inputs, mask)
        if all(m is None for m in masks):
            return None
        full = []
        for x, m in zip(inputs, masks):
            if m is None:
                full.append(np.ones(x.shape, dtype=bool))
            elif m.ndim < x.ndim:
                full.append(np.broadcast_to(m.reshape(m.shape + (1,) * (x.ndim - m.ndim)), x.shape))
            else:
                full.append(m)
        return np.concatenate(full, axis=self.axis).any(axis=-1)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


def l2_normalize(x, axis: int, epsilon: float = 1e-7) -> Tensor:
    """``x / max(||x||, epsilon)`` along ``axis`` (Keras' ``normalize``: ``x * min(rsqrt(sum x^2), 1/eps)``)."""
    squares = sum_(x * x, axis=axis, keepdims=True)
    return x / sqrt(clip(squares, epsilon * epsilon, np.inf))


class Dot(Merge):
    """Batched dot products of two inputs along ``axes`` (Keras ``Dot``).

    Args:
        axes: an int (the same axis of both inputs) or a pair ``(axis_of_first, axis_of_second)``; not 0 (batch).
        normalize: L2-normalise both inputs along those axes first (the result is a cosine similarity).

    The output has the first input's axes but the summed one, then the second's but the batch and the summed
    one; a ``(B,)`` result becomes ``(B, 1)``. No mask.

    >>> Dot(axes=(2, 2))([np.ones((2, 3, 4)), np.ones((2, 5, 4))]).shape
    (2, 3, 5)
    """

    min_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        pair = [axes, axes] if isinstance(axes, numbers.Integral) else list(axes) if isinstance(axes, (list, tuple)) \
            else None
        if pair is None or len(pair) != 2 or any(isinstance(a, bool) or not isinstance(a, numbers.Integral)
                                                 for a in pair):
            raise ConfigError(f"Dot: axes must be an integer or a pair of integers; got {axes!r}")
        self.axes = int(axes) if isinstance(axes, numbers.Integral) else [int(a) for a in pair]
        self.normalize = bool(normalize)

    def call(self, inputs, mask=None):
        inputs = self._inputs(inputs)
        if len(inputs) != 2:
            raise ShapeError(f"layer {self.name!r} (Dot) needs exactly 2 inputs; got {len(inputs)}")
        x, y = inputs
        pair = [self.axes, self.axes] if isinstance(self.axes, int) else self.axes
        axes = [a % t.ndim if -t.ndim <= a < t.ndim else None for a, t in zip(pair, (x, y))]
        if x.ndim < 2 or y.ndim < 2 or None in axes or 0 in axes or x.shape[0] != y.shape[0] \
                or x.shape[axes[0]] != y.shape[axes[1]]:
            raise ShapeError(f"layer {self.name!r} (Dot, axes={self.axes}) cannot take batched dot products of "
                             f"shapes {tuple(x.shape)} and {tuple(y.shape)}: both need a batch axis of one size and "
                             "equal sizes along the axes (not the batch axis 0)")
        if self.normalize:
            x, y = l2_normalize(x, axes[0]), l2_normalize(y, axes[1])
        batch, depth = x.shape[0], x.shape[axes[0]]
        x_rest = [d for i, d in enumerate(x.shape) if i not in (0, axes[0])]
        y_rest = [d for i, d in enumerate(y.shape) if i not in (0, axes[1])]
        x_order = [0] + [i for i in range(1, x.ndim) if i != axes[0]] + [axes[0]]
        y_order = [0, axes[1]] + [i for i in range(1, y.ndim) if i != axes[1]]
        x3 = reshape(transpose(x, x_order), (batch, -1, depth))  # (B, X, K)
        y3 = reshape(transpose(y, y_order), (batch, depth, -1))  # (B, K, Y)
        output = reshape(matmul(x3, y3), (batch, *x_rest, *y_rest))  # (B, X, Y) -> (B, x..., y...)
        return reshape(output, (batch, 1)) if output.ndim == 1 else output

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update(axes=self.axes, normalize=self.normalize)
        return config
