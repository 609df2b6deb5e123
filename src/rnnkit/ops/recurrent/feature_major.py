"""The layout inside the recurrent ops, and the large matrix products before and after their time loops.

Inside an op every per-step array is *feature-major*, ``(features, time, batch)``: step ``t`` of it is the
``(F, B)`` slab ``a[:, t]``, whose rows are contiguous, and a shard of the batch is ``a[:, t, b0:b1]``. A step's
hidden state is ``(H, B)``, its gates ``(G*H, B)``, so the step's product is ``U^T (G*H, H) @ h^T (H, B)``. With
OpenBLAS on two threads that product runs about twice as fast as the batch-major ``h (B, H) @ U (H, G*H)``
(measured for B = 64, H = 128: 53 vs 100 µs; the threads split the long G*H side instead of the short batch side).
The order is also the one the large products around the loop need: ``(F, T*B)`` matrices without copies.

Sequences are stored so that the large products need no copies:

=================  =====================  ===================================================================
array              shape                  note
=================  =====================  ===================================================================
inputs             ``(D, T, B)``          ``(D, T*B)`` for ``W^T @ X^T`` and ``dW``
input projection   ``(G*H, T, B)``        all steps' ``x_t W`` in one product (GRU)
states ``hs``      ``(H, T+1, B)``        ``hs[:, t]`` before step t; ``hs[:, :T]`` is ``(H, T*B)`` for ``dU``
gates, cells       ``(G*H, S, B)``        S = T, or 1 when no backward pass will come (one reused slot)
stacked ``xh``     ``(D+1+H, T+1, B)``    ``xh[:, t] = [x_t; 1; h_{t-1}]``: inputs, a row of ones, states
gate gradients     ``(G*H, T, B)``        ``(G*H, T*B)`` for ``dW``, ``dU``, ``db`` and ``dX``
=================  =====================  ===================================================================

The *stacked* layout (LSTM, SimpleRNN) folds the input projection and the bias into the step's product:
``[W^T | b | U^T] (G*H, D+1+H) @ xh[:, t]`` gives ``x_t W + b + h_{t-1} U`` at once, and after the loop one
product ``xh[:, :T] (D+1+H, T*B) @ dz^T`` gives ``dW``, ``db`` and ``dU`` stacked. The longer step product costs
less than the separate projection, whose short inner dimension ``D`` runs far below the BLAS peak (measured for
LSTM 128, B = 64, T = 28, D = 28: forward products 3.7 -> 3.0 ms, weight gradients 3.0 -> 2.5 ms), and no
``(G*H, T, B)`` projection is stored. The outputs the caller sees are a ``(B, T, H)`` view of the states (no
copy).

The products are ``np.matmul``, never ``np.dot``: on a strided view such as ``xh[:, t]`` or ``dz[:, t]`` NumPy's
``dot`` runs far slower (measured for LSTM 128, B = 64, per step: forward 83 -> 68 µs, backward 93 -> 64 µs).

>>> import numpy as np
>>> x = np.arange(12.0).reshape(2, 3, 2)                   # (B, T, D)
>>> x_fm = feature_major(x, np.dtype("float64"))            # (D, T, B)
>>> x_fm.shape, bool(x_fm[1, 2, 0] == x[0, 2, 1])
((2, 3, 2), True)
>>> hs = np.zeros((4, 3 + 1, 2)); outputs_view(hs).shape  # (H, T+1, B) -> (B, T, H)
(2, 3, 4)
>>> xh = stacked_inputs(x, np.zeros((2, 4)), np.dtype("float64"))  # (D+1+H, T+1, B) = (2+1+4, 3+1, 2)
>>> xh.shape, bool(xh[1, 2, 0] == x[0, 2, 1]), float(xh[2, 0, 0]), states(xh, 2).shape
((7, 4, 2), True, 1.0, (4, 4, 2))
"""
from __future__ import annotations

import numpy as np

from rnnkit.ops.recurrent import common, gate_dropout
from rnnkit.ops.recurrent.common import release, scratch
from rnnkit.compiled import COMPILED_DTYPES
from rnnkit.ops.recurrent.kernel_math import jit


@jit
def _swap_outer_blocks(src, dst):
    """``dst[k, t, i] = src[i, t, k]``, in 16 x 16 tiles that stay in the L1 cache."""
    n_i, T, K = src.shape
    for t in range(T):
        for i0 in range(0, n_i, 16):
            i1 = min(i0 + 16, n_i)
            for k0 in range(0, K, 16):
                for k in range(k0, min(k0 + 16, K)):
                    row = dst[k, t]
                    for i in range(i0, i1):
                        row[i] = src[i, t, k]


def swap_outer(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Copy ``src (I, T, K)`` into ``dst (K, T, I)`` with the outer axes swapped (batch-major <-> feature-major),
    casting to ``dst``'s dtype.

    NumPy's copy walks ``src`` with a stride of ``T*K`` items; from ``K = 128`` (often a power of two) those reads
    fall into few cache sets and the tiled compiled copy is 2-2.5x faster (measured for (64, 28, 128): 480 vs
    250 µs; (64, 28, 256): 1.5 vs 0.8 ms); for narrower ``K`` NumPy's copy is the faster one ((64, 28, 28): 30 vs
    55 µs)."""
    if src.shape[2] >= 128 and src.dtype.kind == "f" and src.dtype.itemsize >= 4:  # float16 is not compiled
        _swap_outer_blocks(src, dst)
    else:
        np.copyto(dst, src.transpose(2, 1, 0))  # (I, T, K) -> (K, T, I)
    return dst


def feature_major(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``(B, T, D)`` -> contiguous ``(D, T, B)`` in ``dtype``, in a :func:`scratch` array (the caller releases it)."""
    B, T, D = x.shape
    return swap_outer(x, scratch((D, T, B), dtype))


def state_history(h0: np.ndarray, T: int) -> np.ndarray:
    """A new ``hs (H, T+1, B)`` with ``hs[:, 0] = h0^T`` (``h0 (B, H)``); not scratch: the outputs view it."""
    B, H = h0.shape
    hs = common.aligned_empty((H, T + 1, B), h0.dtype)
    hs[:, 0] = h0.T  # (B, H) -> (H, B)
    return hs


def outputs_view(hs: np.ndarray, mask_rows: np.ndarray | None = None) -> np.ndarray:
    """The ``(B, T, H)`` outputs from ``hs (H, T+1, B)``: a read-only view (many models use only the final state;
    read-only because ``hs`` doubles as the backward cache), or, with ``mask_rows (T, B)``, a new array that is 0
    at masked steps."""
    steps = hs[:, 1:]  # (H, T, B)
    if mask_rows is not None:
        return (steps * mask_rows).transpose(2, 1, 0)  # (H, T, B) -> (B, T, H)
    view = steps.transpose(2, 1, 0)  # (B, T, H)
    view.flags.writeable = False
    return view


def last_state(states: np.ndarray) -> np.ndarray:
    """The final ``(B, H)`` state as a new array, from a feature-major history ``(H, T+1, B)``."""
    return states[:, -1].T.copy()  # (H, B) -> (B, H); a copy even where the transpose is contiguous (B = 1)


def stacked_inputs(x: np.ndarray, h0: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A new ``xh (D+1+H, T+1, B)`` from ``x (B, T, D)`` and ``h0 (B, H)``: ``xh[:D, t] = x_t^T`` (0 in the unused
    column ``T``), ``xh[D] = 1`` and ``xh[D+1:, 0] = h0^T``; the op writes ``h_t`` into ``xh[D+1:, t+1]``. Not
    scratch: the outputs view it."""
    B, T, D = x.shape
    H = h0.shape[1]
    xh = common.aligned_empty((D + 1 + H, T + 1, B), dtype)
    if B <= SMALL_FILL and x.dtype in COMPILED_DTYPES and xh.dtype in COMPILED_DTYPES:
        _fill_stacked_inputs(x, h0, xh)  # one compiled call instead of four NumPy ones (2 us less at batch 1)
        return xh
    swap_outer(x, xh[:D, :T])  # (B, T, D) -> (D, T, B)
    xh[:D, T] = 0
    xh[D] = 1
    xh[D + 1 :, 0] = h0.T  # (B, H) -> (H, B)
    return xh


SMALL_FILL = 4  # up to this batch the stacked inputs are filled by one compiled call


@jit
def _fill_stacked_inputs(x, h0, xh):
    """:func:`stacked_inputs`'s filling, for a small batch: ``xh[:D, t, b] = x[b, t]``, 0 in column ``T``,
    ``xh[D] = 1``, ``xh[D+1:, 0, b] = h0[b]``."""
    B, T, D = x.shape
    for b in range(B):
        for t in range(T):
            for d in range(D):
                xh[d, t, b] = x[b, t, d]
        for d in range(D):
            xh[d, T, b] = 0
        for t in range(T + 1):
            xh[D, t, b] = 1
        for j in range(h0.shape[1]):
            xh[D + 1 + j, 0, b] = h0[b, j]


def states(xh: np.ndarray, D: int) -> np.ndarray:
    """The state rows ``hs (H, T+1, B)`` of a stacked ``xh``: a C-contiguous view."""
    return xh[D + 1 :]


def stacked_rows(kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray | None,
                 pad: int = 0) -> np.ndarray:
    """``[W; b; U] (D+1+H, G*H)`` from ``kernel (D, G*H)``, ``bias (G*H,)`` (None: zeros) and
    ``recurrent_kernel (H, G*H)``, as a view of rows ``pad`` items longer."""
    D, GH = kernel.shape
    rows = np.empty((D + 1 + recurrent_kernel.shape[0], GH + pad), kernel.dtype)
    rows[:D, :GH] = kernel
    rows[D, :GH] = 0 if bias is None else bias
    rows[D + 1 :, :GH] = recurrent_kernel
    return rows[:, :GH]


def stacked_weights(kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """``[W^T | b | U^T] (G*H, D+1+H)``, contiguous: the step product's left factor for a stacked ``xh``."""
    # Transposed from rows padded by 16 items: reading columns of rows G*H long (a power of two, often) maps every
    # read to one cache set and runs several times slower (see common.transpose_copy; measured 170 -> 40 µs for
    # LSTM 128).
    return np.ascontiguousarray(stacked_rows(kernel, recurrent_kernel, bias, pad=16).T)  # -> (G*H, D+1+H)


def step_weights(kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray | None, untransposed: bool):
    """The stacked weights in the layout the forward loop reads: :func:`stacked_rows` for the batch-of-one product
    of small_batch.py (``untransposed``, decided in paths.py), else :func:`stacked_weights`."""
    if untransposed:
        return stacked_rows(kernel, recurrent_kernel, bias)
    return stacked_weights(kernel, recurrent_kernel, bias)


def stacked_weight_grads(dz: np.ndarray, xh: np.ndarray, D: int, need: dict, mult: np.ndarray | None = None,
                         input_dropout: bool = False) -> dict:
    """``kernel (D, G*H)``, ``bias (G*H,)`` and ``recurrent_kernel (H, G*H)`` gradients from ``dz (G*H, T, B)`` and
    the stacked ``xh``, in one product ``xh[:, :T] (D+1+H, T*B) @ dz^T``; only those named True in ``need``. With
    dropout multipliers ``mult (G, D+1+H, B)`` each gate's block from its masked ``xh`` (gate_dropout.py; the
    input rows are masked only with ``input_dropout``)."""
    GH, T, B = dz.shape
    dz2d = dz.reshape(GH, T * B)  # (G*H, T*B)
    grads = {}
    if need.get("kernel") or need.get("recurrent_kernel"):
        if mult is not None:
            stacked = gate_dropout.gate_weight_grads(xh, T, dz, mult, 0 if input_dropout else D + 1)  # (D+1+H, G*H)
        else:
            inputs = xh[:, :T].reshape(-1, T * B)  # (D+1+H, T, B) -> (D+1+H, T*B), a view
            stacked = np.matmul(inputs, dz2d.T)  # (D+1+H, T*B) @ (T*B, G*H)
        grads.update(kernel=stacked[:D], bias=stacked[D], recurrent_kernel=stacked[D + 1 :])
    elif need.get("bias"):
        grads["bias"] = np.matmul(dz2d, np.ones(T * B, dz.dtype))  # (G*H,)
    return {name: grad for name, grad in grads.items() if need.get(name)}


def project_inputs(x_fm: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """All steps' input projections in one product: scratch ``(G*H, T, B) = W^T @ X^T`` (no bias)."""
    D, T, B = x_fm.shape
    out = scratch((kernel.shape[1], T, B), x_fm.dtype)
    np.matmul(kernel.T, x_fm.reshape(D, T * B), out=out.reshape(-1, T * B))  # (G*H, D) @ (D, T*B)
    return out


def gradient_history(g: np.ndarray | None, mask_rows: np.ndarray | None, dtype: np.dtype) -> np.ndarray | None:
    """The gradient of the ``(B, T, H)`` outputs as scratch ``(H, T, B)``, zero at masked steps (whose output is the
    constant 0); None when there is none (only the final state is used)."""
    if g is None:
        return None
    g_fm = feature_major(g, dtype)  # (H, T, B)
    if mask_rows is not None:
        g_fm *= mask_rows
    return g_fm


def writable_columns(state: np.ndarray) -> np.ndarray:
    """A state gradient ``(B, H)`` as a new, cache-line-aligned ``(H, B)`` array that the loops write into."""
    out = common.aligned_empty(state.shape[::-1], state.dtype)  # (H, B)
    np.copyto(out, state.T)  # (B, H) -> (H, B)
    return out


def tape_backward(run_backward, valid: np.ndarray | None, dtype: np.dtype, parents: tuple, names: tuple):
    """The backward function a sequence op puts on the tape: it receives ``(g_outputs (B, T, H), g_state, ...)``
    (None where an output received no gradient), turns the outputs' gradient feature-major
    (:func:`gradient_history`) and the state gradients into ``dtype``, calls ``run_backward(d_out, *state_grads,
    need)`` (``need``: which of ``names`` want a gradient) and matches the results to ``parents``."""
    def backward(grads):
        g_out, *g_states = grads
        d_out = gradient_history(g_out, valid, dtype)  # (H, T, B) or None
        result = run_backward(d_out, *_state_grads(g_states, parents, dtype), common.needs_by_name(names, parents))
        release(d_out)
        return tuple(common.grad_for(p, g) for p, g in zip(parents, result))

    return backward


def _state_grads(g_states, parents: tuple, dtype: np.dtype) -> list:
    """The final states' gradients in ``dtype``, zeros ``(B, H)`` for a state that received none (the ops' outputs
    are recorded without zero fill, see common.finish); ``parents`` start ``(x, kernel, recurrent_kernel, ...)``."""
    shape = (parents[0].shape[0], parents[2].shape[0])  # (B, H)
    return [np.zeros(shape, dtype) if g is None else common.cast(g, dtype) for g in g_states]


def cell_tape_backward(run_backward, dtype: np.dtype, parents: tuple, names: tuple):
    """:func:`tape_backward` for a one-step cell op: it receives the new states' gradients (one array, or a sequence
    for the LSTM's ``(h, c)``), there is no outputs' gradient, and the input's gradient ``(B, 1, D)`` is returned
    as ``(B, D)``."""
    def backward(grads):
        g_states = grads if isinstance(grads, (tuple, list)) else (grads,)
        result = list(run_backward(None, *_state_grads(g_states, parents, dtype), common.needs_by_name(names, parents)))
        result[0] = None if result[0] is None else result[0][:, 0]  # (B, 1, D) -> (B, D)
        return tuple(common.grad_for(p, g) for p, g in zip(parents, result))

    return backward


def weight_grads(dz: np.ndarray, x_fm: np.ndarray, hs: np.ndarray | None, need: dict, dm=None, rm=None) -> dict:
    """From the pre-activation gradients ``dz (G*H, T, B)``, one product each: ``kernel (D, G*H)`` from the inputs
    ``x_fm (D, T, B)``, ``recurrent_kernel (H, G*H)`` from the states ``hs (H, T+1, B)`` before each step, and
    ``bias (G*H,)``; only those named True in ``need``. With dropout masks ``dm (G, D, B)`` / ``rm (G, H, B)``
    each gate's block from its masked inputs / states (gate_dropout.py)."""
    GH, T, B = dz.shape
    dz2d = dz.reshape(GH, T * B)  # (G*H, T*B)
    grads = {}
    if need.get("kernel"):
        if dm is not None:
            grads["kernel"] = gate_dropout.gate_weight_grads(x_fm, T, dz, dm)
        else:
            grads["kernel"] = np.matmul(x_fm.reshape(-1, T * B), dz2d.T)  # (D, T*B) @ (T*B, G*H)
    if need.get("recurrent_kernel"):
        if rm is not None:
            grads["recurrent_kernel"] = gate_dropout.gate_weight_grads(hs, T, dz, rm)
        else:
            h_prev = hs[:, :T].reshape(-1, T * B)  # (H, T, B) -> (H, T*B), a view (rows of T*B contiguous items)
            grads["recurrent_kernel"] = np.matmul(h_prev, dz2d.T)  # (H, T*B) @ (T*B, G*H)
    if need.get("bias"):
        grads["bias"] = np.matmul(dz2d, np.ones(T * B, dz.dtype))  # (G*H,)
    return grads


def input_grad(dz: np.ndarray, kernel: np.ndarray, dm: np.ndarray | None = None) -> np.ndarray:
    """``dx (B, T, D)`` from ``dz (G*H, T, B)`` in one product: ``W (D, G*H) @ dz``; with input dropout masks
    ``dm (G, D, B)``, ``Σ_g dm_g ⊙ (W_g dz_g)`` (gate_dropout.py)."""
    if dm is not None:
        return gate_dropout.gate_input_grad(dz, kernel, dm)
    GH, T, B = dz.shape
    dx_fm = scratch((kernel.shape[0], T, B), dz.dtype)  # (D, T, B)
    np.matmul(kernel, dz.reshape(GH, T * B), out=dx_fm.reshape(-1, T * B))  # (D, G*H) @ (G*H, T*B)
    dx = swap_outer(dx_fm, np.empty((B, T, kernel.shape[0]), dz.dtype))  # (D, T, B) -> (B, T, D)
    release(dx_fm)
    return dx
