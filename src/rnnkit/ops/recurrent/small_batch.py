"""The step product compiled into the time loop, for a batch of one, where BLAS does not pay.

At batch size 1 a step's product is a matrix-vector product of a few microseconds, and a BLAS call costs as much
again. For a batch of one (:data:`MAX_BATCH`, chosen in paths.py) the LSTM and SimpleRNN forward loops compute the
product themselves. It reads the stacked weights untransposed, ``[W; b; U] (D+1+H, G*H)`` (see
feature_major.stacked_rows), and adds inputs times their weight rows into a contiguous accumulator, four rows per
pass, a loop the compiler vectorises (measured for LSTM 128: 3.0 µs, against 4.7 µs one row per pass, 10.3 µs for
NumPy's product and 9.6 µs for one dot product per output row; the stacked weights also need no transpose).

>>> import numpy as np
>>> rows = np.arange(6.0).reshape(3, 2)                       # (K, M)
>>> x = np.arange(3.0).reshape(3, 1)                          # (K, 1)
>>> out = np.empty((2, 1))
>>> step_product(rows, x, out, 0.0, np.empty(2))
>>> bool(np.allclose(out, rows.T @ x))
True
"""
from __future__ import annotations

from rnnkit.compiled import jit

MAX_BATCH = 1  # from batch 2 on, BLAS's product is the faster one (measured for LSTM 128)


@jit
def step_product(rows, x, out, beta, acc):
    """``out (M, 1) = rows^T @ x + beta * out`` for ``rows (K, M)`` and ``x (K, 1)`` (any strides), accumulated in
    the contiguous ``acc (M,)``."""
    K, M = rows.shape
    acc[:] = 0
    K4 = K - K % 4
    for k in range(0, K4, 4):  # four rows per pass over the output
        x0, x1, x2, x3 = x[k, 0], x[k + 1, 0], x[k + 2, 0], x[k + 3, 0]
        r0, r1, r2, r3 = rows[k], rows[k + 1], rows[k + 2], rows[k + 3]
        for j in range(M):
            acc[j] += (r0[j] * x0 + r1[j] * x1) + (r2[j] * x2 + r3[j] * x3)
    for k in range(K4, K):
        x_k, row = x[k, 0], rows[k]
        for j in range(M):
            acc[j] += row[j] * x_k
    if beta == 0:
        for j in range(M):
            out[j, 0] = acc[j]
    else:
        for j in range(M):
            out[j, 0] = acc[j] + beta * out[j, 0]
