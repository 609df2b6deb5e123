"""The one place that compiles Python to machine code: Numba's ``njit`` with the options every kernel shares.

Kernels are compiled on first use (type-specialised) and cached on disk. The float flags allow fused
multiply-adds and reordering but keep NaN and infinity semantics, so that a diverging run is still detected.

Decorate a module-level function with :func:`jit` (caching needs its source file); hand it arrays that pass
:func:`compilable`, and keep a NumPy path for the rest:

>>> import numpy as np
>>> a = np.arange(6.0).reshape(2, 3)
>>> compilable(a), compilable(a.T), compilable(a.astype(np.float16))
(True, False, False)
"""
from __future__ import annotations

import numba
import numpy as np

# Every float flag except 'nnan' and 'ninf'. error_model='numpy' lets divisions vectorise (no ZeroDivisionError
# check per element).
JIT_OPTIONS = dict(fastmath={"contract", "arcp", "reassoc", "nsz", "afn"}, error_model="numpy", nogil=True,
                   cache=True)

COMPILED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))  # float16 has no compiled arithmetic


def jit(function):
    """Compile ``function`` with :data:`JIT_OPTIONS` (type-specialised on first call, cached on disk)."""
    return numba.njit(**JIT_OPTIONS)(function)


def compilable(*arrays: np.ndarray) -> bool:
    """True when every array is C-contiguous and of one float dtype the kernels compile for (float32, float64):
    the condition for handing them, flattened without copies, to a compiled kernel."""
    dtype = arrays[0].dtype
    return dtype in COMPILED_DTYPES and all(a.dtype == dtype and a.flags.c_contiguous for a in arrays)
