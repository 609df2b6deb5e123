"""One handle for the array module and the default float dtype.

Everything in rnnkit gets its arrays from ``xp`` and its default float type from
``floatx()``, so a different array module (a GPU one) could drop in later.

>>> from rnnkit import backend
>>> backend.floatx()
'float32'
>>> backend.as_float_dtype(None)
dtype('float32')
>>> backend.as_float_dtype("float64")
dtype('float64')
"""
from __future__ import annotations

import numpy as np

from rnnkit.errors import RnnkitError

xp = np
_FLOATX = "float32"
_FLOAT_DTYPES = ("float16", "float32", "float64")


def floatx() -> str:
    """The default float dtype name used for data, weights and gradients."""
    return _FLOATX


def set_floatx(name: str) -> None:
    """Set the default float dtype (``"float32"`` or ``"float64"``)."""
    global _FLOATX
    _FLOATX = as_float_dtype(name).name


def as_float_dtype(dtype) -> np.dtype:
    """Resolve ``dtype`` (None means ``floatx()``) to a NumPy float dtype, with a clear error."""
    if dtype is None:
        dtype = _FLOATX
    try:
        return _RESOLVED[dtype]  # every op and layer asks this; NumPy's dtype.name alone takes about 2 µs
    except (KeyError, TypeError):  # TypeError: an unhashable argument
        pass
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise RnnkitError(f"unknown dtype {dtype!r}; expected one of {_FLOAT_DTYPES}") from None
    if resolved.name not in _FLOAT_DTYPES:
        raise RnnkitError(f"dtype must be a float type, one of {_FLOAT_DTYPES}; got {resolved.name!r}")
    _RESOLVED[dtype] = resolved
    return resolved


_RESOLVED: dict = {}  # argument -> float dtype, for the arguments seen so far
