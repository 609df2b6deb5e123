"""The LSTM over a whole sequence, with hand-derived backpropagation through time.

Keras layout, gate order i, f, c, o in one fused weight (``W (D, 4H)``, ``U (H, 4H)``, ``b (4H,)``):

    z_t = x_t W + h_{t-1} U + b = [z_i, z_f, z_c, z_o]
    i = σ(z_i)   f = σ(z_f)   g = act(z_c)   o = σ(z_o)        σ = recurrent_activation, act = activation
    c_t = f * c_{t-1} + i * g
    h_t = o * act(c_t)

With a mask, a masked step keeps both states and outputs 0, as Keras does.

Backward, per column, as :func:`_lstm_grads` writes it (``dh``, ``dc``: the gradients reaching ``h_t`` and
``c_t``, the output's gradient included; ``c_act = act(c_t)``; derivatives written with the cached outputs, see
kernel_math):

    dc_new = dc + dh * o * act'(c_act)            (gradient of the new cell value)
    dz_i = dc_new * g * σ'(i)        dz_f = dc_new * c_prev * σ'(f)
    dz_c = dc_new * i * act'(g)      dz_o = dh * c_act * σ'(o)
    dc_{t-1} = dc_new * f            dh_{t-1} = dz_t U^T  (+ the output gradient of step t-1)

Each step is one product, ``[W^T | b | U^T] @ [x_t; 1; h_{t-1}]`` in the stacked layout of feature_major.py, and
one compiled kernel for all the gate arithmetic (:func:`lstm_step`); a step backward is one kernel
(:func:`lstm_step_backward`) and one ``dh += U dz_t`` product. The loops are written once (:func:`forward_loop`,
:func:`backward_loop`) and run compiled with NumPy's BLAS routine, compiled with their own product for a batch of
one, or as Python with ``np.matmul``: paths.py decides; docs/kernels.md has the whole design.

>>> import numpy as np
>>> from rnnkit import Tensor
>>> from rnnkit.ops.recurrent import lstm
>>> rng = np.random.default_rng(0)
>>> x = Tensor(rng.standard_normal((2, 5, 3)))             # (B, T, D)
>>> W = Tensor(rng.standard_normal((3, 16)) * 0.3, requires_grad=True)
>>> U = Tensor(rng.standard_normal((4, 16)) * 0.3, requires_grad=True)
>>> b, h0, c0 = Tensor(np.zeros(16)), Tensor(np.zeros((2, 4))), Tensor(np.zeros((2, 4)))
>>> outputs, h, c = lstm(x, W, U, b, h0, c0)
>>> outputs.shape, h.shape, c.shape
((2, 5, 4), (2, 4), (2, 4))
>>> bool(np.allclose(outputs.data[:, -1], h.data))
True
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnkit.ops.recurrent import common, gate_dropout, paths, recording
from rnnkit.ops.recurrent import feature_major as fm
from rnnkit.ops.recurrent.gate_activations import get_activation
from rnnkit.compiled import jit, jit_inline
from rnnkit.ops.recurrent.kernel_math import (SIGMOID, TANH, activate_rows, add_output_grad, derivative,
                                              record_state_grad)
from rnnkit.ops.recurrent.gate_dropout import gate_product, state_grad_product

OP = "lstm"


# ------------------------------------------------------------------------------------- the arrays
# The arrays the large products before and after the loop read are (features, time, batch) (see
# feature_major.py); the arrays only the step kernels read are time-major, (time, features, batch), so that a
# step's block is one contiguous run. A kernel works on the columns b0 <= b < b1 of step t (a shard of the
# batch, or all of it). S is T, or 1 when no backward pass will come (every step then reuses slot 0).
class Forward(NamedTuple):
    """The arrays of the forward pass (also the backward pass's cache)."""

    xh: np.ndarray  # (D+1+H, T+1, B): [x_t; 1; h_{t-1}] at t; the loop writes h_t into the state rows at t+1
    hs: np.ndarray  # (H, T+1, B): the state rows of xh (a view): h_{t-1} at t
    weights: np.ndarray  # (4H, D+1+H) = [W^T | b | U^T]; on the batch-of-one path (D+1+H, 4H) = [W; b; U]
    gates: np.ndarray  # (S, 4H, B): z_t, then the activated [i; f; g; o], in slot k
    cs: np.ndarray  # (T+1, H, B): cell states, c_0 at 0
    tc: np.ndarray  # (S, H, B): act(c_t) in slot k
    valid: np.ndarray  # (T, B): 0 where a step is masked; (0, 0): nothing masked
    acc: np.ndarray  # (4H,): the batch-of-one product's accumulator
    mult: np.ndarray | None  # (4, D+1+H, B): dropout multipliers per gate over xh (gate_dropout.py); None: none
    masked: np.ndarray | None  # (D+1+H, B): a gate's masked copy of xh[:, t]; None without dropout


class Backward(NamedTuple):
    """The arrays of the backward pass besides the forward cache."""

    u: np.ndarray  # (H, 4H): U, the left factor of dh_{t-1} += U dz_t
    d_out: np.ndarray  # (H, T, B): the outputs' gradient; (0, 0, 0): none
    dh: np.ndarray  # (H, B): gradient reaching h_t (see lstm_step_backward)
    dc: np.ndarray  # (H, B): gradient reaching c_t
    dz: np.ndarray  # (4H, T, B): the pre-activations' gradients [dz_i; dz_f; dz_c; dz_o]
    rmask: np.ndarray | None  # (4, H, B): the state rows of fw.mult; None without dropout
    part: np.ndarray | None  # (H, B): one gate's U_g dz_g; None without dropout
    dh_steps: np.ndarray  # (H, T, B): the total gradient reaching h_t, kept at each t; (0, 0, 0): not kept
    dc_steps: np.ndarray  # (H, T, B): the total gradient reaching c_t, likewise (see recording.py)


# ------------------------------------------------------------------------------------- one time step
@jit
def lstm_step(fw, t, k, b0, b1, act, rec_act):
    """Step ``t`` forward on columns ``[b0, b1)``: ``fw.gates[k]`` holds ``z_t`` on entry and ``[i; f; g; o]``
    on exit; writes ``c_t``, ``c_act = act(c_t)`` (slot ``k`` of ``tc``) and ``h_t``. A masked column keeps
    ``h_{t-1}`` and ``c_{t-1}``. ``act``, ``rec_act``: activation codes (kernel_math).

    A few simple passes, each over few arrays, each array through a row of its own: one fused pass over every
    array would not vectorise (the compiler cannot rule out that the arrays overlap; measured 3.5x slower)."""
    H = fw.cs.shape[1]
    z, c_prev, c_new, c_acts, hs = fw.gates[k], fw.cs[t], fw.cs[t + 1], fw.tc[k], fw.hs  # (4H, B), (H, B) x3
    activate_rows(rec_act, z, 0, 2 * H, b0, b1)  # i, f
    activate_rows(act, z, 2 * H, 3 * H, b0, b1)  # g
    activate_rows(rec_act, z, 3 * H, 4 * H, b0, b1)  # o
    B = c_prev.shape[1]
    if b0 == 0 and b1 == B:  # the whole batch: each block is one contiguous run, (H, B) -> (1, H*B)
        n = H * B
        _cell_update(z[:H].reshape(1, n), z[H : 2 * H].reshape(1, n), z[2 * H : 3 * H].reshape(1, n),
                     c_prev.reshape(1, n), c_new.reshape(1, n), c_acts.reshape(1, n), 0, n)
    else:
        _cell_update(z[:H], z[H : 2 * H], z[2 * H : 3 * H], c_prev, c_new, c_acts, b0, b1)
    activate_rows(act, c_acts, 0, H, b0, b1)  # c_act = act(c_t)
    os, c_flat, n = z.reshape(-1), c_acts.reshape(-1), np.uint64(3 * H * B)  # flat runs, as in _lstm_grads
    for j in range(H):
        h_new, row = hs[j, t + 1], np.uint64(j * B)  # (B,) row of the states
        for b in range(np.uint64(b0), np.uint64(b1)):
            h_new[b] = os[n + row + b] * c_flat[row + b]
    if fw.valid.shape[0] > 0:
        for b in range(b0, b1):
            if fw.valid[t, b] == 0:
                for j in range(H):
                    c_new[j, b] = c_prev[j, b]
                    hs[j, t + 1, b] = hs[j, t, b]


@jit
def _cell_update(i, f, g, c_old, c_new, c_act, b0, b1):
    """``c_t = f * c_{t-1} + i * g`` into ``c_new`` and ``c_act`` (activated later) on columns ``[b0, b1)`` of
    blocks of equal shape ``(R, N)``."""
    for j in range(i.shape[0]):
        i_row, f_row, g_row, c_old_row, c_new_row, c_act_row = i[j], f[j], g[j], c_old[j], c_new[j], c_act[j]
        for b in range(np.uint64(b0), np.uint64(b1)):  # unsigned: see kernel_math.activate_rows
            c = f_row[b] * c_old_row[b] + i_row[b] * g_row[b]
            c_new_row[b] = c
            c_act_row[b] = c


@jit
def lstm_step_backward(fw, bw, t, b0, b1, act, rec_act):
    """Step ``t`` backward on columns ``[b0, b1)``; the product ``dh += U dz_t`` is left to the loop.

    On entry ``bw.dh`` holds the gradient reaching ``h_t`` from step ``t + 1`` and ``bw.dc`` the one reaching
    ``c_t``; the output's gradient ``bw.d_out[:, t]`` is added here. Writes ``bw.dz[:, t]``; leaves in ``bw.dc``
    the gradient reaching ``c_{t-1}``. With a mask it leaves in ``bw.dh`` the part of ``h_{t-1}``'s gradient that
    does not pass through the product (0, or in a masked column, where ``dz`` is 0, the whole incoming gradient)
    and the loop adds ``U dz_t`` to it; without a mask that part is 0 everywhere, so ``bw.dh`` is left as it is
    and the loop's product replaces it (beta 0: no pass to zero it, and BLAS does not read it)."""
    add_output_grad(bw.dh, bw.d_out, t, b0, b1)
    record_state_grad(bw.dh_steps, bw.dh, t, b0, b1)
    _record_cell_grad(fw, bw, t, b0, b1, act)
    masked = fw.valid.shape[0] > 0
    if act == TANH and rec_act == SIGMOID:  # the defaults: derivatives inline, the loops vectorise
        if masked:
            _lstm_grads(fw, bw, t, b0, b1, TANH, SIGMOID, True)
        else:
            _lstm_grads(fw, bw, t, b0, b1, TANH, SIGMOID, False)
    else:
        _lstm_grads(fw, bw, t, b0, b1, act, rec_act, masked)


@jit_inline
def cell_grad(dc, dh, o, c_act, act):
    """``dc_new``: the total gradient reaching ``c_t``, through ``c_{t+1}`` (``dc``) and through
    ``h_t = o * act(c_t)``."""
    return dc + dh * o * derivative(act, c_act)


@jit_inline
def _lstm_grads(fw, bw, t, b0, b1, act, rec_act, masked):
    """The backward equations of the module docstring, once, with its names; inlined into
    :func:`lstm_step_backward` per activation codes and mask flag (constants there). A masked column's results
    are selected, not branched to, so that the loop vectorises. The step's blocks (gates, c_t, act(c_t), dh, dc)
    are read as flat runs from one base each, ``e = j * B + b`` (measured 14-45% faster than a row view per
    array: the compiler checks fewer pairs of arrays for overlap); the dz rows are rows of (4H, T, B)."""
    H, B = fw.cs.shape[1], fw.cs.shape[2]
    n = np.uint64(H * B)
    zero = bw.dh.dtype.type(0)
    z = fw.gates[t].reshape(-1)  # (4H*B,): blocks i, f, g, o
    c_acts, c_prevs = fw.tc[t].reshape(-1), fw.cs[t].reshape(-1)  # (H*B,)
    dhs, dcs = bw.dh.reshape(-1), bw.dc.reshape(-1)  # (H*B,)
    for j in range(H):
        dz_i_row, dz_f_row, dz_c_row, dz_o_row = bw.dz[j, t], bw.dz[H + j, t], bw.dz[2 * H + j, t], bw.dz[3 * H + j, t]
        valid_row = fw.valid[t] if masked else dz_i_row  # (B,); unread without a mask
        row = np.uint64(j * B)
        for b in range(np.uint64(b0), np.uint64(b1)):  # unsigned: see kernel_math.activate_rows
            e = row + b
            dh, dc, c_act = dhs[e], dcs[e], c_acts[e]
            i, f, g, o = z[e], z[n + e], z[2 * n + e], z[3 * n + e]
            dc_new = cell_grad(dc, dh, o, c_act, act)
            dz_i = dc_new * g * derivative(rec_act, i)
            dz_f = dc_new * c_prevs[e] * derivative(rec_act, f)
            dz_c = dc_new * i * derivative(act, g)
            dz_o = dh * c_act * derivative(rec_act, o)
            if masked:  # nothing flowed through the gates of a masked column: dz 0, dh and dc carried
                keep = valid_row[b] == 0
                dz_i_row[b], dz_f_row[b] = (zero if keep else dz_i), (zero if keep else dz_f)
                dz_c_row[b], dz_o_row[b] = (zero if keep else dz_c), (zero if keep else dz_o)
                dcs[e] = dc if keep else dc_new * f
                dhs[e] = dh if keep else zero
            else:
                dz_i_row[b], dz_f_row[b], dz_c_row[b], dz_o_row[b] = dz_i, dz_f, dz_c, dz_o
                dcs[e] = dc_new * f  # dh is left as it is: the loop's product replaces it (beta 0)


@jit
def _record_cell_grad(fw, bw, t, b0, b1, act):
    """When ``bw.dc_steps`` is not empty: the total gradient reaching ``c_t`` into ``bw.dc_steps[:, t]``
    (``dc_new``, or in a masked column, where ``c_t`` only carries ``c_{t-1}``, the incoming ``dc``); read before
    :func:`_lstm_grads` turns ``bw.dc`` into ``c_{t-1}``'s gradient."""
    if bw.dc_steps.shape[0] == 0:
        return
    H, masked = fw.cs.shape[1], fw.valid.shape[0] > 0
    for j in range(H):
        dc, dh, o, c_act, out = bw.dc[j], bw.dh[j], fw.gates[t, 3 * H + j], fw.tc[t, j], bw.dc_steps[j, t]
        for b in range(b0, b1):
            out[b] = dc[b] if masked and fw.valid[t, b] == 0 else cell_grad(dc[b], dh[b], o[b], c_act[b], act)


# ---------------------------------------------------------------------------------- whole sequence
def forward_loop(fw, act, rec_act, path, gemm, b0, b1):
    """All steps forward on columns ``[b0, b1)``: ``z_t = [W^T | b | U^T] [x_t; 1; h_{t-1}]``, then
    :func:`lstm_step`. Python (the NumPy path) or compiled (:data:`_forward_compiled`); see paths.py."""
    slots = fw.gates.shape[0]
    for t in range(fw.xh.shape[1] - 1):
        k = t if slots > 1 else 0
        # (4H, D+1+H) @ (D+1+H, b1-b0); with dropout masks one product per gate (gate_dropout.py)
        gate_product(path, gemm, fw.weights, fw.xh, t, fw.gates[k], fw.mult, fw.masked, 4, b0, b1, fw.acc)
        lstm_step(fw, t, k, b0, b1, act, rec_act)


def backward_loop(fw, bw, act, rec_act, to_states, path, gemm, b0, b1):
    """All steps backward on columns ``[b0, b1)``: :func:`lstm_step_backward`, then ``dh = U dz_t`` (``dh +=``
    with a mask; skipped at ``t = 0`` unless ``to_states``: the gradients of ``h0``, ``c0`` are wanted)."""
    beta = 1.0 if fw.valid.shape[0] > 0 else 0.0  # see lstm_step_backward
    for t in range(fw.xh.shape[1] - 2, -1, -1):
        lstm_step_backward(fw, bw, t, b0, b1, act, rec_act)
        if t > 0 or to_states:
            # (H, 4H) @ (4H, b1-b0); with dropout masks Σ_g rm_g ⊙ (U_g dz_g) (gate_dropout.py)
            state_grad_product(path, gemm, bw.u, bw.dz[:, t], bw.dh, beta, bw.rmask, bw.part, 4, b0, b1, fw.acc)


_forward_compiled, _backward_compiled = jit(forward_loop), jit(backward_loop)


def _forward(x, kernel, recurrent_kernel, bias, h0, c0, valid, act, rec_act, keep=True, mult=None) -> Forward:
    """Run all steps on ``x (B, T, D)`` from Keras-layout weights; returns the arrays (the backward cache). With
    ``keep=False`` (no backward pass will come) every step reuses one slot of ``gates`` and ``tc``. ``mult``:
    the dropout multipliers ``(4, D+1+H, B)`` (gate_dropout.py) or None."""
    B, T, D = x.shape
    H, dtype = h0.shape[1], kernel.dtype
    path = paths.choose(B, dtype, small=mult is None)  # with masks: one product per gate, never batch-of-one
    xh = fm.stacked_inputs(x, h0, dtype)  # (D+1+H, T+1, B)
    slots = T if keep else 1
    cs = common.scratch((T + 1, H, B), dtype)
    cs[0] = c0.T  # (B, H) -> (H, B)
    fw = Forward(xh, fm.states(xh, D), fm.step_weights(kernel, recurrent_kernel, bias, path.path == paths.SMALL),
                common.scratch((slots, 4 * H, B), dtype), cs, common.scratch((slots, H, B), dtype),
                common.or_empty(valid, 2, dtype), np.empty(4 * H, dtype), mult,
                None if mult is None else common.aligned_empty((D + 1 + H, B), dtype))
    paths.run(path, forward_loop, _forward_compiled, B, T * fw.weights.size, fw, act, rec_act)
    return fw


def _backward(fw, kernel, recurrent_kernel, act, rec_act, d_out, dh_last, dc_last, need, input_dropout=False,
              record=None):
    """Gradients ``{name: array}`` for the inputs named in ``need`` (``x``, ``kernel``, ``recurrent_kernel``,
    ``bias``, ``h0``, ``c0``) from ``d_out (H, T, B)`` (or None) and the final-state gradients ``(B, H)``;
    ``input_dropout``: ``fw.mult`` masks the input rows; with a ``record`` (recording.py) the per-step state
    gradients and ``x``'s gradient go into it."""
    H4, T, B = fw.gates.shape[1], fw.xh.shape[1] - 1, fw.xh.shape[2]
    H, dtype = H4 // 4, fw.gates.dtype
    D = fw.xh.shape[0] - H - 1
    dropped = fw.mult is not None
    need = need if record is None else dict(need, x=True)
    bw = Backward(np.ascontiguousarray(recurrent_kernel), common.or_empty(d_out, 3, dtype),
                 fm.writable_columns(dh_last), fm.writable_columns(dc_last),  # (B, H) -> (H, B)
                 common.scratch((H4, T, B), dtype),
                 np.ascontiguousarray(fw.mult[:, D + 1 :]) if dropped else None,
                 common.aligned_empty((H, B), dtype) if dropped else None,
                 *recording.step_arrays(record, (H, T, B), dtype, 2))
    path = paths.choose(B, dtype, small=False)
    paths.run(path, backward_loop, _backward_compiled, B, T * bw.u.size, fw, bw, act, rec_act, need["h0"] or need["c0"])
    grads = fm.stacked_weight_grads(bw.dz, fw.xh, D, need, fw.mult, input_dropout)
    if need["x"]:
        grads["x"] = fm.input_grad(bw.dz, kernel, fw.mult[:, :D] if input_dropout else None)
    grads["h0"], grads["c0"] = bw.dh.T, bw.dc.T  # (H, B) -> (B, H)
    common.release(bw.dz)
    if record is not None:
        record.keep(bw.dh_steps, bw.dc_steps, grads["x"])
    return grads


def _run(op, x, kernel, recurrent_kernel, bias, h0, c0, valid, act, rec_act, keep=True, masks=(None, None),
         record=None):
    """Forward on ``x (B, T, D)`` from Keras-layout weights; returns the cache (a dict naming the arrays for the
    op's outputs) and ``backward(d_out, dh_last, dc_last, need)`` giving the gradients in :data:`GRAD_NAMES` order
    (once: it frees the cache). ``keep=False``: no backward pass will come (see :func:`_forward`). ``masks``:
    the feature-major dropout masks ``(dm (4, D, B), rm (4, H, B))``, either None (gate_dropout.py); ``record``:
    see :func:`_backward`."""
    codes = (act.code, rec_act.code)
    dm, rm = masks
    mult = None
    if dm is not None or rm is not None:
        (B, _, D), H = x.shape, h0.shape[1]
        mult = gate_dropout.stacked_multipliers(dm, rm, 4, D, H, B, kernel.dtype)  # (4, D+1+H, B)
    fw = _forward(x, kernel, recurrent_kernel, bias, h0, c0, valid, *codes, keep, mult)
    cache = {"hs": fw.hs, "cs": fw.cs}
    common.own(cache, fw.gates, fw.cs, fw.tc)

    def backward(d_out, dh_last, dc_last, need):
        common.check_cache(cache, op)
        grads = _backward(fw, kernel, recurrent_kernel, *codes, d_out, dh_last, dc_last, need, dm is not None,
                          record)
        common.free_cache(cache)
        return tuple(grads.get(name) for name in GRAD_NAMES)

    return cache, backward


GRAD_NAMES = ("x", "kernel", "recurrent_kernel", "bias", "h0", "c0")  # the order of ``parents`` in both ops


def _checked(op, x_shape, kernel, recurrent_kernel, bias, h0, c0, activation, recurrent_activation):
    """Checks, casts and the forward pass shared by :func:`lstm` and :func:`lstm_cell`."""
    B, T, _, H = common.check_weights(op, x_shape, kernel, recurrent_kernel, gates=4)
    common.check_bias(op, bias, (4 * H,))
    common.check_state(op, "h0", h0, B, H)
    common.check_state(op, "c0", c0, B, H)
    act, rec_act = get_activation(activation), get_activation(recurrent_activation)
    return B, T, H, act, rec_act


def lstm(x, kernel, recurrent_kernel, bias, h0, c0, mask=None, activation="tanh", recurrent_activation="sigmoid",
         input_masks=None, recurrent_masks=None):
    """Run an LSTM over a whole sequence as one op.

    Args:
        x: ``(B, T, D)`` inputs, batch-major.
        kernel: ``(D, 4H)``; recurrent_kernel: ``(H, 4H)``; bias: ``(4H,)`` or ``None``; gate order i, f, c, o.
        h0, c0: ``(B, H)`` initial states (may require grad) or ``None`` for zeros.
        mask: ``None`` or a ``(B, T)`` boolean array; ``False`` steps carry both states and output 0.
        activation: for the candidate ``g`` and the cell output (default ``"tanh"``).
        recurrent_activation: for the gates i, f, o (default ``"sigmoid"``).
        input_masks, recurrent_masks: ``None`` or dropout masks ``(4, B, D)`` and ``(4, B, H)``, one per gate
            i, f, c, o (0 dropped, ``1 / (1 - rate)`` kept): gate g reads ``x_t ⊙ input_masks[g]`` and
            ``h_{t-1} ⊙ recurrent_masks[g]`` at every step (Keras' ``recurrent_dropout``; see gate_dropout.py).

    Returns:
        ``(outputs (B, T, H), h_last (B, H), c_last (B, H))``.
    """
    parents = common.as_inputs(OP, x=x, kernel=kernel, recurrent_kernel=recurrent_kernel, bias=bias, h0=h0, c0=c0)
    x, kernel, recurrent_kernel, bias, h0, c0 = parents
    B, T, H, act, rec_act = _checked(OP, x.shape, kernel, recurrent_kernel, bias, h0, c0, activation,
                                 recurrent_activation)
    dtype = common.compute_dtype(*parents)
    valid = common.mask_rows(mask, B, T, dtype)  # (T, B) or None
    W, U = common.cast(kernel.data, dtype), common.cast(recurrent_kernel.data, dtype)
    b = None if bias is None else common.cast(bias.data, dtype)
    keep = common.will_backward(parents)
    record = recording.start(OP, (B, T, x.shape[2], H)) if keep else None
    masks = gate_dropout.feature_major_pair(OP, input_masks, recurrent_masks, 4, B, x.shape[2], H, dtype)
    cache, run_backward = _run(OP, x.data, W, U, b, common.initial_state(h0, B, H, dtype),
                               common.initial_state(c0, B, H, dtype), valid, act, rec_act, keep,
                               masks=masks, record=record)

    backward = fm.tape_backward(run_backward, valid, dtype, parents, GRAD_NAMES)
    hs, cs = cache["hs"], cache["cs"]
    datas = (fm.outputs_view(hs, valid), fm.last_state(hs), cs[T].T.copy())  # (B, T, H), (B, H) x2
    outs = common.finish(OP, cache, datas, parents, backward)
    recording.attach_outputs(record, outs[0])
    return outs



def lstm_cell(x_t, h, c, kernel, recurrent_kernel, bias, activation="tanh", recurrent_activation="sigmoid",
              input_masks=None, recurrent_masks=None):
    """One step of :func:`lstm` (same arithmetic, the same optional dropout masks): returns
    ``(h_new (B, H), c_new (B, H))``.

    >>> import numpy as np
    >>> from rnnkit.ops.recurrent import lstm_cell
    >>> h, c = lstm_cell(np.ones((1, 2)), np.zeros((1, 1)), np.ones((1, 1)), np.ones((2, 4)), np.zeros((1, 4)), None)
    >>> round(float(c.data[0, 0]), 4)                  # f * c + i * g = σ(2) * 1 + σ(2) * tanh(2)
    1.7299
    """
    op = "lstm_cell"
    x_t, h, c, kernel, recurrent_kernel, bias = common.as_inputs(
        op, x_t=x_t, h=h, c=c, kernel=kernel, recurrent_kernel=recurrent_kernel, bias=bias)
    parents = (x_t, kernel, recurrent_kernel, bias, h, c)
    B, _, H, act, rec_act = _checked(op, common.check_step_input(op, x_t), kernel, recurrent_kernel, bias, h, c,
                                 activation, recurrent_activation)
    dtype = common.compute_dtype(*parents)
    W, U = common.cast(kernel.data, dtype), common.cast(recurrent_kernel.data, dtype)
    b = None if bias is None else common.cast(bias.data, dtype)
    x_seq = x_t.data[:, None]  # (B, D) -> (B, 1, D)
    masks = gate_dropout.feature_major_pair(op, input_masks, recurrent_masks, 4, B, x_t.shape[1], H, dtype)
    cache, run_backward = _run(op, x_seq, W, U, b, common.initial_state(h, B, H, dtype),
                               common.initial_state(c, B, H, dtype), None, act, rec_act,
                               masks=masks)

    backward = fm.cell_tape_backward(run_backward, dtype, parents, GRAD_NAMES)
    datas = (fm.last_state(cache["hs"]), cache["cs"][1].T.copy())  # (B, H) each
    return common.finish(op, cache, datas, parents, backward)
