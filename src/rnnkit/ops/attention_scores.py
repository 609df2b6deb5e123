"""Additive (Bahdanau) attention scores as one op, forward and backward side by side.

For ``query (B, Tq, D)``, ``key (B, Tv, D)`` and ``scale (D,)``::

    t[b, i, j, :]  = tanh(q[b, i, :] + k[b, j, :])                 (B, Tq, Tv, D), kept for the backward
    s[b, i, j]     = sum_d scale_d t[b, i, j, d]                   (B, Tq, Tv)

and for an upstream gradient ``G (B, Tq, Tv)``, with ``p = G[b, i, j] scale_d (1 - t^2)``::

    dq[b, i, d] = sum_j p        dk[b, j, d] = sum_i p        dscale_d = sum_{b, i, j} G[b, i, j] t[b, i, j, d]

The composition of tape ops (``expand_dims``, ``+``, ``tanh``, ``*``, ``sum``) makes about a dozen passes over
the ``(B, Tq, Tv, D)`` array; the compiled kernels here make one forward and one backward (float32 and float64;
other dtypes take the composed path, with the same result). Float32 uses the kernels' rational ``tanh``
(error 4e-7, see ``ops/recurrent/kernel_math.py``); float64 is exact.

>>> import numpy as np
>>> from rnnkit import Tensor
>>> q, k = Tensor(np.zeros((1, 2, 3)), requires_grad=True), Tensor(np.ones((1, 4, 3)))
>>> scores = additive_scores(q, k, Tensor(np.ones(3)))
>>> scores.shape, round(float(scores.numpy()[0, 0, 0]), 4)       # 3 tanh(1)
((1, 2, 4), 2.2848)
"""
from __future__ import annotations

import numpy as np

from rnnkit.autograd import Tensor, as_tensor, make
from rnnkit.compiled import compilable, jit
from rnnkit.errors import ShapeError
from rnnkit.ops.recurrent.kernel_math import tanh as kernel_tanh


@jit
def _forward(q, k, scale, t, out):
    B, Tq, D = q.shape
    Tv = k.shape[1]
    for b in range(B):
        for i in range(Tq):
            for j in range(Tv):
                total = 0.0
                for d in range(D):
                    value = kernel_tanh(q[b, i, d] + k[b, j, d])
                    t[b, i, j, d] = value
                    total += scale[d] * value
                out[b, i, j] = total


@jit
def _backward(g, t, scale, gq, gk, gscale):
    B, Tq, Tv, D = t.shape
    for b in range(B):
        for i in range(Tq):
            for j in range(Tv):
                gij = g[b, i, j]
                if gij == 0.0:
                    continue  # masked scores (and padded queries) get no gradient
                for d in range(D):
                    value = t[b, i, j, d]
                    gscale[d] += gij * value
                    p = gij * scale[d] * (1.0 - value * value)
                    gq[b, i, d] += p
                    gk[b, j, d] += p


def additive_scores(query, key, scale) -> Tensor:
    """``sum_d scale_d tanh(query_i + key_j)`` for every query ``i`` and key ``j``: ``(B, Tq, Tv)``."""
    query, key, scale = as_tensor(query), as_tensor(key), as_tensor(scale)
    if query.ndim != 3 or key.ndim != 3 or query.shape[0] != key.shape[0] or query.shape[2] != key.shape[2] \
            or scale.shape != (query.shape[2],):
        raise ShapeError(f"additive_scores expects query (B, Tq, D), key (B, Tv, D) and scale (D,); got shapes "
                         f"{query.shape}, {key.shape} and {scale.shape}")
    q, k, s = (np.ascontiguousarray(a) for a in (query.data, key.data, scale.data))
    if not compilable(q, k, s):
        from rnnkit.ops import expand_dims, tanh
        from rnnkit.ops import sum as sum_

        return sum_(tanh(expand_dims(query, -2) + expand_dims(key, -3)) * scale, axis=-1)
    B, Tq, D = q.shape
    Tv = k.shape[1]
    t = np.empty((B, Tq, Tv, D), dtype=q.dtype)
    out = np.empty((B, Tq, Tv), dtype=q.dtype)
    _forward(q, k, s, t, out)

    def backward(g):
        g = np.ascontiguousarray(g, dtype=q.dtype)
        gq, gk = np.zeros_like(q), np.zeros_like(k)
        gscale = np.zeros(D, dtype=np.float64)  # summed over B * Tq * Tv terms: accumulate wide
        _backward(g, t, s, gq, gk, gscale)
        return gq, gk, gscale.astype(s.dtype)

    return make("additive_scores", out, (query, key, scale), backward)
