"""The step product compiled into the time loop, for a batch of one, where BLAS does not pay.

At batch size 1 a step's product is a matrix-vector product of a few microseconds, and the NumPy call around it,
the kernel call after it and the Python loop cost as much again. For a batch of one (:data:`MAX_BATCH`) the LSTM
and SimpleRNN forward loops therefore run whole in compiled code. The product reads the stacked weights
unstransposed, ``[W; b; U] (D+1+H, G*H)`` (see feature_major.stacked_rows), and adds each input times its
weight row into the contiguous output column, a loop the compiler vectorises (measured for LSTM 128: 6.9 µs,
against 10.3 µs for NumPy's product and 9.6 µs for one dot product per output row; the stacked weights also need
no transpose).

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
    column = out.reshape(-1)  # (M, 1) -> (M,): contiguous, so the loop below vectorises
    column[:] = 0
    for k in range(K):
        x_k, row = xh[k, t, 0], rows[k]
        for j in range(M):
            column[j] += row[j] * x_k
