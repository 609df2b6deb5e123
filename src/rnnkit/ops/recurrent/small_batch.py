"""The step product compiled into the time loop, for a batch of one, where BLAS does not pay.

At batch size 1 a step's product is a matrix-vector product of a few microseconds, and the NumPy call around it,
the kernel call after it and the Python loop cost as much again. For a batch of one (:data:`MAX_BATCH`) the LSTM
and SimpleRNN forward loops therefore run whole in compiled code. The product reads the stacked weights
unstransposed, ``[W; b; U] (D+1+H, G*H)`` (see feature_major.stacked_rows), and adds inputs times their weight
rows into the contiguous output column, four rows per pass, a loop the compiler vectorises (measured for LSTM
128: 3.0 µs, against 4.7 µs one row per pass, 10.3 µs for NumPy's product and 9.6 µs for one dot product per
output row; the stacked weights also need no transpose).

>>> import numpy as np
>>> rows = np.arange(6.0).reshape(3, 2)                       # (K, M)
>>> xh = np.arange(6.0).reshape(3, 2, 1)                      # (K, T+1, 1)
>>> out = np.empty((2, 1))
>>> step_product(rows, xh, 1, out)
>>> bool(np.allclose(out, rows.T @ xh[:, 1]))
True
"""
from __future__ import annotations

from rnnkit.compiled import jit

MAX_BATCH = 1  # from batch 2 on, NumPy's product is the faster one (measured for LSTM 128)


@jit
def step_product(rows, xh, t, out):
    """``out (M, 1) = rows^T @ xh[:, t]`` for ``rows (K, M)`` and ``xh (K, T+1, 1)``."""
    K, M = rows.shape
    column = out.reshape(-1)  # (M, 1) -> (M,): contiguous, so the loops below vectorise
    column[:] = 0
    K4 = K - K % 4
    for k in range(0, K4, 4):  # four rows per pass over the output
        x0, x1, x2, x3 = xh[k, t, 0], xh[k + 1, t, 0], xh[k + 2, t, 0], xh[k + 3, t, 0]
        r0, r1, r2, r3 = rows[k], rows[k + 1], rows[k + 2], rows[k + 3]
        for j in range(M):
            column[j] += (r0[j] * x0 + r1[j] * x1) + (r2[j] * x2 + r3[j] * x3)
    for k in range(K4, K):
        x_k, row = xh[k, t, 0], rows[k]
        for j in range(M):
            column[j] += row[j] * x_k
