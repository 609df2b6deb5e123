"""The scalar arithmetic the compiled recurrent kernels share: a vectorisable float32 ``tanh``, and the gate
activations with their derivatives, selected by a small integer code.

Every recurrent op's time loop calls NumPy's BLAS for the step's product and one compiled kernel per step for
all the gate arithmetic: a single pass over the gates instead of ten NumPy calls, each with its own temporary and
its own trip through memory. Kernels are compiled by Numba on first use and cached on disk
(:mod:`rnnkit.compiled`).

float32 ``tanh`` is a rational function of our own fit, ``x P(s) / Q(s)`` with ``s = (x/9)^2`` on ``|x| <= 9``
and ``±1`` beyond (where float32 ``tanh`` is 1 to the last bit): it has no branches and no calls, so the
compiler turns the loops into SIMD code. Its largest error is 4e-7 (3 float32 ulps near ±1); NumPy's own float32
``tanh`` errs by 6e-8. float64 uses the exact ``math.tanh``, so the gradient checks and the PyTorch comparisons,
which run in float64, test the kernels' structure without approximation. NaN stays NaN (the clamps compare, and
NaN compares false), so a diverging run is still detected.

=============  =====  ===================================  ==================================
name           code   y = f(x)                             f'(x) written with y
=============  =====  ===================================  ==================================
tanh           0      tanh(x)                              1 - y²
sigmoid        1      1 / (1 + e^-x) = (1 + tanh(x/2)) / 2 y (1 - y)
relu           2      max(x, 0)                            1 if y > 0 else 0
hard_sigmoid   3      clip(x/6 + 1/2, 0, 1)   (Keras 3)    1/6 if 0 < y < 1 else 0
linear         4      x                                    1
=============  =====  ===================================  ==================================

>>> import numpy as np
>>> from rnnkit.ops.recurrent.kernel_math import apply_activation, TANH
>>> x = np.array([-20.0, -1.0, 0.0, 0.5, 3.0, np.nan], np.float32)
>>> y = apply_activation(x.copy(), TANH)
>>> bool(np.abs(y[:5] - np.tanh(x[:5].astype(np.float64))).max() < 5e-7), bool(np.isnan(y[5]))
(True, True)
"""
from __future__ import annotations

import math

import numpy as np
from numba import types
from numba.extending import overload

from rnnkit.compiled import JIT_OPTIONS, jit

TANH, SIGMOID, RELU, HARD_SIGMOID, LINEAR = 0, 1, 2, 3, 4
CODES = {"tanh": TANH, "sigmoid": SIGMOID, "relu": RELU, "hard_sigmoid": HARD_SIGMOID, "linear": LINEAR}

# tanh(x) ~ x P(s) / Q(s), s = (x / 9)^2, fitted by iteratively reweighted least squares on [0, 9] (max error
# 5e-8 in float64 arithmetic; 4e-7 once evaluated in float32).
_P = (0.99999974, 10.45764147, 19.10549458, 4.88658032, -0.54199955, 0.06219703)
_Q = (1.0, 37.45756017, 155.66696919, 120.60468593)
_CLAMP = 9.0


def tanh(x):
    """``tanh`` for the kernels: the rational approximation for float32, ``math.tanh`` otherwise (compiled
    code only; see the module docstring)."""
    raise TypeError("kernel_math.tanh is only callable from compiled kernels")


@overload(tanh, jit_options=JIT_OPTIONS)
def _tanh_for(x):
    if isinstance(x, types.Float) and x.bitwidth == 32:
        p0, p1, p2, p3, p4, p5 = (np.float32(v) for v in _P)
        q0, q1, q2, q3 = (np.float32(v) for v in _Q)
        clamp, inv_sq = np.float32(_CLAMP), np.float32(1.0 / _CLAMP**2)

        def tanh_f32(x):
            x = clamp if x > clamp else x  # NaN fails both comparisons and stays NaN
            x = -clamp if x < -clamp else x
            s = x * x * inv_sq
            num = ((((p5 * s + p4) * s + p3) * s + p2) * s + p1) * s + p0
            den = ((q3 * s + q2) * s + q1) * s + q0
            return x * num / den

        return tanh_f32
    return lambda x: math.tanh(x)


@jit
def activate(code, x):
    """``f(x)`` for the activation with ``code`` (see the table above)."""
    half = type(x)(0.5)
    if code == TANH:
        return tanh(x)
    if code == SIGMOID:
        return half * tanh(half * x) + half
    if code == RELU:
        return type(x)(0) if x < 0 else x  # written so that NaN (which compares false) stays NaN
    if code == HARD_SIGMOID:
        y = x * type(x)(1.0 / 6.0) + half
        y = type(x)(1) if y > 1 else y
        return type(x)(0) if y < 0 else y
    return x


@jit
def derivative(code, y):
    """``f'(x)`` written with the activation's output ``y = f(x)``."""
    one, zero = type(y)(1), type(y)(0)
    if code == TANH:
        return one - y * y
    if code == SIGMOID:
        return y * (one - y)
    if code == RELU:
        return one if y > zero else zero
    if code == HARD_SIGMOID:
        return type(y)(1.0 / 6.0) if (y > zero and y < one) else zero
    return one


# The row functions branch on the code once, outside the loop, so that each loop body is branch-free and
# vectorises (a code tested inside the loop kept it scalar: measured 4x slower).
@jit
def activate_row(code, x, out):
    """``out[i] = f(x[i])`` over 1-D rows that do not overlap (see :func:`activate_inplace`)."""
    n = x.shape[0]
    if code == TANH:
        for i in range(n):
            out[i] = activate(TANH, x[i])
    elif code == SIGMOID:
        for i in range(n):
            out[i] = activate(SIGMOID, x[i])
    elif code == RELU:
        for i in range(n):
            out[i] = activate(RELU, x[i])
    elif code == HARD_SIGMOID:
        for i in range(n):
            out[i] = activate(HARD_SIGMOID, x[i])
    else:
        for i in range(n):
            out[i] = x[i]


@jit
def activate_inplace(code, x):
    """``x[i] = f(x[i])`` over a 1-D row. (Calling :func:`activate_row` with ``out`` = ``x`` would be correct but
    scalar: the compiler's overlap check sees the same memory on both sides and skips the SIMD loop.)"""
    n = x.shape[0]
    if code == TANH:
        for i in range(n):
            x[i] = activate(TANH, x[i])
    elif code == SIGMOID:
        for i in range(n):
            x[i] = activate(SIGMOID, x[i])
    elif code == RELU:
        for i in range(n):
            x[i] = activate(RELU, x[i])
    elif code == HARD_SIGMOID:
        for i in range(n):
            x[i] = activate(HARD_SIGMOID, x[i])


@jit
def derivative_row(code, y, out):
    """``out[i] = f'(x[i])`` from the outputs ``y[i] = f(x[i])`` over 1-D rows."""
    n = y.shape[0]
    if code == TANH:
        for i in range(n):
            out[i] = derivative(TANH, y[i])
    elif code == SIGMOID:
        for i in range(n):
            out[i] = derivative(SIGMOID, y[i])
    elif code == RELU:
        for i in range(n):
            out[i] = derivative(RELU, y[i])
    elif code == HARD_SIGMOID:
        for i in range(n):
            out[i] = derivative(HARD_SIGMOID, y[i])
    else:
        for i in range(n):
            out[i] = derivative(LINEAR, y[i])


@jit
def apply_activation(a, code):
    """Apply the activation ``code`` to a contiguous array in place; return it."""
    activate_inplace(code, a.reshape(-1))  # (N,) view
    return a


@jit
def apply_derivative(y, code):
    """Replace the activation outputs ``y`` (a contiguous array) by the derivatives ``f'(x)``; return it."""
    flat = y.reshape(-1)  # (N,) view
    derivative_row(code, flat.copy(), flat)
    return y


@jit
def activate_rows(code, a, r0, r1, b0, b1):
    """``a[r, b] = f(a[r, b])`` for rows ``r0 <= r < r1`` and columns ``b0 <= b < b1`` of one step's block
    ``a (F, B)`` of a time-major per-step array (C-contiguous). When the block spans all columns its rows are one
    contiguous run, activated in one pass. (The column index is unsigned: with a signed one Numba adds a
    negative-index check to every access and the loop stays scalar, measured 8x slower.)"""
    B = a.shape[1]
    if b0 == 0 and b1 == B:
        activate_inplace(code, a.reshape(-1)[r0 * B : r1 * B])  # (rows * B,) view
    elif code == TANH:
        for r in range(r0, r1):
            row = a[r]  # (B,)
            for b in range(np.uint64(b0), np.uint64(b1)):
                row[b] = activate(TANH, row[b])
    elif code == SIGMOID:
        for r in range(r0, r1):
            row = a[r]  # (B,)
            for b in range(np.uint64(b0), np.uint64(b1)):
                row[b] = activate(SIGMOID, row[b])
    elif code == RELU:
        for r in range(r0, r1):
            row = a[r]  # (B,)
            for b in range(np.uint64(b0), np.uint64(b1)):
                row[b] = activate(RELU, row[b])
    elif code == HARD_SIGMOID:
        for r in range(r0, r1):
            row = a[r]  # (B,)
            for b in range(np.uint64(b0), np.uint64(b1)):
                row[b] = activate(HARD_SIGMOID, row[b])


@jit
def add_output_grad(dh, d_out, t, b0, b1):
    """``dh[:, b] += d_out[:, t, b]`` on columns ``[b0, b1)``: the gradient of step ``t``'s output joins the one
    reaching its state (``d_out (H, T, B)``; zero-length: no output gradient)."""
    if d_out.shape[0] > 0:
        for j in range(dh.shape[0]):
            for b in range(np.uint64(b0), np.uint64(b1)):
                dh[j, b] += d_out[j, t, b]


@jit
def record_state_grad(steps, dh, t, b0, b1):
    """``steps[:, t, b] = dh[:, b]`` on columns ``[b0, b1)`` when ``steps`` is not empty: the per-step record of
    the gradient reaching a state (``steps (H, T, B)``; zero-length: not recording, see recording.py)."""
    if steps.shape[0] > 0:
        for j in range(dh.shape[0]):
            row, d = steps[j, t], dh[j]  # (B,) rows
            for b in range(np.uint64(b0), np.uint64(b1)):
                row[b] = d[b]
