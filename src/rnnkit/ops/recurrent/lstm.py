"""The LSTM over a whole sequence, with hand-derived backpropagation through time.

Keras layout, gate order i, f, c, o in one fused weight (``W (D, 4H)``, ``U (H, 4H)``, ``b (4H,)``):

    z_t = x_t W + h_{t-1} U + b = [z_i, z_f, z_c, z_o]
    i = σ(z_i)   f = σ(z_f)   g = act(z_c)   o = σ(z_o)        σ = recurrent_activation, act = activation
    c_t = f * c_{t-1} + i * g
    h_t = o * act(c_t)

With a mask, a masked step keeps both states and outputs 0, as Keras does.

Backward (``dh``, ``dc``: total gradients reaching the states ``h_t``, ``c_t``; derivatives from cached outputs):

    dz_o = dh * act(c_t) * σ'(z_o)
    dc~  = dc + dh * o * act'(c_t)                (gradient of the new cell value)
    dz_i = dc~ * g * σ'(z_i)   dz_f = dc~ * c_{t-1} * σ'(z_f)   dz_c = dc~ * i * act'(z_c)
    dc_{t-1} = dc~ * f         dh_{t-1} = g_{t-1} + dz_t U^T

Each step is one product, ``[W^T | b | U^T] @ [x_t; 1; h_{t-1}]`` in the stacked layout of feature_major.py, and
one compiled kernel for all the gate arithmetic (:func:`lstm_step`); a step backward is one kernel
(:func:`lstm_step_backward`) and one ``U dz_t`` product. The loops run whole in compiled code, calling NumPy's
BLAS routine for the products (blas.py; a NumPy loop where that routine cannot be found), and at batch size 1
computing the product themselves (small_batch.py).

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

import numpy as np

from rnnkit import blas
from rnnkit.compiled import compilable
from rnnkit.ops.recurrent import common
from rnnkit.ops.recurrent import feature_major as fm
from rnnkit.ops.recurrent import small_batch
from rnnkit.ops.recurrent.gate_activations import get_activation
from rnnkit.ops.recurrent.kernel_math import SIGMOID, TANH, activate_inplace, activate_row, derivative_row, jit

OP = "lstm"


# ------------------------------------------------------------------------------------- one time step
# Per-step arrays are feature-major (see feature_major.py): gates (4H, B) = [i; f; g; o] blocks of (H, B) rows.
@jit
def lstm_step(t, k, hs, cs, valid, act, rec_act, gates, tc):
    """Step ``t`` forward for the whole batch (whole arrays and an index are passed, so that every row the loops
    walk is known to be contiguous and vectorises).

    ``gates[k] (4H, B)`` holds the pre-activations ``z_t^T`` on entry and the activated ``[i; f; g; o]`` on exit.
    Reads ``h_{t-1} = hs[:, t]`` and ``c_{t-1} = cs[t]``; writes ``c_t`` to ``cs[t + 1]``, ``act(c_t)`` to
    ``tc[k]`` and ``h_t`` to ``hs[:, t + 1]`` (``hs (H, T+1, B)``, ``cs (T+1, H, B)``). ``valid (T, B)``: 0 where
    a step is masked (that column keeps ``h_{t-1}`` and ``c_{t-1}``); zero-length when nothing is masked. ``act``,
    ``rec_act``: activation codes (see kernel_math).
    """
    H, B = cs.shape[1], cs.shape[2]
    z = gates[k]
    flat = z.reshape(-1)  # (4H*B,): the gate blocks are contiguous, so each is activated in one call
    n = H * B
    activate_inplace(rec_act, flat[: 2 * n])  # i, f
    activate_inplace(act, flat[2 * n : 3 * n])  # g
    activate_inplace(rec_act, flat[3 * n :])  # o
    i, f, g = flat[:n], flat[n : 2 * n], flat[2 * n : 3 * n]
    c_prev, c_new, c_act = cs[t].reshape(-1), cs[t + 1].reshape(-1), tc[k].reshape(-1)  # (H*B,) each
    for e in range(n):
        c_new[e] = f[e] * c_prev[e] + i[e] * g[e]
    activate_row(act, c_new, c_act)
    masked = valid.shape[0] > 0
    for j in range(H):
        o, c_j, h_new = z[3 * H + j], tc[k, j], hs[j, t + 1]
        for b in range(B):
            h_new[b] = o[b] * c_j[b]
        if masked:
            for b in range(B):
                if valid[t, b] == 0:
                    cs[t + 1, j, b] = cs[t, j, b]
                    h_new[b] = hs[j, t, b]


@jit
def lstm_step_backward(t, dh, dc, d_out, gates, cs, tc, valid, act, rec_act, dz, work):
    """Step ``t`` backward for the whole batch; the product ``U dz_t`` is left to the caller.

    ``dh (H, B)``: the gradient reaching ``h_t`` from later steps; ``d_out[:, t]``: the gradient of this step's
    output (``d_out (H, T, B)``, zero-length when there is none). ``dc (H, B)``: the gradient reaching ``c_t``,
    replaced by the one reaching ``c_{t-1}``. Writes ``dz[:, t] (4H, B)``. In a masked column
    (``valid[t, b] == 0``) ``dz`` is 0 and both gradients pass through: ``dh`` keeps its value, to which the
    caller adds ``U dz_t``; in the other columns ``dh`` is set to 0 when a mask is given (without a mask the caller
    replaces ``dh``). ``work (6, H*B)``: workspace.
    """
    H, B = dc.shape
    if d_out.shape[0] > 0:
        for j in range(H):
            dh_j, g_out = dh[j], d_out[j, t]
            for b in range(B):
                dh_j[b] += g_out[b]
    masked = valid.shape[0] > 0
    dc_in = work[5]
    if masked:
        dc_in[:] = dc.reshape(-1)
    if act == TANH and rec_act == SIGMOID:
        _gate_grads_tanh_sigmoid(t, dh, dc, gates, cs, tc, dz)
    else:
        _gate_grads(t, dh, dc, gates, cs, tc, act, rec_act, dz, work)
    if masked:
        for j in range(H):
            for b in range(B):
                if valid[t, b] == 0:  # nothing flowed through the gates: dz is 0, dh and dc are carried
                    dz[j, t, b] = dz[H + j, t, b] = dz[2 * H + j, t, b] = dz[3 * H + j, t, b] = 0
                    dc[j, b] = dc_in[j * B + b]
                else:
                    dh[j, b] = 0


@jit
def _gate_grads(t, dh, dc, gates, cs, tc, act, rec_act, dz, work):
    """The gate gradients of :func:`lstm_step_backward` for any activations, their derivatives first computed
    into ``work`` row by row (a code tested per element would keep the loop scalar)."""
    H, B = dc.shape
    n = H * B
    z = gates[t].reshape(-1)  # (4H*B,): blocks i, f, g, o
    i, f, g, o = z[:n], z[n : 2 * n], z[2 * n : 3 * n], z[3 * n :]
    c_act, c_prev = tc[t].reshape(-1), cs[t].reshape(-1)  # (H*B,)
    di, df, dg, do, dt = work[0], work[1], work[2], work[3], work[4]
    derivative_row(rec_act, i, di)  # σ'(i) etc., written with the gates' outputs
    derivative_row(rec_act, f, df)
    derivative_row(act, g, dg)
    derivative_row(rec_act, o, do)
    derivative_row(act, c_act, dt)
    dh_flat, dc_flat = dh.reshape(-1), dc.reshape(-1)  # (H*B,)
    for j in range(H):
        dzi, dzf, dzg, dzo = dz[j, t], dz[H + j, t], dz[2 * H + j, t], dz[3 * H + j, t]
        for b in range(B):
            e = j * B + b
            dzo[b] = dh_flat[e] * c_act[e] * do[e]
            dcn = dc_flat[e] + dh_flat[e] * o[e] * dt[e]  # gradient of the new cell value
            dzi[b] = dcn * g[e] * di[e]
            dzf[b] = dcn * c_prev[e] * df[e]
            dzg[b] = dcn * i[e] * dg[e]
            dc_flat[e] = dcn * f[e]


@jit
def _gate_grads_tanh_sigmoid(t, dh, dc, gates, cs, tc, dz):
    """:func:`_gate_grads` for the default activations (tanh, sigmoid), their derivatives written inline: one pass
    instead of six (measured 19 -> 8 µs per step for B = 64, H = 128)."""
    H, B = dc.shape
    n = H * B
    one = dc.dtype.type(1)
    z = gates[t].reshape(-1)  # (4H*B,): blocks i, f, g, o
    i, f, g, o = z[:n], z[n : 2 * n], z[2 * n : 3 * n], z[3 * n :]
    c_act, c_prev = tc[t].reshape(-1), cs[t].reshape(-1)  # (H*B,)
    dh_flat, dc_flat = dh.reshape(-1), dc.reshape(-1)  # (H*B,)
    for j in range(H):
        dzi, dzf, dzg, dzo = dz[j, t], dz[H + j, t], dz[2 * H + j, t], dz[3 * H + j, t]
        for b in range(B):
            e = j * B + b
            ie, fe, ge, oe, ce = i[e], f[e], g[e], o[e], c_act[e]
            dzo[b] = dh_flat[e] * ce * oe * (one - oe)
            dcn = dc_flat[e] + dh_flat[e] * oe * (one - ce * ce)  # gradient of the new cell value
            dzi[b] = dcn * ge * ie * (one - ie)
            dzf[b] = dcn * c_prev[e] * fe * (one - fe)
            dzg[b] = dcn * ie * (one - ge * ge)
            dc_flat[e] = dcn * fe


# ---------------------------------------------------------------------------------- whole sequence
def _forward(xh, D, weights, c0, valid, act, rec_act, keep=True):
    """Run all steps on the stacked ``xh (D+1+H, T+1, B)`` (inputs, ones, states; it receives the states) with
    ``weights`` from ``fm.step_weights`` (``[W^T | b | U^T] (4H, D+1+H)``, or untransposed for a batch of one);
    returns the cache: activated gates ``(T, 4H, B)`` = [i; f; g; o], cell states ``cs (T+1, H, B)``,
    ``tc (T, H, B)`` = act(c_t). ``valid (T, B)``: the mask rows, or None.

    With ``keep=False`` (no backward pass will come) every step reuses one gate block and one act(c_t) block,
    which stay in cache, instead of filling ``(T, ...)`` arrays; only the states are kept.
    """
    _, T1, B = xh.shape
    T, H = T1 - 1, c0.shape[1]
    dtype = xh.dtype
    hs = fm.states(xh, D)  # (H, T+1, B)
    gates = common.scratch((T if keep else 1, 4 * H, B), dtype)
    cs = common.scratch((T + 1, H, B), dtype)
    cs[0] = c0.T  # (B, H) -> (H, B)
    tc = common.scratch((T if keep else 1, H, B), dtype)
    cache = {"gates": gates, "xh": xh, "hs": hs, "cs": cs, "tc": tc}
    common.own(cache, gates, cs, tc)
    rows = common.or_empty(valid, 2, dtype)  # the mask rows; zero-length: no mask
    gemm = blas.gemm_address(dtype)
    if B <= small_batch.MAX_BATCH:
        _small_batch_loop(weights, xh, hs, cs, rows, act, rec_act, gates, tc, keep)
    elif gemm:
        _compiled_loop(gemm, weights, xh, hs, cs, rows, act, rec_act, gates, tc, keep)
    else:
        _numpy_loop(weights, xh, hs, cs, rows, act, rec_act, gates, tc, keep)
    return cache


def _numpy_loop(weights, xh, hs, cs, rows, act, rec_act, gates, tc, keep):
    """:func:`_forward`'s time loop with NumPy's product, where no BLAS can be called from compiled code."""
    for t in range(xh.shape[1] - 1):
        k = t if keep else 0  # the step's slot in gates and tc
        np.matmul(weights, xh[:, t], out=gates[k])  # (4H, D+1+H) @ (D+1+H, B)
        lstm_step(t, k, hs, cs, rows, act, rec_act, gates, tc)


@jit
def _compiled_loop(gemm, weights, xh, hs, cs, rows, act, rec_act, gates, tc, keep):
    """:func:`_forward`'s time loop whole in compiled code, the step product from the BLAS routine at ``gemm``
    (blas.py)."""
    for t in range(xh.shape[1] - 1):
        k = t if keep else 0
        blas.matmul_into(gemm, weights, xh[:, t], gates[k], 0.0)  # (4H, D+1+H) @ (D+1+H, B)
        lstm_step(t, k, hs, cs, rows, act, rec_act, gates, tc)


@jit
def _small_batch_loop(weights, xh, hs, cs, rows, act, rec_act, gates, tc, keep):
    """:func:`_forward`'s time loop for a batch of one, whole in compiled code (see small_batch.py); ``weights``
    are the unstransposed stacked rows ``[W; b; U]``."""
    for t in range(xh.shape[1] - 1):
        k = t if keep else 0
        small_batch.step_product(weights, xh, t, gates[k])
        lstm_step(t, k, hs, cs, rows, act, rec_act, gates, tc)


def _backward(cache, D, kernel, recurrent_kernel, valid, act, rec_act, d_out, dh_last, dc_last, need):
    """Gradients ``{name: array}`` for the inputs named in ``need`` (``x``, ``kernel``, ``recurrent_kernel``,
    ``bias``, ``h0``, ``c0``) from ``d_out (H, T, B)`` (or None) and the final-state gradients ``(B, H)``."""
    gates, cs, tc = cache["gates"], cache["cs"], cache["tc"]
    T, H4, B = gates.shape
    H = H4 // 4
    dz = common.scratch((H4, T, B), gates.dtype)
    dh, dc = dh_last.T.copy(), dc_last.T.copy()  # (B, H) -> (H, B); copies: the kernels write into them
    rows = common.or_empty(valid, 2, gates.dtype)  # the mask rows; zero-length: no mask
    outs = common.or_empty(d_out, 3, gates.dtype)  # zero-length: no output gradient
    work = common.scratch((6, H * B), gates.dtype)
    gemm = blas.gemm_address(gates.dtype) if compilable(recurrent_kernel, gates) else 0
    loop = _compiled_backward_loop if gemm else _numpy_backward_loop
    loop(gemm, recurrent_kernel, dh, dc, outs, gates, cs, tc, rows, act, rec_act, dz, work, need["h0"] or need["c0"])
    grads = fm.stacked_weight_grads(dz, cache["xh"], D, need)
    if need["x"]:
        grads["x"] = fm.input_grad(dz, kernel)
    grads["h0"], grads["c0"] = dh.T, dc.T  # (H, B) -> (B, H)
    common.release(dz, work)
    return grads


def _numpy_backward_loop(gemm, recurrent_kernel, dh, dc, outs, gates, cs, tc, rows, act, rec_act, dz, work,
                         to_states):
    """:func:`_backward`'s time loop with NumPy's product (``gemm`` unused): ``dh`` and ``dc`` end as the
    gradients of ``h0`` and ``c0`` (``dh`` complete only when ``to_states``)."""
    rec = np.empty_like(dh)
    for t in range(gates.shape[0] - 1, -1, -1):
        lstm_step_backward(t, dh, dc, outs, gates, cs, tc, rows, act, rec_act, dz, work)
        if t == 0 and not to_states:
            break
        if rows.shape[0] == 0:
            np.matmul(recurrent_kernel, dz[:, t], out=dh)  # (H, 4H) @ (4H, B)
        else:
            dh += np.matmul(recurrent_kernel, dz[:, t], out=rec)  # masked columns carried their gradient through


@jit
def _compiled_backward_loop(gemm, recurrent_kernel, dh, dc, outs, gates, cs, tc, rows, act, rec_act, dz, work,
                            to_states):
    """:func:`_numpy_backward_loop` whole in compiled code, the product from the BLAS routine at ``gemm``."""
    beta = 1.0 if rows.shape[0] > 0 else 0.0  # with a mask, masked columns carried their gradient through dh
    for t in range(gates.shape[0] - 1, -1, -1):
        lstm_step_backward(t, dh, dc, outs, gates, cs, tc, rows, act, rec_act, dz, work)
        if t > 0 or to_states:
            blas.matmul_into(gemm, recurrent_kernel, dz[:, t], dh, beta)  # (H, 4H) @ (4H, B)


def _run(op, x, kernel, recurrent_kernel, bias, h0, c0, valid, act, rec_act, keep=True):
    """Forward on ``x (B, T, D)`` from Keras-layout weights; returns the cache and
    ``backward(d_out, dh_last, dc_last, need)`` giving the gradients in :data:`GRAD_NAMES` order (once: it frees
    the cache). ``keep=False``: no backward pass will come (see :func:`_forward`)."""
    codes, D = (act.code, rec_act.code), x.shape[2]
    xh = fm.stacked_inputs(x, h0, kernel.dtype)  # (D+1+H, T+1, B)
    cache = _forward(xh, D, fm.step_weights(kernel, recurrent_kernel, bias, x.shape[0]), c0, valid, *codes, keep)

    def backward(d_out, dh_last, dc_last, need):
        common.check_cache(cache, op)
        grads = _backward(cache, D, kernel, recurrent_kernel, valid, *codes, d_out, dh_last, dc_last, need)
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


def lstm(x, kernel, recurrent_kernel, bias, h0, c0, mask=None, activation="tanh", recurrent_activation="sigmoid"):
    """Run an LSTM over a whole sequence as one op.

    Args:
        x: ``(B, T, D)`` inputs, batch-major.
        kernel: ``(D, 4H)``; recurrent_kernel: ``(H, 4H)``; bias: ``(4H,)`` or ``None``; gate order i, f, c, o.
        h0, c0: ``(B, H)`` initial states (may require grad) or ``None`` for zeros.
        mask: ``None`` or a ``(B, T)`` boolean array; ``False`` steps carry both states and output 0.
        activation: for the candidate ``g`` and the cell output (default ``"tanh"``).
        recurrent_activation: for the gates i, f, o (default ``"sigmoid"``).

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
    cache, run_backward = _run(OP, x.data, W, U, b, common.initial_state(h0, B, H, dtype),
                               common.initial_state(c0, B, H, dtype), valid, act, rec_act,
                               keep=common.will_backward(parents))

    backward = fm.tape_backward(run_backward, valid, dtype, parents, GRAD_NAMES)
    hs, cs = cache["hs"], cache["cs"]
    datas = (fm.outputs_view(hs, valid), fm.last_state(hs), cs[T].T.copy())  # (B, T, H), (B, H) x2
    return common.finish(OP, cache, datas, parents, backward)


def lstm_cell(x_t, h, c, kernel, recurrent_kernel, bias, activation="tanh", recurrent_activation="sigmoid"):
    """One step of :func:`lstm` (same arithmetic): returns ``(h_new (B, H), c_new (B, H))``.

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
    cache, run_backward = _run(op, x_seq, W, U, b, common.initial_state(h, B, H, dtype),
                               common.initial_state(c, B, H, dtype), None, act, rec_act)

    backward = fm.cell_tape_backward(run_backward, dtype, parents, GRAD_NAMES)
    datas = (fm.last_state(cache["hs"]), cache["cs"][1].T.copy())  # (B, H) each
    return common.finish(op, cache, datas, parents, backward)
