"""How many threads NumPy's OpenBLAS uses while rnnkit computes: one by default.

OpenBLAS's threads wait for each other by spinning. A recurrent layer makes one small matrix product per time
step, so its threads meet at every step; when another program holds a core, each meeting waits for the
scheduler and a step can take ten times longer than on one thread. Measured on a 2-core machine (training steps,
batch 64, medians; ``docs/threads.md``): alone, two BLAS threads gain 13% on LSTM 128 and lose on SimpleRNN 32
and LSTM 64; with one busy program beside it, two threads made every model 2-3x slower. So rnnkit runs its work
with ``get_num_threads()`` BLAS threads, 1 unless ``set_num_threads(n)`` or ``$RNNKIT_NUM_THREADS`` says
otherwise, and gives the user's own setting back when it returns: a program's NumPy outside rnnkit keeps
OpenBLAS's own choice.

The setting applies while a layer computes (``Layer.__call__``) and while gradients flow (``Tensor.backward``),
so ``fit``, ``predict`` and a PyTorch-style loop all run with it. Where NumPy's BLAS is not an OpenBLAS rnnkit
can find, the setting has no effect (``blas_threads_controllable()`` says so).

>>> import rnnkit.config as config
>>> config.get_num_threads()
1
>>> _ = config.set_num_threads(2); config.get_num_threads()
2
>>> _ = config.set_num_threads(1)
"""
from __future__ import annotations

import ctypes
import os
import threading

from rnnkit.errors import ConfigError


def _thread_functions() -> tuple:
    """OpenBLAS's ``set_num_threads`` and ``get_num_threads`` as ctypes functions, or ``(None, None)``. Looked
    up here rather than read from ``rnnkit.blas.STATUS``, which holds none with ``RNNKIT_COMPILED_BLAS=0``."""
    from rnnkit import blas

    for path in blas._library_candidates():
        try:
            library = ctypes.CDLL(path)  # already loaded by NumPy: this returns the same copy
        except OSError:
            continue
        setter, getter = blas._thread_functions(library)
        if setter is not None:
            return setter, getter
    return None, None


def _initial() -> int:
    text = os.environ.get("RNNKIT_NUM_THREADS", "1")
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"RNNKIT_NUM_THREADS must be a positive integer; got {text!r}")
    return value


_SET, _GET = _thread_functions()
_state = {"threads": _initial()}
_depth = threading.local()  # per thread: how deeply rnnkit's calls are nested (only the outermost switches)


def set_num_threads(n: int) -> int:
    """Use ``n`` threads (``n >= 1``) in rnnkit's computations from now on: OpenBLAS's, and the recurrent ops'
    parallel batch shards (:mod:`rnnkit.ops.recurrent.shards`); returns the previous setting."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"set_num_threads expects a positive integer; got {n!r}")
    previous, _state["threads"] = _state["threads"], n
    return previous


def get_num_threads() -> int:
    """The number of BLAS threads rnnkit's computations use (default 1, or ``$RNNKIT_NUM_THREADS``)."""
    return _state["threads"]


def blas_threads_controllable() -> bool:
    """Whether rnnkit found OpenBLAS's thread functions (else the setting cannot take effect)."""
    return _SET is not None


class BlasThreads:
    """Context manager: OpenBLAS runs ``get_num_threads()`` threads inside, its previous count is restored after.

    Nested uses cost an integer increment; only the outermost one talks to OpenBLAS.

    >>> from rnnkit.threads import BlasThreads
    >>> with BlasThreads():
    ...     pass
    """

    __slots__ = ("_previous",)

    def __enter__(self):
        depth = getattr(_depth, "value", 0)
        _depth.value = depth + 1
        self._previous = None
        if depth == 0 and _SET is not None:
            previous, wanted = _GET(), _state["threads"]
            if previous != wanted:
                _SET(wanted)
                self._previous = previous
        return self

    def __exit__(self, *exc_info) -> None:
        _depth.value -= 1
        if self._previous is not None:
            _SET(self._previous)
