"""The simple (Elman) recurrent network over a whole sequence, with hand-derived backpropagation through time.

    z_t = x_t W + h_{t-1} U + b          W: kernel (D, H), U: recurrent_kernel (H, H), b: bias (H,)
    h_t = act(z_t)                       act: "tanh" (default), "relu", ... (see gate_activations)

With a mask, a masked step keeps the state (``h_t = h_{t-1}``) and outputs 0, as Keras does.

Backward, from the gradient ``g_t`` of the outputs and ``g_T`` of the last state (``dh`` is the total gradient
reaching the state ``h_t``):

    dz_t     = dh_t * act'(z_t)                           act' written with h_t (gate_activations)
    dh_{t-1} = g_{t-1} + dz_t U^T
    dW = sum_t x_t^T dz_t,  dU = sum_t h_{t-1}^T dz_t,  db = sum_t dz_t,  dx_t = dz_t W^T

The loop over time computes only ``dz``; the four sums are one matrix product (or sum) each afterwards.

>>> import numpy as np
>>> from rnnkit import Tensor
>>> from rnnkit.ops.recurrent import simple_rnn
>>> x = Tensor(np.ones((2, 3, 4)))                        # (B, T, D)
>>> W, U = Tensor(np.full((4, 5), 0.1), requires_grad=True), Tensor(np.eye(5) * 0.5)
>>> b, h0 = Tensor(np.zeros(5)), Tensor(np.zeros((2, 5)))
>>> outputs, h_last = simple_rnn(x, W, U, b, h0)
>>> outputs.shape, h_last.shape
((2, 3, 5), (2, 5))
>>> expected = np.tanh(0.4 + 0.5 * np.tanh(0.4 + 0.5 * np.tanh(0.4)))  # h_3 by hand: z = 4 * 0.1 + 0.5 h
>>> bool(np.isclose(h_last.data[0, 0], expected, rtol=1e-6))
True
>>> h_last.sum().backward(); W.grad.shape
(4, 5)
"""
from __future__ import annotations

import numpy as np

from rnnkit.ops.recurrent import common
from rnnkit.ops.recurrent.gate_activations import get_activation

OP = "simple_rnn"


# ------------------------------------------------------------------------------------- one time step
def simple_rnn_step(xw_t, h_prev, recurrent_kernel, act, out, tmp):
    """One step forward: ``out (B, H) = act(xw_t + h_prev @ U)``, where ``xw_t = x_t W + b`` (may be ``out``)."""
    np.dot(h_prev, recurrent_kernel, out=tmp)  # (B, H) @ (H, H)
    np.add(xw_t, tmp, out=out)
    return act.forward(out, out)


def simple_rnn_step_backward(dh, dact_t, recurrent_kernel_t, dz_out, dh_prev_out):
    """One step backward: ``dz_t = dh * act'(z_t)`` into ``dz_out``; ``dz_t U^T`` into ``dh_prev_out``.

    ``dact_t`` is ``act'(z_t)`` (times the step's mask when masked), computed for all steps at once.
    """
    np.multiply(dh, dact_t, out=dz_out)
    return np.dot(dz_out, recurrent_kernel_t, out=dh_prev_out)  # (B, H) @ (H, H)


# ---------------------------------------------------------------------------------- whole sequence
def _forward(x_tm, kernel, recurrent_kernel, bias, h0, mask_tm, act):
    """Run all steps; returns the cache ``dict`` (states ``hs (T+1, B, H)``, candidates ``cand (T, B, H)``)."""
    T, B, _ = x_tm.shape
    H = recurrent_kernel.shape[0]
    hs = np.empty((T + 1, B, H), x_tm.dtype)  # hs[0] = h0, hs[t+1] = state after step t
    hs[0] = h0
    # without a mask the candidate is the state; with one, candidates live apart and the state is selected
    cand = hs[1:] if mask_tm is None else common.scratch((T, B, H), x_tm.dtype)  # (T, B, H)
    common.project_inputs(x_tm, kernel, bias, out=cand)  # cand[t] = x_t W + b, overwritten step by step
    tmp = np.empty((B, H), x_tm.dtype)
    valid = None if mask_tm is None else mask_tm > 0  # (T, B, 1) bool
    for t in range(T):
        simple_rnn_step(cand[t], hs[t], recurrent_kernel, act, cand[t], tmp)
        if valid is not None:
            common.select_state(hs[t + 1], cand[t], hs[t], valid[t])  # masked rows keep h_{t-1}
    cache = {"hs": hs, "cand": cand}
    common.own(cache, None if mask_tm is None else cand)
    return cache


def _backward(cache, x_tm, kernel, recurrent_kernel, mask_tm, act, d_out, d_last, need):
    """Gradients ``(dx (B,T,D), dkernel, drecurrent_kernel, dbias, dh0)`` from ``d_out (T, B, H)`` (or None) and
    ``d_last (B, H)``; ``need`` is a dict of flags saying which to compute."""
    hs, cand = cache["hs"], cache["cand"]
    T, B, H = cand.shape
    dact = act.derivative(cand, common.scratch(cand.shape, cand.dtype))  # (T, B, H) = act'(z_t), all steps
    if mask_tm is not None:
        dact *= mask_tm  # masked steps pass no gradient into z_t
        keep = 1 - mask_tm  # (T, B, 1): 1 where the state is carried through
    dz = common.scratch(cand.shape, cand.dtype)  # (T, B, H)
    u_t = common.transpose_copy(recurrent_kernel)  # (H, H)
    dh = d_last.copy()
    tmp = np.empty((B, H), cand.dtype)
    for t in range(T - 1, -1, -1):
        if d_out is not None:
            dh += d_out[t]
        if t == 0 and not need["h0"]:
            np.multiply(dh, dact[0], out=dz[0])
            break
        simple_rnn_step_backward(dh, dact[t], u_t, dz[t], tmp)
        if mask_tm is None:
            dh, tmp = tmp, dh
        else:
            dh *= keep[t]
            dh += tmp
    dx, dkernel = common.input_side_grads(dz, x_tm, kernel, need["x"], need["kernel"])
    drec = common.recurrent_grad(hs[:-1], dz) if need["recurrent_kernel"] else None
    dbias = common.sum_rows(dz) if need["bias"] else None  # (T*B, H) -> (H,)
    common.release(dact, dz)
    return dx, dkernel, drec, dbias, (dh if need["h0"] else None)


GRAD_NAMES = ("x", "kernel", "recurrent_kernel", "bias", "h0")  # the order of ``parents`` in both ops


def simple_rnn(x, kernel, recurrent_kernel, bias, h0, mask=None, activation="tanh"):
    """Run a simple RNN over a whole sequence as one op.

    Args:
        x: ``(B, T, D)`` inputs, batch-major.
        kernel: ``(D, H)``; recurrent_kernel: ``(H, H)``; bias: ``(H,)`` or ``None`` (``use_bias=False``).
        h0: ``(B, H)`` initial state (may require grad) or ``None`` for zeros.
        mask: ``None`` or a ``(B, T)`` boolean array; ``False`` steps carry the state and output 0.
        activation: name of the activation (``"tanh"``, ``"relu"``, ... see ``gate_activations``).

    Returns:
        ``(outputs (B, T, H), h_last (B, H))``: every step's output and the state after the last step.
    """
    x, kernel, recurrent_kernel, bias, h0 = common.as_inputs(
        OP, x=x, kernel=kernel, recurrent_kernel=recurrent_kernel, bias=bias, h0=h0)
    B, T, _, H = common.check_weights(OP, x.shape, kernel, recurrent_kernel, gates=1)
    common.check_bias(OP, bias, (H,))
    common.check_state(OP, "h0", h0, B, H)
    act = get_activation(activation)
    dtype = common.compute_dtype(x, kernel, recurrent_kernel, bias, h0)
    x_tm = common.time_major(x.data, dtype)  # (T, B, D)
    mask_tm = common.time_major_mask(mask, B, T, dtype)  # (T, B, 1) or None
    W, U = common.cast(kernel.data, dtype), common.cast(recurrent_kernel.data, dtype)
    b = None if bias is None else common.cast(bias.data, dtype)
    cache = _forward(x_tm, W, U, b, common.initial_state(h0, B, H, dtype), mask_tm, act)
    common.own(cache, x_tm)
    hs = cache["hs"]
    outputs = hs[1:] if mask_tm is None else hs[1:] * mask_tm  # (T, B, H): masked steps output 0
    parents = (x, kernel, recurrent_kernel, bias, h0)

    def backward(grads):
        common.check_cache(cache, OP)
        g_out, g_last = grads
        d_out = common.output_grad_time_major(g_out, mask_tm, dtype)  # (T, B, H)
        need = common.needs_by_name(GRAD_NAMES, parents)
        dx, dW, dU, db, dh0 = _backward(cache, x_tm, W, U, mask_tm, act, d_out, common.cast(g_last, dtype), need)
        common.release(d_out)
        common.free_cache(cache)
        return tuple(common.grad_for(p, g) for p, g in zip(parents, (dx, dW, dU, db, dh0)))

    datas = (common.outputs_view(outputs), hs[T].copy())
    return common.finish(OP, cache, datas, parents, backward)


def simple_rnn_cell(x_t, h, kernel, recurrent_kernel, bias, activation="tanh"):
    """One step of :func:`simple_rnn` (same arithmetic): ``h_new (B, H) = act(x_t W + h U + b)``.

    >>> import numpy as np
    >>> from rnnkit.ops.recurrent import simple_rnn_cell
    >>> h = simple_rnn_cell(np.ones((1, 2)), np.zeros((1, 3)), np.full((2, 3), 0.5), np.eye(3), None)
    >>> h.data.round(4)
    array([[0.7616, 0.7616, 0.7616]], dtype=float32)
    """
    op = "simple_rnn_cell"
    x_t, kernel, recurrent_kernel, bias, h = common.as_inputs(
        op, x_t=x_t, kernel=kernel, recurrent_kernel=recurrent_kernel, bias=bias, h=h)
    B, _, _, H = common.check_weights(op, common.check_step_input(op, x_t), kernel, recurrent_kernel, gates=1)
    common.check_bias(op, bias, (H,))
    common.check_state(op, "h", h, B, H)
    act = get_activation(activation)
    dtype = common.compute_dtype(x_t, kernel, recurrent_kernel, bias, h)
    x_tm = common.cast(x_t.data, dtype)[None]  # (1, B, D)
    W, U = common.cast(kernel.data, dtype), common.cast(recurrent_kernel.data, dtype)
    b = None if bias is None else common.cast(bias.data, dtype)
    cache = _forward(x_tm, W, U, b, common.initial_state(h, B, H, dtype), None, act)
    parents = (x_t, kernel, recurrent_kernel, bias, h)

    def backward(g):
        common.check_cache(cache, op)
        need = common.needs_by_name(GRAD_NAMES, parents)
        dx, dW, dU, db, dh = _backward(cache, x_tm, W, U, None, act, None, common.cast(g, dtype), need)
        common.free_cache(cache)
        dx = None if dx is None else dx[:, 0]  # (B, 1, D) -> (B, D)
        return tuple(common.grad_for(p, g) for p, g in zip(parents, (dx, dW, dU, db, dh)))

    return common.finish(op, cache, cache["hs"][1].copy(), parents, backward)

