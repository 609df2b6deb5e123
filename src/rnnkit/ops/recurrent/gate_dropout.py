"""Dropout masks per gate inside the recurrent ops: Keras' ``recurrent_dropout`` (its ``implementation=1``).

With ``recurrent_dropout`` a Keras cell multiplies the state that enters each gate's product by that gate's own
mask, and then also the input (when ``dropout`` is set) by a mask per gate::

    z_g = (x_t ⊙ dm_g) W_g + b_g + (h_{t-1} ⊙ rm_g) U_g        g = i, f, c, o (LSTM), z, r, h (GRU), one (SimpleRNN)

``dm_g (B, D)`` and ``rm_g (B, H)`` hold 0 for a dropped unit and ``1 / (1 - rate)`` for a kept one; the layer
draws them once per call (the same at every time step). The state update uses the unmasked ``h_{t-1}`` (GRU:
``h_t = z h_{t-1} + (1 - z) hh``).

Inside an op the masks are feature-major multipliers over the step's right factor (see feature_major.py): for
the stacked ops (LSTM, SimpleRNN) ``mult (G, D+1+H, B)`` over ``[x_t; 1; h_{t-1}]`` (ones on the bias row, and on
the input rows without input dropout), for the GRU ``(G, H, B)`` over ``h_{t-1}``. A step then makes, for each
gate, the product of the gate's rows of the weights with its own masked copy of the step's column block
(:func:`gate_product`): the same multiply-adds as the one stacked product, in G calls. Backward, the gradient
reaching ``h_{t-1}`` through the products is ``Σ_g rm_g ⊙ (U_g dz_g)`` (:func:`state_grad_product`); after the
loop each gate's block of the weight gradients multiplies its masked inputs (:func:`gate_weight_grads`, the masks
are constant over time) and ``dx = Σ_g dm_g ⊙ (dz_g W_g^T)`` (:func:`gate_input_grad`). Without masks (the
multipliers None) both loop functions are the plain step product, so the loops are written once; compiled, the
choice is made by type, so a loop without masks is compiled without the per-gate code.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> w, xh = rng.standard_normal((4, 3)), rng.standard_normal((3, 2, 5))   # 2 gates of 2 rows; K = 3, T = 2, B = 5
>>> mult = rng.integers(0, 2, (2, 3, 5)).astype(float)                   # (G, K, B)
>>> out = np.empty((4, 5))
>>> gate_product(0, 0, w, xh, 1, out, mult, np.empty((3, 5)), 2, 0, 5, np.empty(4))
>>> bool(np.allclose(out[2:], w[2:] @ (xh[:, 1] * mult[1])))
True
"""
from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload

from rnnkit.compiled import JIT_OPTIONS, jit
from rnnkit.errors import ShapeError
from rnnkit.ops.recurrent.common import release, scratch
from rnnkit.ops.recurrent.paths import step_product


# ------------------------------------------------------------------------------------- the masks' layout
def feature_major_pair(op: str, input_masks, recurrent_masks, G: int, B: int, D: int, H: int, dtype) -> tuple:
    """An op's two mask arguments, ``input_masks (G, B, D)`` and ``recurrent_masks (G, B, H)`` (either None), as
    the feature-major ``(G, D, B)``, ``(G, H, B)`` its loops read (see :func:`feature_major_masks`)."""
    return (feature_major_masks(op, "input_masks", input_masks, G, B, D, dtype),
            feature_major_masks(op, "recurrent_masks", recurrent_masks, G, B, H, dtype))


def feature_major_masks(op: str, name: str, masks, G: int, B: int, F: int, dtype: np.dtype) -> np.ndarray | None:
    """Masks given as ``(G, B, F)`` (one ``(B, F)`` mask per gate, Keras' order; an array, a Tensor or a list of
    G of them) as contiguous ``(G, F, B)`` in ``dtype``; None stays None."""
    if masks is None:
        return None
    if isinstance(masks, (list, tuple)):
        masks = [getattr(m, "data", m) for m in masks]
    array = np.asarray(getattr(masks, "data", masks))
    if array.shape != (G, B, F):
        raise ShapeError(f"{op}: {name} must have shape (gates, batch, features) = {(G, B, F)}; got shape "
                         f"{array.shape}")
    return np.ascontiguousarray(array.transpose(0, 2, 1), dtype=dtype)  # (G, B, F) -> (G, F, B)


def stacked_multipliers(dm: np.ndarray | None, rm: np.ndarray | None, G: int, D: int, H: int, B: int,
                        dtype: np.dtype) -> np.ndarray:
    """``mult (G, D+1+H, B)`` over the stacked ``[x_t; 1; h_{t-1}]``: ``dm (G, D, B)`` on the input rows, 1 on
    the bias row, ``rm (G, H, B)`` on the state rows (ones where a mask is None)."""
    mult = np.ones((G, D + 1 + H, B), dtype)
    if dm is not None:
        mult[:, :D] = dm
    if rm is not None:
        mult[:, D + 1 :] = rm
    return mult


def empty(ndim: int, dtype: np.dtype) -> np.ndarray:
    """The zero-length stand-in for absent multipliers or their scratch (the compiled loops take no None)."""
    return np.zeros((0,) * ndim, dtype)


# ------------------------------------------------------------------------------------- inside the loops
@jit
def mask_columns(steps, t, mult, dst, b0, b1):
    """``dst = steps[:, t] * mult`` on columns ``[b0, b1)`` (``steps (K, S, B)``, ``mult``, ``dst (K, B)``). The
    rows are taken as ``steps[r, t]``, contiguous to the compiler (the rows of a ``steps[:, t]`` view are not:
    measured 11.5 vs 2 µs for K = 157, B = 64, the loop not vectorised)."""
    for r in range(steps.shape[0]):
        s, m, d = steps[r, t], mult[r], dst[r]  # (B,) rows
        for b in range(np.uint64(b0), np.uint64(b1)):  # unsigned: see kernel_math.activate_rows
            d[b] = s[b] * m[b]


@jit
def add_masked(dh, part, mult, replace, b0, b1):
    """``dh = mult * part`` (``replace``) or ``dh += mult * part`` on columns ``[b0, b1)`` of ``(H, B)`` blocks."""
    for r in range(dh.shape[0]):
        d, p, m = dh[r], part[r], mult[r]  # (B,) rows
        if replace:
            for b in range(np.uint64(b0), np.uint64(b1)):
                d[b] = m[b] * p[b]
        else:
            for b in range(np.uint64(b0), np.uint64(b1)):
                d[b] += m[b] * p[b]


def gate_product(path, gemm, weights, steps, t, out, mult, masked, gates, b0, b1, acc):
    """Step ``t``'s product on columns ``[b0, b1)``: ``out = weights (G*M, K) @ steps[:, t] (K, B)``, or with
    multipliers ``mult (>= G, K, B)`` per gate ``g < G = gates``: ``out[gM:(g+1)M] = weights[gM:(g+1)M] @
    (steps[:, t] ⊙ mult[g])`` through the scratch ``masked (K, B)``. ``mult`` None: no masks. Called from the
    loops, compiled or as Python (paths.step_product)."""
    if mult is None:
        _one_product(path, gemm, weights, steps, t, out, mult, masked, gates, b0, b1, acc)
    else:
        _gate_products(path, gemm, weights, steps, t, out, mult, masked, gates, b0, b1, acc)


def _one_product(path, gemm, weights, steps, t, out, mult, masked, gates, b0, b1, acc):
    step_product(path, gemm, weights, steps[:, t, b0:b1], out[:, b0:b1], 0.0, acc)


def _gate_products(path, gemm, weights, steps, t, out, mult, masked, gates, b0, b1, acc):
    M = weights.shape[0] // gates
    for g in range(gates):
        mask_columns(steps, t, mult[g], masked, b0, b1)
        # (M, K) @ (K, b1-b0)
        step_product(path, gemm, weights[g * M : (g + 1) * M], masked[:, b0:b1], out[g * M : (g + 1) * M, b0:b1],
                     0.0, acc)


def state_grad_product(path, gemm, u, dz, dh, beta, mult, part, gates, b0, b1, acc):
    """The gradient reaching ``h_{t-1}`` through the step's product, on columns ``[b0, b1)``:
    ``dh = U (H, G*M) @ dz (G*M, B) + beta * dh``, or with state multipliers ``mult (>= G, H, B)`` (G = ``gates``)
    ``dh = Σ_g mult[g] ⊙ (U_g @ dz_g) + beta * dh`` through the scratch ``part (H, B)``. ``mult`` None: no masks."""
    if mult is None:
        _one_grad_product(path, gemm, u, dz, dh, beta, mult, part, gates, b0, b1, acc)
    else:
        _gate_grad_products(path, gemm, u, dz, dh, beta, mult, part, gates, b0, b1, acc)


def _one_grad_product(path, gemm, u, dz, dh, beta, mult, part, gates, b0, b1, acc):
    step_product(path, gemm, u, dz[:, b0:b1], dh[:, b0:b1], beta, acc)


def _gate_grad_products(path, gemm, u, dz, dh, beta, mult, part, gates, b0, b1, acc):
    M = u.shape[1] // gates
    for g in range(gates):
        # (H, M) @ (M, b1-b0)
        step_product(path, gemm, u[:, g * M : (g + 1) * M], dz[g * M : (g + 1) * M, b0:b1], part[:, b0:b1], 0.0, acc)
        add_masked(dh, part, mult[g], g == 0 and beta == 0, b0, b1)


# Compiled, the choice is made by the type of ``mult`` while compiling: a loop compiled without masks (None)
# holds only the one product (no extra compile time, no extra code), one with masks only the products per gate.
@overload(gate_product, jit_options=JIT_OPTIONS)
def _gate_product_compiled(path, gemm, weights, steps, t, out, mult, masked, gates, b0, b1, acc):
    return _one_product if isinstance(mult, types.NoneType) else _gate_products


@overload(state_grad_product, jit_options=JIT_OPTIONS)
def _state_grad_product_compiled(path, gemm, u, dz, dh, beta, mult, part, gates, b0, b1, acc):
    return _one_grad_product if isinstance(mult, types.NoneType) else _gate_grad_products


# ------------------------------------------------------------------------------- before and after the loops
@jit
def mask_steps(src, r0, T, mult, dst, accumulate):
    """``dst[r, t] = src[r0 + r, t] * mult[r0 + r]`` (or ``+=`` when ``accumulate``) for the ``R`` rows of
    ``dst (R, T, B)`` and the first ``T`` steps of ``src (K, S, B)``, ``mult (K, B)``: a row at a time, contiguous
    (NumPy's broadcast ``src * mult[:, None, :]`` over the middle axis runs 5-10 times slower)."""
    for r in range(dst.shape[0]):
        m = mult[r0 + r]  # (B,)
        for t in range(T):
            s, d = src[r0 + r, t], dst[r, t]  # (B,) rows
            if accumulate:
                for b in range(d.shape[0]):
                    d[b] += s[b] * m[b]
            else:
                for b in range(d.shape[0]):
                    d[b] = s[b] * m[b]


def gate_weight_grads(inputs: np.ndarray, T: int, dz: np.ndarray, mult: np.ndarray, unmasked: int = 0) -> np.ndarray:
    """``Σ_t (inputs_t ⊙ mult[g]) dz_g,t^T`` for each gate ``g``, side by side: ``(K, G*M)`` from the first ``T``
    steps of ``inputs (K, S, B)``, ``dz (G*M, T, B)`` and ``mult (G, K, B)``, one masked copy of the inputs at a
    time. The first ``unmasked`` rows have multipliers 1 (the stacked ops' input and bias rows without input
    dropout): one product for all gates."""
    K, _, B = inputs.shape
    G = mult.shape[0]
    GM = dz.shape[0]
    M = GM // G
    out = np.empty((K, GM), dz.dtype)
    if unmasked:
        # (r0, T*B) @ (T*B, G*M)
        np.matmul(inputs[:unmasked, :T].reshape(unmasked, T * B), dz.reshape(GM, T * B).T, out=out[:unmasked])
    masked = scratch((K - unmasked, T, B), dz.dtype)
    for g in range(G):
        mask_steps(inputs, unmasked, T, mult[g], masked, False)
        # (K - r0, T*B) @ (T*B, M)
        np.matmul(masked.reshape(K - unmasked, T * B), dz[g * M : (g + 1) * M].reshape(M, T * B).T,
                  out=out[unmasked:, g * M : (g + 1) * M])
    release(masked)
    return out


def gate_projection(x_fm: np.ndarray, kernel: np.ndarray, dm: np.ndarray) -> np.ndarray:
    """All steps' input projections with a mask per gate: scratch ``(G*M, T, B)``, block ``g`` =
    ``W_g^T (X ⊙ dm_g)`` (``x_fm (D, T, B)``, ``kernel (D, G*M)``, ``dm (G, D, B)``)."""
    D, T, B = x_fm.shape
    G = dm.shape[0]
    M = kernel.shape[1] // G
    out = scratch((G * M, T, B), x_fm.dtype)
    masked = scratch((D, T, B), x_fm.dtype)
    for g in range(G):
        mask_steps(x_fm, 0, T, dm[g], masked, False)
        # (M, D) @ (D, T*B)
        np.matmul(kernel[:, g * M : (g + 1) * M].T, masked.reshape(D, T * B),
                  out=out[g * M : (g + 1) * M].reshape(M, T * B))
    release(masked)
    return out


def gate_input_grad(dz: np.ndarray, kernel: np.ndarray, dm: np.ndarray) -> np.ndarray:
    """``dx (B, T, D) = Σ_g dm_g ⊙ (W_g dz_g)`` from ``dz (G*M, T, B)``, ``kernel (D, G*M)``, ``dm (G, D, B)``."""
    GM, T, B = dz.shape
    G, D = dm.shape[0], kernel.shape[0]
    M = GM // G
    dx_fm = scratch((D, T, B), dz.dtype)
    part = scratch((D, T, B), dz.dtype)
    for g in range(G):
        # (D, M) @ (M, T*B)
        np.matmul(kernel[:, g * M : (g + 1) * M], dz[g * M : (g + 1) * M].reshape(M, T * B), out=part.reshape(D, T * B))
        mask_steps(part, 0, T, dm[g], dx_fm, g > 0)
    dx = np.ascontiguousarray(dx_fm.transpose(2, 1, 0))  # (D, T, B) -> (B, T, D)
    release(part, dx_fm)
    return dx
