"""Run-time settings of rnnkit's compute: which path the recurrent ops take, and how many threads they use
(``set_num_threads`` / ``get_num_threads``, default: the cores available, with OpenBLAS on one thread unless set;
:mod:`rnnkit.threads` says why).

The recurrent ops run their time loops in compiled code that calls NumPy's own BLAS routine when that routine
was found and passed its check (:mod:`rnnkit.blas`), else in NumPy loops (same results, slower).
:func:`recurrent_backend` says which, and why. ``RNNKIT_COMPILED_BLAS=0`` in the environment (before rnnkit is
imported) selects the NumPy loops.

>>> import rnnkit.config as config
>>> config.recurrent_backend() in ("compiled-blas", "numpy")
True
"""
from __future__ import annotations

from rnnkit.denormals import flush_denormals, set_flush_denormals
from rnnkit.threads import blas_threads_controllable, get_blas_threads, get_num_threads, set_num_threads

__all__ = ["blas_threads_controllable", "flush_denormals", "get_blas_threads", "get_num_threads",
           "recurrent_backend", "recurrent_backend_reason", "set_flush_denormals", "set_num_threads"]


def recurrent_backend() -> str:
    """``"compiled-blas"`` when the recurrent ops' time loops run in compiled code with NumPy's BLAS routine,
    ``"numpy"`` when they run in NumPy loops (see :func:`recurrent_backend_reason`)."""
    from rnnkit import blas

    return "compiled-blas" if blas.STATUS.addresses else "numpy"


def recurrent_backend_reason() -> str:
    """One line: the path in use and why (the library and routine, or why the compiled path is off)."""
    from rnnkit import blas

    return blas.STATUS.reason
