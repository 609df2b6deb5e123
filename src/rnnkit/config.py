"""Run-time settings of rnnkit's compute: which path the recurrent ops take, and how many threads they use.

The recurrent ops run their time loops in compiled code that calls NumPy's own BLAS routine when that routine
was found and passed its check (:mod:`rnnkit.blas`), else in NumPy loops (same results, slower).
:func:`recurrent_backend` says which, and why. ``RNNKIT_COMPILED_BLAS=0`` in the environment (before rnnkit is
imported) selects the NumPy loops.

Large batches are split into shards, one per thread, each running its time loops in its own thread
(:mod:`rnnkit.ops.recurrent.shards`). :func:`set_num_threads` sets how many (default: the cores this process may
run on); results do not depend on it.

>>> import rnnkit.config as config
>>> config.recurrent_backend() in ("compiled-blas", "numpy")
True
>>> previous = config.set_num_threads(1)
>>> config.get_num_threads()
1
>>> _ = config.set_num_threads(previous)
"""
from __future__ import annotations

import os

from rnnkit.errors import ConfigError


def _available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


_NUM_THREADS = _available_cores()


def recurrent_backend() -> str:
    """``"compiled-blas"`` when the recurrent ops' time loops run in compiled code with NumPy's BLAS routine,
    ``"numpy"`` when they run in NumPy loops (see :func:`recurrent_backend_reason`)."""
    from rnnkit import blas

    return "compiled-blas" if blas.STATUS.addresses else "numpy"


def recurrent_backend_reason() -> str:
    """One line: the path in use and why (the library and routine, or why the compiled path is off)."""
    from rnnkit import blas

    return blas.STATUS.reason


def set_num_threads(n: int) -> int:
    """Use ``n`` threads (>= 1) for the recurrent ops' batch shards; returns the previous setting."""
    global _NUM_THREADS
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"set_num_threads: expected an integer >= 1; got {n!r}")
    previous, _NUM_THREADS = _NUM_THREADS, n
    return previous


def get_num_threads() -> int:
    """The number of threads the recurrent ops may use (default: the cores available to this process)."""
    return _NUM_THREADS
