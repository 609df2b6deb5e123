"""The one place that compiles Python to machine code: Numba's ``njit`` with the options every kernel shares.

Kernels are compiled on first use (type-specialised) and cached on disk. The float flags allow fused
multiply-adds and reordering but keep NaN and infinity semantics, so that a diverging run is still detected.

The cache lives in the user's cache directory, ``~/.cache/rnnkit/numba`` (``$XDG_CACHE_HOME``, or
``$RNNKIT_CACHE_DIR`` if set), not beside the sources, so that it survives a reinstall and works where
site-packages is read-only. Its subfolder is named after a hash of rnnkit's compiled sources: Numba checks a
cached kernel against its own file only, not against the files of the functions it calls, so another version of
rnnkit must not read this one's kernels. For the same reason a kernel's freshness stamp is that hash too, not
Numba's own (its file's time and size in older Numba, its file's contents in 0.68): a reinstall or a second copy
of the same sources (another virtualenv) finds the kernels valid instead of recompiling them. A user's own
``NUMBA_CACHE_DIR`` is left in charge. First use costs about 24 s of compiling on a cold cache for the three
recurrent ops (see docs/kernels.md); later processes load the kernels in under a second.

Decorate a module-level function with :func:`jit` (caching needs its source file); hand it arrays that pass
:func:`compilable`, and keep a NumPy path for the rest:

>>> import numpy as np
>>> a = np.arange(6.0).reshape(2, 3)
>>> compilable(a), compilable(a.T), compilable(a.astype(np.float16))
(True, False, False)
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba
import numpy as np
from numba.core import caching

# Every float flag except 'nnan' and 'ninf'. error_model='numpy' lets divisions vectorise (no ZeroDivisionError
# check per element).
JIT_OPTIONS = dict(fastmath={"contract", "arcp", "reassoc", "nsz", "afn"}, error_model="numpy", nogil=True,
                   cache=True)

COMPILED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))  # float16 has no compiled arithmetic

_PACKAGE = Path(__file__).resolve().parent


def _sources_hash() -> str:
    """A short hash of every source file that holds or feeds compiled kernels (ops/, optimizers/, blas.py,
    compiled.py, denormals.py)."""
    digest = hashlib.sha1(numba.__version__.encode())
    files = [*(_PACKAGE / "ops").rglob("*.py"), *(_PACKAGE / "optimizers").rglob("*.py"), _PACKAGE / "blas.py",
             _PACKAGE / "compiled.py", _PACKAGE / "denormals.py"]
    for path in sorted(files):
        digest.update(str(path.relative_to(_PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cache_dir() -> Path | None:
    """Where rnnkit's compiled kernels are cached (None when ``NUMBA_CACHE_DIR`` puts them where the user says)."""
    if numba.config.CACHE_DIR:
        return None
    base = os.environ.get("RNNKIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "rnnkit")
    return Path(base) / "numba" / _SOURCES


class _RnnkitCacheLocator(caching.UserProvidedCacheLocator):
    """Numba's locator for rnnkit's own source files: the cache under :func:`cache_dir`, one folder per package
    folder (ops/recurrent, ...); other files are left to Numba's own locators."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        folder = Path(py_file).resolve().parent.relative_to(_PACKAGE)
        self._cache_path = str(cache_dir() / folder)

    def get_source_stamp(self):
        """The hash of rnnkit's compiled sources: a cached kernel stays valid after a reinstall or in another copy
        of the same sources, and only there, whatever Numba's own stamp is."""
        return _SOURCES

    @classmethod
    def from_function(cls, py_func, py_file):
        if cache_dir() is None or not Path(py_file).resolve().is_relative_to(_PACKAGE):
            return None
        return super(caching.UserProvidedCacheLocator, cls).from_function(py_func, py_file)


_SOURCES = _sources_hash()
_IMPL = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)  # the name differs by version
if _IMPL is not None and _RnnkitCacheLocator not in _IMPL._locator_classes:
    _IMPL._locator_classes.insert(0, _RnnkitCacheLocator)  # else Numba's own: __pycache__ beside the sources


def jit(function):
    """Compile ``function`` with :data:`JIT_OPTIONS` (type-specialised on first call, cached on disk)."""
    return numba.njit(**JIT_OPTIONS)(function)


def jit_inline(function):
    """:func:`jit`, inlined into each caller before compiling: a caller that passes constants (activation codes)
    gets its own copy specialised for them, so one formula serves every case at full speed."""
    return numba.njit(inline="always", **JIT_OPTIONS)(function)


def compilable(*arrays: np.ndarray) -> bool:
    """True when every array is C-contiguous and of one float dtype the kernels compile for (float32, float64):
    the condition for handing them, flattened without copies, to a compiled kernel."""
    dtype = arrays[0].dtype
    return dtype in COMPILED_DTYPES and all(a.dtype == dtype and a.flags.c_contiguous for a in arrays)
