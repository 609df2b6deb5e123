"""Compiled kernels for the commonest loss, softmax cross-entropy of ``(N, C)`` logits against class ids: one
pass over each row forward and one backward, instead of the dozen NumPy calls of the general path in
:mod:`rnnkit.ops.losses` (for a batch of 64 rows of 10 classes those calls, not the arithmetic, are the cost).

    forward:   p_n = softmax(x_n),  loss_n = log(sum_c exp(x_nc - m_n)) - (x_n,id_n - m_n),  m_n = max_c x_nc
    backward:  dx_n = g_n p_n - g_n e_id_n

>>> import numpy as np
>>> x, ids = np.array([[0.0, 0.0], [2.0, 0.0]], np.float32), np.array([1, 0])
>>> loss, p = np.empty(2, np.float32), np.empty_like(x)
>>> softmax_rows_and_loss(x, ids, loss, p); loss.round(4)
array([0.6931, 0.1269], dtype=float32)
>>> dx = np.empty_like(x); class_id_loss_grad(p, ids, np.ones(2, np.float32), dx); dx.round(4)
array([[ 0.5   , -0.5   ],
       [-0.1192,  0.1192]], dtype=float32)
"""
from __future__ import annotations

import math

from rnnkit.compiled import jit


@jit
def softmax_rows_and_loss(x, ids, loss, p):
    """``loss (N,)`` and the softmax ``p (N, C)`` of the logits ``x (N, C)`` against ``ids (N,)``, which must be
    in ``[0, C)``. A NaN or infinite logit makes its row's loss NaN."""
    N, C = x.shape
    for n in range(N):
        row, p_row = x[n], p[n]
        top = row[0]
        for c in range(1, C):
            top = max(top, row[c])
        total = 0.0
        for c in range(C):
            e = math.exp(row[c] - top)
            p_row[c] = e
            total += e
        scale = 1.0 / total
        for c in range(C):
            p_row[c] *= scale
        loss[n] = math.log(total) - (row[ids[n]] - top)


@jit
def class_id_loss_grad(p, ids, g, dx):
    """``dx (N, C) = g_n (p_n - one_hot(id_n))`` from the softmax ``p`` and the loss gradient ``g (N,)``."""
    N, C = p.shape
    for n in range(N):
        gn = g[n]
        for c in range(C):
            dx[n, c] = p[n, c] * gn
        dx[n, ids[n]] -= gn
