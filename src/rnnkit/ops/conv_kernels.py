"""Compiled loops of the convolution family, where NumPy would make many passes over a large array.

- :func:`col2im_add`: the window gradients ``(B, Ho, Wo, kh, kw, C)`` added into the padded input gradient in
  one pass (NumPy: ``kh*kw`` strided additions, each reading and writing the whole input gradient).
- :func:`im2col_into`: the windows of the padded input copied once into the ``(B*Ho*Wo, kh*kw*C)`` matrix.
- :func:`channel_moments`, :func:`bn_apply`, :func:`bn_backward`: batch normalisation over a ``(N, C)`` view
  (channels last), two passes forward (mean, then variance and output) and two backward (sums, then the
  gradient), where NumPy takes about fourteen.

Each kernel takes C-contiguous arrays of one float dtype (:func:`rnnkit.compiled.compilable`); callers keep a
NumPy path for the rest. Sums are accumulated in float64.

>>> import numpy as np
>>> x = np.arange(12.0).reshape(6, 2)
>>> mean, var = np.empty(2), np.empty(2)
>>> channel_moments(x, mean, var); mean, var
(array([5., 6.]), array([11.66666667, 11.66666667]))
"""
from __future__ import annotations

import numpy as np

from rnnkit.compiled import jit


@jit
def im2col_into(xp, kh, kw, sh, sw, dh, dw, Ho, Wo, cols):  # pragma: no cover - compiled
    """``cols[(b*Ho + oh)*Wo + ow, (i*kw + j)*C + c] = xp[b, oh*sh + i*dh, ow*sw + j*dw, c]``."""
    B, C = xp.shape[0], xp.shape[3]
    n = 0
    for b in range(B):
        for oh in range(Ho):
            for ow in range(Wo):
                col = 0
                for i in range(kh):
                    h = oh * sh + i * dh
                    for j in range(kw):
                        w = ow * sw + j * dw
                        for c in range(C):
                            cols[n, col + c] = xp[b, h, w, c]
                        col += C
                n += 1


@jit
def col2im_add(cols, kh, kw, sh, sw, dh, dw, Ho, Wo, out):  # pragma: no cover - compiled
    """``out[b, oh*sh + i*dh, ow*sw + j*dw, c] += cols[(b*Ho + oh)*Wo + ow, (i*kw + j)*C + c]`` (out zeroed)."""
    B, C = out.shape[0], out.shape[3]
    n = 0
    for b in range(B):
        for oh in range(Ho):
            for ow in range(Wo):
                col = 0
                for i in range(kh):
                    h = oh * sh + i * dh
                    for j in range(kw):
                        w = ow * sw + j * dw
                        for c in range(C):
                            out[b, h, w, c] += cols[n, col + c]
                        col += C
                n += 1


@jit
def channel_moments(x, mean, var):  # pragma: no cover - compiled
    """Per-column mean and biased variance of ``x (N, C)`` (two passes, float64 sums)."""
    N, C = x.shape
    total = np.zeros(C)
    for n in range(N):
        for c in range(C):
            total[c] += x[n, c]
    for c in range(C):
        mean[c] = total[c] / N
        total[c] = 0.0
    for n in range(N):
        for c in range(C):
            d = x[n, c] - mean[c]
            total[c] += d * d
    for c in range(C):
        var[c] = total[c] / N


@jit
def bn_apply(x, mean, scale, shift, y):  # pragma: no cover - compiled
    """``y = (x - mean) * scale + shift`` on ``(N, C)`` rows."""
    N, C = x.shape
    for n in range(N):
        for c in range(C):
            y[n, c] = (x[n, c] - mean[c]) * scale[c] + shift[c]


@jit
def bn_backward(g, x, mean, r, gamma, training, gx, sum_g, sum_gxhat):  # pragma: no cover - compiled
    """Fill ``sum_g``, ``sum_gxhat`` (per channel) and, when ``gx`` has rows, ``gx``: with ``xhat = (x - mean)
    * r`` and ``s = gamma * r``, ``gx = s * (g - (sum_g + xhat * sum_gxhat) / N)`` in training, ``s * g``
    otherwise."""
    N, C = x.shape
    acc_g = np.zeros(C)
    acc_gx = np.zeros(C)
    for n in range(N):
        for c in range(C):
            gv = g[n, c]
            acc_g[c] += gv
            acc_gx[c] += gv * (x[n, c] - mean[c]) * r[c]
    for c in range(C):
        sum_g[c] = acc_g[c]
        sum_gxhat[c] = acc_gx[c]
    if gx.shape[0] == 0:
        return
    s = gamma * r
    if training:
        a = np.empty(C, dtype=x.dtype)
        b = np.empty(C, dtype=x.dtype)
        for c in range(C):
            a[c] = acc_g[c] / N
            b[c] = acc_gx[c] / N
        for n in range(N):
            for c in range(C):
                xhat = (x[n, c] - mean[c]) * r[c]
                gx[n, c] = s[c] * (g[n, c] - a[c] - xhat * b[c])
    else:
        for n in range(N):
            for c in range(C):
                gx[n, c] = s[c] * g[n, c]


@jit
def conv_direct_forward(xp, k2, bias, kh, kw, sh, sw, dh, dw, Ho, Wo, y2, acc):  # pragma: no cover - compiled
    """``y2[(b*Ho + oh)*Wo + ow, :] = bias + sum over t = (i, j, c) of xp[b, oh*sh + i*dh, ow*sw + j*dw, c] *
    k2[t, :]``, straight from the padded input (no im2col matrix): for inputs with few channels, where a
    product with an inner dimension of ``kh*kw*C`` keeps the BLAS routine far from its peak. ``acc``: (F,)
    scratch."""
    B, C = xp.shape[0], xp.shape[3]
    F = k2.shape[1]
    n = 0
    for b in range(B):
        for oh in range(Ho):
            for ow in range(Wo):
                for f in range(F):
                    acc[f] = bias[f]
                t = 0
                for i in range(kh):
                    h = oh * sh + i * dh
                    for j in range(kw):
                        w = ow * sw + j * dw
                        for c in range(C):
                            v = xp[b, h, w, c]
                            for f in range(F):
                                acc[f] += v * k2[t, f]
                            t += 1
                for f in range(F):
                    y2[n, f] = acc[f]
                n += 1


@jit
def conv_direct_backward(xp, k2, g2, kh, kw, sh, sw, dh, dw, Ho, Wo, gk2, gb, gxp):  # pragma: no cover - compiled
    """Add into ``gk2 (kh*kw*C, F)`` the kernel gradient, into ``gb (F,)`` the bias gradient and into ``gxp``
    (the padded input's shape) the input gradient; an argument with no elements is skipped."""
    B, C = xp.shape[0], xp.shape[3]
    F = k2.shape[1]
    want_k, want_b, want_x = gk2.size > 0, gb.size > 0, gxp.size > 0
    n = 0
    for b in range(B):
        for oh in range(Ho):
            for ow in range(Wo):
                if want_b:
                    for f in range(F):
                        gb[f] += g2[n, f]
                t = 0
                for i in range(kh):
                    h = oh * sh + i * dh
                    for j in range(kw):
                        w = ow * sw + j * dw
                        for c in range(C):
                            if want_k:
                                v = xp[b, h, w, c]
                                for f in range(F):
                                    gk2[t, f] += v * g2[n, f]
                            if want_x:
                                total = 0.0
                                for f in range(F):
                                    total += g2[n, f] * k2[t, f]
                                gxp[b, h, w, c] += total
                            t += 1
                n += 1
