"""Parallel batch shards: a compiled time loop split over columns of the batch, one shard per thread.

The samples of a batch never interact inside a recurrent time loop, so the loop can run on columns ``[b0, b1)``
of every per-step array independently (the arrays are shared; each shard writes only its own columns). With
``rnnkit.config.set_num_threads(n)`` (default: the cores available) a batch runs as up to ``n`` shards in ``n``
threads, each shard at least :data:`MIN_SHARD` columns and :data:`MIN_SHARD_WORK` multiply-adds (starting a
shard and waiting for it costs tens of microseconds, more on a busy machine); the compiled loops release the
GIL. Each step's
product is then single-threaded: OpenBLAS's own threads are set to 1 while shards run (restored afterwards), so
that two shards do not both ask one OpenBLAS thread pool for threads.

Results do not depend on the number of shards: every column's arithmetic is the same whatever columns run beside
it, and the products that sum over the batch (weight gradients) run after the loop, once, on the whole arrays.
The tests check this to the bit in float32 and float64.

>>> import numpy as np
>>> ranges(1024, 2), ranges(256, 2), ranges(1000, 3)
([(0, 512), (512, 1024)], [(0, 256)], [(0, 336), (336, 672), (672, 1000)])
>>> out = np.full(1024, -1.0)
>>> def fill(b0, b1): out[b0:b1] = b0
>>> run(fill, 1024); sorted(set(out.tolist())) == [b0 for b0, _ in ranges(1024)]  # each shard filled its columns
True
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from rnnkit.denormals import Flushed
from rnnkit.threads import SingleThreadedBlas, threads_here

# What a shard needs to pay for its thread (see docs/kernels.md): columns, and multiply-adds over the whole loop
# (LSTM 128, T = 28: 2.2 M per column). Measured on an idle 2-core VM, LSTM 128: below 256 columns a shard loses
# to OpenBLAS's own two threads on the whole step product (batch 64 training 10.4 vs 8.2 ms, batch 256 training
# 37 vs 27 ms, batch 256 inference even), above it wins (batch 1024 inference 29.6 vs 35.5 ms).
MIN_SHARD = 256
MIN_SHARD_WORK = 2_000_000
ALIGN = 16  # shard boundaries on multiples of 16 columns: whole cache lines (the arrays are 64-byte aligned)

_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_LOCK = threading.Lock()


def ranges(batch: int, threads: int | None = None, work: int = MIN_SHARD_WORK) -> list:
    """The shards ``[(b0, b1), ...]`` for ``batch`` columns over ``threads`` (default: the calling thread's,
    rnnkit.threads.threads_here): as many as threads, each at least :data:`MIN_SHARD` columns and
    :data:`MIN_SHARD_WORK` multiply-adds (``work``: per column), boundaries on multiples of :data:`ALIGN`."""
    wanted = threads_here() if threads is None else threads
    count = max(1, min(wanted, batch // MIN_SHARD, batch * work // MIN_SHARD_WORK))
    if count == 1:
        return [(0, batch)]
    step = -(-batch // count)  # ceil
    step = -(-step // ALIGN) * ALIGN
    bounds = [min(i * step, batch) for i in range(count)] + [batch]
    return [(b0, b1) for b0, b1 in zip(bounds, bounds[1:]) if b1 > b0]


def run(loop, batch: int, work: int = MIN_SHARD_WORK) -> None:
    """Call ``loop(b0, b1)`` for every shard of ``batch`` (``work``: multiply-adds per column): in the calling
    thread when there is one shard, else in parallel threads with single-threaded BLAS; exceptions propagate."""
    parts = ranges(batch, work=work)
    if len(parts) == 1:
        loop(0, batch)
        return
    pool = _pool(len(parts))
    with SingleThreadedBlas():
        futures = [pool.submit(_flushed, loop, b0, b1) for b0, b1 in parts[1:]]
        loop(*parts[0])  # the calling thread takes the first shard
        for future in futures:
            future.result()


def _flushed(loop, b0: int, b1: int) -> None:
    """``loop(b0, b1)`` in a worker thread, with subnormal floats flushed to zero as in the caller (per thread)."""
    with Flushed():
        loop(b0, b1)


def _pool(shards: int) -> ThreadPoolExecutor:
    """The shared worker threads (one fewer than shards: the caller runs a shard too)."""
    global _POOL, _POOL_SIZE
    with _LOCK:
        if _POOL is None or _POOL_SIZE < shards - 1:
            if _POOL is not None:
                _POOL.shutdown(wait=False)
            _POOL_SIZE = max(shards - 1, 1)
            _POOL = ThreadPoolExecutor(_POOL_SIZE, thread_name_prefix="rnnkit-shard")
        return _POOL


def _forget_pool_after_fork() -> None:
    """A forked child has none of the parent's threads: it starts its own pool when it first needs one."""
    global _POOL, _POOL_SIZE, _LOCK
    _POOL, _POOL_SIZE, _LOCK = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)
