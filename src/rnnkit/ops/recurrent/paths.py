"""The one place that decides how a recurrent op runs its time loop, and the step product each way uses.

Every op writes its forward and backward time loops once, as plain Python over one structure of arrays (see
lstm.py). The same function runs two ways:

=========  =====================================================================================================
path       when
=========  =====================================================================================================
``SMALL``  forward, batch of one (:data:`small_batch.MAX_BATCH`): the loop compiled, the product computed by the
           loop itself (small_batch.py), reading the untransposed stacked weights
``BLAS``   NumPy's gemm routine was found and checked (rnnkit.blas): the loop compiled, the product from that
           routine; the batch is split into shards that run in parallel threads (shards.py)
``NUMPY``  no such routine (another BLAS, or ``RNNKIT_COMPILED_BLAS=0``): the loop runs as Python, the product is
           ``np.matmul``, the step kernels are still compiled. The readable reference, tested equal to ``BLAS``.
=========  =====================================================================================================

:func:`step_product` is ``np.matmul`` when called from Python and BLAS (or the batch-of-one product) when compiled.

>>> import numpy as np
>>> choose(64, np.dtype("float64"), small=True).path in (BLAS, NUMPY)
True
>>> choose(1, np.dtype("float64"), small=True).path == SMALL
True
>>> c = np.zeros((2, 1)); step_product(NUMPY, 0, np.eye(2), np.ones((2, 1)), c, 1.0, np.empty(2)); c.ravel()
array([1., 1.])
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba.extending import overload

from rnnkit import blas
from rnnkit.compiled import COMPILED_DTYPES, JIT_OPTIONS
from rnnkit.ops.recurrent import shards, small_batch

NUMPY, BLAS, SMALL = 0, 1, 2


class Path(NamedTuple):
    """How a loop runs: ``path`` (one of the constants above) and the gemm routine's address (0 if none)."""

    path: int
    gemm: int


def choose(batch: int, dtype: np.dtype, small: bool) -> Path:
    """The path for a loop over ``batch`` columns in ``dtype``; ``small``: the loop can take the batch-of-one
    product (forward loops of the stacked ops)."""
    gemm = blas.gemm_address(dtype) if dtype in COMPILED_DTYPES else 0
    if small and batch <= small_batch.MAX_BATCH and dtype in COMPILED_DTYPES:
        return Path(SMALL, gemm)
    return Path(BLAS, gemm) if gemm else Path(NUMPY, 0)


def run(path: Path, python_loop, compiled_loop, batch: int, work: int, *args) -> None:
    """Run ``loop(*args, path, gemm, b0, b1)`` over the batch: the compiled loop in parallel shards of columns
    ``[b0, b1)`` on the BLAS path (shards.py; ``work``: the loop's multiply-adds per column), the compiled loop
    whole on the batch-of-one path, the Python loop whole on the NumPy path."""
    if path.path == NUMPY:
        python_loop(*args, path.path, path.gemm, 0, batch)
    elif path.path == SMALL or batch < 2 * shards.MIN_SHARD:  # one shard: no threads to start
        compiled_loop(*args, path.path, path.gemm, 0, batch)
    else:
        shards.run(lambda b0, b1: compiled_loop(*args, path.path, path.gemm, b0, b1), batch, work)


def step_product(path, gemm, a, b, c, beta, acc):
    """``c = a @ b + beta * c`` (``a (M, K)``, ``b (K, N)``, ``c (M, N)``; ``beta`` 0 or 1); on the batch-of-one
    path ``a`` is given transposed, ``(K, M)``. From Python: NumPy; from compiled code: BLAS or small_batch.py
    (``acc (M,)``: its accumulator)."""
    if path == SMALL:
        a = a.T  # (K, M) -> (M, K)
    if beta == 0:
        np.matmul(a, b, out=c)
    else:
        c += np.matmul(a, b)


@overload(step_product, jit_options=JIT_OPTIONS, inline="always")  # inlined: 80 ns a call less
def _step_product_compiled(path, gemm, a, b, c, beta, acc):
    def compiled(path, gemm, a, b, c, beta, acc):
        if path == SMALL:
            small_batch.step_product(a, b, c, beta, acc)
        else:
            blas.matmul_into(gemm, a, b, c, beta)

    return compiled
