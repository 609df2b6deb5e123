"""``to_categorical``: class ids to one-hot rows, as ``keras.utils.to_categorical``.

For ids ``x`` of any shape ``S`` and ``C`` classes the result has shape ``S + (C,)`` and

    out[..., k] = 1 if x[...] == k else 0        (float32)

A trailing axis of size 1 is dropped first, as Keras does, so ids of shape ``(N, 1)`` give ``(N, C)``.

>>> to_categorical([[1], [0]])
array([[0., 1.],
       [1., 0.]], dtype=float32)
"""
from __future__ import annotations

import numbers

import numpy as np

from rnnkit.errors import ConfigError, DataError


def to_categorical(x, num_classes: int | None = None) -> np.ndarray:
    """One-hot encode integer class ids.

    Args:
        x: class ids ``0 .. num_classes - 1``, any shape (array, list, Tensor); floats must be whole numbers.
        num_classes: number of classes ``C``; ``None`` (default) uses ``max(x) + 1``.

    Returns:
        float32 array of shape ``x.shape + (C,)`` (``x.shape[:-1] + (C,)`` when the last axis has size 1).

    Raises:
        DataError: an id is negative, not a whole number, or ``>= num_classes``; or ``x`` is empty and
            ``num_classes`` is None.
        ConfigError: ``num_classes`` is not a positive integer.

    >>> to_categorical([0, 1, 3], num_classes=4)
    array([[1., 0., 0., 0.],
           [0., 1., 0., 0.],
           [0., 0., 0., 1.]], dtype=float32)
    """
    ids = _as_ids(x)
    shape = ids.shape[:-1] if ids.ndim > 1 and ids.shape[-1] == 1 else ids.shape
    flat = ids.reshape(-1)  # (N,)
    if flat.size and flat.min() < 0:
        bad = int(flat[np.argmax(flat < 0)])
        raise DataError(f"to_categorical: class ids must be >= 0, got {bad}")
    if num_classes is None:
        if flat.size == 0:
            raise DataError("to_categorical: cannot infer num_classes from an empty array; pass num_classes=")
        num_classes = int(flat.max()) + 1
    elif isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise ConfigError(f"to_categorical: num_classes must be a positive integer, got {num_classes!r}")
    num_classes = int(num_classes)
    if flat.size and flat.max() >= num_classes:
        raise DataError(f"to_categorical: class id {int(flat.max())} is out of range for num_classes={num_classes} "
                        f"(ids must be 0 to {num_classes - 1})")
    out = np.zeros((flat.size, num_classes), dtype=np.float32)  # (N, C)
    out[np.arange(flat.size), flat] = 1.0
    return out.reshape(shape + (num_classes,))  # (N, C) -> S + (C,)


def _as_ids(x) -> np.ndarray:
    """``x`` as an int64 array, refusing values that are not whole numbers."""
    a = np.asarray(x)
    if a.dtype == bool or np.issubdtype(a.dtype, np.integer):
        return a.astype(np.int64)
    if np.issubdtype(a.dtype, np.floating):
        bad = ~np.isfinite(a) | (a != np.round(a))
        if bad.any():
            raise DataError(f"to_categorical: class ids must be whole numbers, got {a[bad].flat[0].item()!r}")
        return a.astype(np.int64)
    raise DataError(f"to_categorical: class ids must be integers, got an array of dtype {a.dtype}")
