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

The per-step factors (``g σ'(z_i)``, ``o act'(c_t)``, ...) are computed for all steps at once before the loop,
so a step backward is a handful of multiplies and one ``(B, 4H) @ (4H, H)`` product.

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

from rnnkit.ops.recurrent import common
from rnnkit.ops.recurrent.gate_activations import get_activation

OP = "lstm"


# ------------------------------------------------------------------------------------ internal layout
# Inside the op the gate blocks are ordered o, i, f, g (Keras: i, f, c, o): the three σ gates are then one
# contiguous block, and so are the three gates whose gradient is a multiple of the cell-state gradient. The cache
# keeps each step's gates gate-major, ``(4, B, H)``, so that every gate is one contiguous block: element-wise
# work on contiguous blocks is about three times faster than on (B, 4H) column slices (measured).
TO_INTERNAL = (3, 0, 1, 2)  # internal block k is Keras block TO_INTERNAL[k]
TO_KERAS = (1, 2, 3, 0)  # Keras block k is internal block TO_KERAS[k]


def _reorder(a: np.ndarray, order, scale_sigma: float = 1.0) -> np.ndarray:
    """Reorder the four gate blocks along the last axis into a new array, multiplying the first three blocks of
    the result (the σ gates in the internal layout) by ``scale_sigma``."""
    n = a.shape[-1] // 4
    out = np.empty_like(a)
    for k, src in enumerate(order):
        if k < 3 and scale_sigma != 1.0:
            np.multiply(a[..., src * n : (src + 1) * n], scale_sigma, out=out[..., k * n : (k + 1) * n])
        else:
            out[..., k * n : (k + 1) * n] = a[..., src * n : (src + 1) * n]
    return out


def _fused_tanh(act, rec_act) -> bool:
    """With tanh and σ, one ``tanh`` call does all four gates: σ(z) = (1 + tanh(z/2)) / 2, the halving being
    folded into the σ gates' weight columns (scaling by 0.5 is exact in floating point)."""
    return act.name == "tanh" and rec_act.name == "sigmoid"


def _forward_weights(kernel, recurrent_kernel, bias, act, rec_act):
    """Keras-layout weights -> the internal ones the forward pass multiplies with (reordered, σ columns halved
    when fused). The backward pass's ``U^T`` is made by :func:`_backward_recurrent_t` only when needed: the
    transposing copy costs about as much as a whole batch-1 forward pass."""
    scale = 0.5 if _fused_tanh(act, rec_act) else 1.0
    W, U = _reorder(kernel, TO_INTERNAL, scale), _reorder(recurrent_kernel, TO_INTERNAL, scale)  # (D, 4H), (H, 4H)
    b = None if bias is None else _reorder(bias, TO_INTERNAL, scale)  # (4H,)
    return W, U, b


def _backward_recurrent_t(recurrent_kernel) -> np.ndarray:
    """The reordered, unscaled ``U^T (4H, H)`` for the backward pass, C-contiguous (a product with a contiguous
    operand is faster than with a transposed view, measured: 54 vs 66 µs per step for B = 64, H = 128)."""
    U = _reorder(recurrent_kernel, TO_INTERNAL)  # (H, 4H)
    return common.transpose_copy(U)  # (4H, H), a copy (for H = 1, U.T is already contiguous and would be a view)


def _activate(gates, act, rec_act):
    """Gate activations in place on gate-major ``gates (4, B, H)`` = [o, i, f, g] pre-activations."""
    if _fused_tanh(act, rec_act):
        np.tanh(gates, out=gates)  # tanh(z/2) for o, i, f (halved weights); tanh(z) for g
        sig = gates[:3]
        sig *= 0.5
        sig += 0.5
    else:
        rec_act.forward(gates[:3], gates[:3])
        act.forward(gates[3], gates[3])


# ------------------------------------------------------------------------------------- one time step
def lstm_step(xw_t, gates_t, h_prev, c_prev, recurrent_kernel, act, rec_act, c_out, tc_out, h_out, rec, tmp):
    """One step forward. From the input projection ``xw_t (B, 4H)`` (internal layout) write ``[o, i, f, g]`` into
    ``gates_t (4, B, H)``, ``c_t`` into ``c_out``, ``act(c_t)`` into ``tc_out`` and ``h_t`` into ``h_out``;
    ``rec (B, 4H)`` is workspace."""
    B, H = h_prev.shape
    np.dot(h_prev, recurrent_kernel, out=rec)  # (B, H) @ (H, 4H)
    np.add(xw_t.reshape(B, 4, H), rec.reshape(B, 4, H), out=gates_t.transpose(1, 0, 2))  # into (4, B, H)
    _activate(gates_t, act, rec_act)
    o, i, f, g = gates_t
    np.multiply(f, c_prev, out=c_out)
    np.multiply(i, g, out=tmp)
    c_out += tmp
    act.forward(c_out, tc_out)
    return np.multiply(o, tc_out, out=h_out)


def lstm_step_backward(dh, dc_new, factors_t, f_t, recurrent_kernel_t, dz_t, dh_prev_out):
    """One step backward. From ``dh`` (into ``h_t``) and ``dc_new`` (into the new cell value ``c~``), write
    ``dz_t (B, 4H)`` (internal layout), ``dz_t U^T`` into ``dh_prev_out``, and turn ``dc_new`` into
    ``dc_new * f`` in place.

    ``factors_t (4, B, H)`` are the step's ``[act(c_t) σ'(z_o), g σ'(z_i), c_{t-1} σ'(z_f), i act'(z_c)]``.
    """
    B, H = dh.shape
    dz4 = dz_t.reshape(B, 4, H)  # (B, 4, H) view of [dz_o, dz_i, dz_f, dz_c]
    np.multiply(dh, factors_t[0], out=dz4[:, 0])
    np.multiply(dc_new, factors_t[1:], out=dz4[:, 1:].transpose(1, 0, 2))  # (B, H) * (3, B, H)
    dc_new *= f_t
    return np.dot(dz_t, recurrent_kernel_t, out=dh_prev_out)  # (B, 4H) @ (4H, H)


# ---------------------------------------------------------------------------------- whole sequence
def _forward(x_tm, kernel, recurrent_kernel, bias, h0, c0, mask_tm, act, rec_act, keep=True):
    """Run all steps with internal-layout weights (see :func:`_forward_weights`); returns the cache: gates
    ``(T, 4, B, H)`` = [o, i, f, g], states ``hs, cs (T+1, B, H)``, ``tc (T, B, H)`` = act(c~_t).

    With ``keep=False`` (no backward pass will come) every step reuses one ``(4, B, H)`` gate block and one
    ``(B, H)`` act(c~) block, which stay in cache, instead of filling ``(T, 4, B, H)``; only the states are kept.
    """
    T, B, _ = x_tm.shape
    H = recurrent_kernel.shape[0]
    dtype = x_tm.dtype
    xw = common.project_inputs(x_tm, kernel, bias, out=common.scratch((T, B, 4 * H), dtype))  # (T, B, 4H)
    gates = common.scratch((T if keep else 1, 4, B, H), dtype)  # gate-major per step
    hs = np.empty((T + 1, B, H), dtype)  # [0] initial, [t+1] after step t; the outputs view it: not scratch
    cs = common.scratch((T + 1, B, H), dtype)
    hs[0], cs[0] = h0, c0
    tc = common.scratch((T if keep else 1, B, H), dtype)  # act(c~_t)
    cache = {"gates": gates, "hs": hs, "cs": cs, "tc": tc}
    common.own(cache, gates, cs, tc)
    if mask_tm is None:
        h_new, c_new = hs[1:], cs[1:]  # the candidates are the states
    else:
        h_new, c_new = common.scratch((T, B, H), dtype), common.scratch((T, B, H), dtype)
        common.own(cache, h_new, c_new)
        valid = mask_tm > 0  # (T, B, 1) bool
    rec, tmp = np.empty((B, 4 * H), dtype), np.empty((B, H), dtype)
    for t in range(T):
        k = t if keep else 0  # the step's slot in gates and tc
        lstm_step(xw[t], gates[k], hs[t], cs[t], recurrent_kernel, act, rec_act, c_new[t], tc[k], h_new[t], rec, tmp)
        if mask_tm is not None:
            common.select_state(hs[t + 1], h_new[t], hs[t], valid[t])  # masked rows keep h_{t-1}, c_{t-1}
            common.select_state(cs[t + 1], c_new[t], cs[t], valid[t])
    common.release(xw)
    return cache


def _backward_factors(cache, mask_tm, act, rec_act):
    """All steps' local derivatives at once: ``factors (T, 4, B, H)`` (see :func:`lstm_step_backward`) and
    ``pc (T, B, H) = o act'(c_t)``, both times the mask."""
    gates, cs, tc = cache["gates"], cache["cs"], cache["tc"]  # gates (T, 4, B, H): o, i, f, g
    factors = common.scratch(gates.shape, gates.dtype)  # (T, 4, B, H)
    rec_act.derivative(gates[:, :3], factors[:, :3])  # σ'(z_o), σ'(z_i), σ'(z_f)
    act.derivative(gates[:, 3], factors[:, 3])  # act'(z_c)
    factors[:, 0] *= tc  # act(c_t) σ'(z_o)
    factors[:, 1] *= gates[:, 3]  # g σ'(z_i)
    factors[:, 2] *= cs[:-1]  # c_{t-1} σ'(z_f)
    factors[:, 3] *= gates[:, 1]  # i act'(z_c)
    pc = act.derivative(tc, common.scratch(tc.shape, tc.dtype))
    pc *= gates[:, 0]  # o act'(c_t)
    if mask_tm is not None:
        factors[:, 0] *= mask_tm
        pc *= mask_tm
    return factors, pc


def _backward(cache, x_tm, kernel, recurrent_kernel_t, mask_tm, act, rec_act, d_out, dh_last, dc_last, need):
    """Gradients ``(dx, dkernel, drecurrent_kernel, dbias, dh0, dc0)`` (weights in the internal layout) from
    ``d_out (T, B, H)`` (or None) and the final-state gradients ``dh_last, dc_last (B, H)``. ``kernel`` is the
    unscaled internal ``W`` (only used for ``dx``), ``recurrent_kernel_t`` the unscaled internal ``U^T``."""
    factors, pc = _backward_factors(cache, mask_tm, act, rec_act)
    T, _, B, H = factors.shape
    f = cache["gates"][:, 2]  # (T, B, H) view of the forget gates
    dz = common.scratch((T, B, 4 * H), factors.dtype)
    dh, dc = dh_last.copy(), dc_last.copy()
    dc_new, tmp = np.empty_like(dh), np.empty_like(dh)
    need_states = need["h0"] or need["c0"]
    if mask_tm is not None:
        keep = 1 - mask_tm  # (T, B, 1): 1 where the states are carried through
    for t in range(T - 1, -1, -1):
        if d_out is not None:
            dh += d_out[t]
        np.multiply(dh, pc[t], out=dc_new)
        if mask_tm is None:
            dc_new += dc
        else:
            np.multiply(dc, mask_tm[t], out=tmp)
            dc_new += tmp
        lstm_step_backward(dh, dc_new, factors[t], f[t], recurrent_kernel_t, dz[t], tmp)
        if t == 0 and not need_states:
            break
        if mask_tm is None:
            dh, tmp = tmp, dh
            dc, dc_new = dc_new, dc
        else:
            dh *= keep[t]
            dh += tmp
            dc *= keep[t]
            dc += dc_new
    dx, dkernel = common.input_side_grads(dz, x_tm, kernel, need["x"], need["kernel"])
    drec = common.recurrent_grad(cache["hs"][:-1], dz) if need["recurrent_kernel"] else None
    dbias = common.sum_rows(dz) if need["bias"] else None  # (T*B, 4H) -> (4H,)
    common.release(factors, pc, dz)
    return dx, dkernel, drec, dbias, dh, dc


def _run(op, x_tm, kernel, recurrent_kernel, bias, h0, c0, mask_tm, act, rec_act, keep=True):
    """Forward from Keras-layout arrays; returns the cache and ``backward(d_out, dh_last, dc_last, need)`` giving
    Keras-layout gradients ``(dx (B, T, D), dkernel, drecurrent_kernel, dbias, dh0, dc0)`` (once: it frees the
    cache). ``keep=False``: no backward pass will come (see :func:`_forward`)."""
    W, U, b = _forward_weights(kernel, recurrent_kernel, bias, act, rec_act)
    cache = _forward(x_tm, W, U, b, h0, c0, mask_tm, act, rec_act, keep)

    def backward(d_out, dh_last, dc_last, need):
        common.check_cache(cache, op)
        u_t = _backward_recurrent_t(recurrent_kernel)  # (4H, H)
        W_plain = _reorder(kernel, TO_INTERNAL) if need["x"] else None  # (D, 4H), unscaled
        dx, dW, dU, db, dh0, dc0 = _backward(cache, x_tm, W_plain, u_t, mask_tm, act, rec_act, d_out, dh_last,
                                             dc_last, need)
        common.free_cache(cache)
        dW, dU, db = (None if g is None else _reorder(g, TO_KERAS) for g in (dW, dU, db))
        return dx, dW, dU, db, dh0, dc0

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
    x_tm = common.time_major(x.data, dtype)  # (T, B, D)
    mask_tm = common.time_major_mask(mask, B, T, dtype)  # (T, B, 1) or None
    W, U = common.cast(kernel.data, dtype), common.cast(recurrent_kernel.data, dtype)
    b = None if bias is None else common.cast(bias.data, dtype)
    cache, run_backward = _run(OP, x_tm, W, U, b, common.initial_state(h0, B, H, dtype),
                               common.initial_state(c0, B, H, dtype), mask_tm, act, rec_act,
                               keep=common.will_backward(parents))
    common.own(cache, x_tm)
    hs, cs = cache["hs"], cache["cs"]
    outputs = hs[1:] if mask_tm is None else hs[1:] * mask_tm  # (T, B, H): masked steps output 0

    def backward(grads):
        g_out, g_h, g_c = grads
        d_out = common.output_grad_time_major(g_out, mask_tm, dtype)  # (T, B, H)
        result = run_backward(d_out, common.cast(g_h, dtype), common.cast(g_c, dtype), common.needs_by_name(GRAD_NAMES, parents))
        common.release(d_out)
        return tuple(common.grad_for(p, g) for p, g in zip(parents, result))

    datas = (common.outputs_view(outputs), hs[T].copy(), cs[T].copy())
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
    x_tm = common.cast(x_t.data, dtype)[None]  # (1, B, D)
    W, U = common.cast(kernel.data, dtype), common.cast(recurrent_kernel.data, dtype)
    b = None if bias is None else common.cast(bias.data, dtype)
    cache, run_backward = _run(op, x_tm, W, U, b, common.initial_state(h, B, H, dtype),
                               common.initial_state(c, B, H, dtype), None, act, rec_act)

    def backward(grads):
        g_h, g_c = grads
        result = list(run_backward(None, common.cast(g_h, dtype), common.cast(g_c, dtype), common.needs_by_name(GRAD_NAMES, parents)))
        result[0] = None if result[0] is None else result[0][:, 0]  # (B, 1, D) -> (B, D)
        return tuple(common.grad_for(p, g) for p, g in zip(parents, result))

    datas = (cache["hs"][1].copy(), cache["cs"][1].copy())
    return common.finish(op, cache, datas, parents, backward)
