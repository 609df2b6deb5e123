"""How many threads rnnkit uses: parallel work that never waits at a time step on every core, OpenBLAS on one.

``get_num_threads()`` is the number of threads rnnkit's own parallel work may use: the batch shards of one
recurrent loop (:mod:`rnnkit.ops.recurrent.shards`) and the two directions of a ``Bidirectional`` layer
(:func:`run_pair`). Each such piece runs a whole time loop on its own and meets the others once, at its end. The
default is the number of cores this process may run on, as in PyTorch.

OpenBLAS's own threads are different: they wait for each other by spinning, at the end of every product, and a
recurrent layer makes one small product per time step. When another program holds a core, each meeting waits for
the scheduler and a step can take ten times longer than on one thread. Measured on a 2-core machine (training
steps, batch 64, medians; ``docs/threads.md``): alone, two BLAS threads gain 13% on LSTM 128 and lose on
SimpleRNN 32 and LSTM 64; with one busy program beside it, two threads made every model 2-3x slower. So while
rnnkit computes, OpenBLAS runs **one** thread unless the count was set explicitly (``set_num_threads(n)`` or
``$RNNKIT_NUM_THREADS``): then it runs ``n``. The program's own OpenBLAS setting is given back when rnnkit
returns, so NumPy code outside rnnkit keeps OpenBLAS's choice.

The BLAS setting applies while a layer computes (``Layer.__call__``) and while gradients flow
(``Tensor.backward``), so ``fit``, ``predict`` and a PyTorch-style loop all run with it. Where NumPy's BLAS is not
an OpenBLAS rnnkit can find, it has no effect (``blas_threads_controllable()`` says so).

>>> import rnnkit.config as config
>>> config.get_num_threads() >= 1
True
>>> previous = config.set_num_threads(2); config.get_num_threads(), config.get_blas_threads()
(2, 2)
>>> config.set_num_threads(previous)  # the previous setting back (None: the default)
2
"""
from __future__ import annotations

import ctypes
import os
import threading

from rnnkit import denormals
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


def _available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def _initial() -> int | None:
    """``$RNNKIT_NUM_THREADS``, or None when it is not set."""
    text = os.environ.get("RNNKIT_NUM_THREADS")
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"RNNKIT_NUM_THREADS must be a positive integer; got {text!r}")
    return value


_SET, _GET = _thread_functions()
_state = {"threads": _initial() or _available_cores(), "blas": _initial() or 1, "explicit": None}
_depth = threading.local()  # per thread: how deeply rnnkit's calls are nested (only the outermost switches)


def set_num_threads(n: int | None) -> int | None:
    """Use ``n`` threads (``n >= 1``) in rnnkit's computations from now on, for its parallel work and for
    OpenBLAS; ``None``: back to the default. Returns the previous setting (None if it was the default), so that
    ``set_num_threads(previous)`` restores it."""
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ConfigError(f"set_num_threads expects a positive integer (or None for the default); got {n!r}")
    previous = _state["explicit"]
    setting = n if n is not None else _initial()
    _state.update(threads=setting or _available_cores(), blas=setting or 1, explicit=n)
    return previous


def get_num_threads() -> int:
    """The threads rnnkit's parallel work may use (default: the cores available, or ``$RNNKIT_NUM_THREADS``)."""
    return _state["threads"]


def get_blas_threads() -> int:
    """The threads OpenBLAS runs while rnnkit computes: 1 unless set (``set_num_threads``,
    ``$RNNKIT_NUM_THREADS``)."""
    return _state["blas"]


def blas_threads_controllable() -> bool:
    """Whether rnnkit found OpenBLAS's thread functions (else the setting cannot take effect)."""
    return _SET is not None


class BlasThreads:
    """Context manager for rnnkit's computations: OpenBLAS runs ``get_blas_threads()`` threads inside, and the
    thread flushes subnormal floats to zero (:mod:`rnnkit.denormals`); both come back as they were after.

    Nested uses cost an integer increment; only the outermost one talks to OpenBLAS and the CPU.

    >>> from rnnkit.threads import BlasThreads
    >>> with BlasThreads():
    ...     pass
    """

    __slots__ = ("_previous", "_mxcsr")

    def __enter__(self):
        depth = getattr(_depth, "value", 0)
        _depth.value = depth + 1
        self._previous = self._mxcsr = None
        if depth == 0:
            self._mxcsr = denormals.flush()
            if _SET is not None:
                previous, wanted = _GET(), _state["blas"]
                if previous != wanted:
                    _SET(wanted)
                    self._previous = previous
        return self

    def __exit__(self, *exc_info) -> None:
        _depth.value -= 1
        if self._previous is not None:
            _SET(self._previous)
        denormals.restore(self._mxcsr)


# ------------------------------------------------------------------------ parallel work inside rnnkit
# With two or more threads, rnnkit runs independent recurrent loops at once: the batch shards of one loop
# (rnnkit.ops.recurrent.shards) and the two directions of a Bidirectional layer, forward and backward
# (run_pair). Each such piece of work runs single-threaded BLAS, so that no thread waits for another at every
# time step, and is given its share of the threads for any parallel work inside it.

_blas_lock = threading.Lock()
_blas_users = [0, 1]  # running parallel sections, and OpenBLAS's thread count before the first of them
_share = threading.local()  # per thread: the threads its parallel work may use (unset: get_num_threads())
_pair_pool = {"pool": None, "size": 0}


def threads_here() -> int:
    """The threads the calling thread's parallel work may use: ``get_num_threads()``, or its share inside
    :func:`run_pair`."""
    share = getattr(_share, "threads", None)
    return _state["threads"] if share is None else share


class SingleThreadedBlas:
    """Context manager: OpenBLAS runs one thread inside (the count before the outermost one is restored after
    the last one leaves, whatever thread it is in). For work that runs beside other work in parallel threads.

    >>> from rnnkit.threads import SingleThreadedBlas
    >>> with SingleThreadedBlas():
    ...     pass
    """

    def __enter__(self):
        if _SET is not None:
            with _blas_lock:
                if _blas_users[0] == 0:
                    _blas_users[1] = _GET()
                    _SET(1)
                _blas_users[0] += 1
        return self

    def __exit__(self, *exc_info) -> None:
        if _SET is not None:
            with _blas_lock:
                _blas_users[0] -= 1
                if _blas_users[0] == 0:
                    _SET(_blas_users[1])


def run_pair(first, second) -> tuple:
    """``(first(), second())`` for two independent computations (callables without arguments), at once when the
    calling thread may use two or more threads: ``second`` in a worker thread, ``first`` in the caller, each with
    single-threaded BLAS and half the threads for parallel work of its own. Otherwise one after the other. The
    results do not depend on which: the two must not share anything they write. An error in either is raised
    (the first's if both fail) after both have finished.

    >>> from rnnkit.threads import run_pair
    >>> run_pair(lambda: 1 + 1, lambda: 2 * 3)
    (2, 6)
    """
    threads = threads_here()
    if threads < 2:
        return first(), second()
    second_share = threads // 2
    pool = _pair_workers(threads - 1)
    before = getattr(_share, "threads", None)
    with SingleThreadedBlas():
        future = pool.submit(_as_worker, second, second_share)
        _share.threads = threads - second_share
        try:
            a = first()
        except BaseException:
            future.exception()  # wait for the other half before raising
            raise
        finally:
            _share.threads = before
        return a, future.result()


def _as_worker(function, share: int):
    """Run ``function`` in a pair's worker thread: with its share of threads, and inside rnnkit's BLAS setting
    (the caller's BlasThreads already holds it: a nested one must not reset it)."""
    _share.threads = share
    _depth.value = getattr(_depth, "value", 0) + 1
    try:
        with denormals.Flushed():  # the MXCSR register is per thread
            return function()
    finally:
        _depth.value -= 1
        _share.threads = None


def _pair_workers(size: int):
    """The worker threads of :func:`run_pair`: as many as a pair split all the way down can keep busy (threads -
    1), so that a nested pair always finds one."""
    from concurrent.futures import ThreadPoolExecutor

    with _blas_lock:
        if _pair_pool["pool"] is None or _pair_pool["size"] < size:
            if _pair_pool["pool"] is not None:
                _pair_pool["pool"].shutdown(wait=False)
            _pair_pool["pool"] = ThreadPoolExecutor(size, thread_name_prefix="rnnkit-pair")
            _pair_pool["size"] = size
        return _pair_pool["pool"]


def _forget_threads_after_fork() -> None:
    """A forked child has none of the parent's threads: it starts its own workers when it first needs them."""
    global _blas_lock
    _blas_lock, _blas_users[0] = threading.Lock(), 0
    _pair_pool["pool"], _pair_pool["size"] = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_threads_after_fork)
