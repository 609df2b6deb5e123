"""The GRU over a whole sequence, with hand-derived backpropagation through time.

Keras layout, gate order z, r, h in one fused weight (``W (D, 3H)``, ``U (H, 3H)``); σ = recurrent_activation,
act = activation.

``reset_after=True`` (default; the cuDNN / PyTorch formulation), bias ``(2, 3H)``: row 0 input, row 1 recurrent::

    [xz, xr, xh] = x_t W + b[0]          [rz, rr, rh] = h_{t-1} U + b[1]
    z = σ(xz + rz)    r = σ(xr + rr)    hh = act(xh + r * rh)
    h_t = z * h_{t-1} + (1 - z) * hh

``reset_after=False`` (the original formulation), bias ``(3H,)``::

    z = σ(x_t W_z + h_{t-1} U_z + b_z)   r = σ(x_t W_r + h_{t-1} U_r + b_r)
    hh = act(x_t W_h + (r * h_{t-1}) U_h + b_h)
    h_t = z * h_{t-1} + (1 - z) * hh

With a mask, a masked step keeps the state and outputs 0, as Keras does.

Backward (reset_after=True; ``dh`` is the total gradient reaching ``h_t``)::

    dz_z = dh (h_{t-1} - hh) σ'(z)       da = dh (1 - z) act'(hh)          (pre-activation of hh)
    dz_r = da rh σ'(r)                   d(rh) = da r
    dh_{t-1} = g_{t-1} + dh z + [dz_z, dz_r, d(rh)] U^T
    dW = Σ x^T [dz_z, dz_r, da],  dU = Σ h_{t-1}^T [dz_z, dz_r, d(rh)],  db[0], db[1] their sums over (t, batch)

All per-step factors are computed for every step at once before the loop, so one step backward is two
multiplies, one ``(B, 3H) @ (3H, H)`` product and an update of ``dh``.

>>> import numpy as np
>>> from rnnkit import Tensor
>>> from rnnkit.ops.recurrent import gru
>>> rng = np.random.default_rng(0)
>>> x = Tensor(rng.standard_normal((2, 5, 3)))             # (B, T, D)
>>> W = Tensor(rng.standard_normal((3, 12)) * 0.3, requires_grad=True)
>>> U = Tensor(rng.standard_normal((4, 12)) * 0.3)
>>> outputs, h = gru(x, W, U, Tensor(np.zeros((2, 12))), None)
>>> outputs.shape, h.shape
((2, 5, 4), (2, 4))
>>> h.sum().backward(); W.grad.shape
(3, 12)
"""
from __future__ import annotations

import numpy as np

from rnnkit.ops.recurrent import common
from rnnkit.ops.recurrent.gate_activations import get_activation

OP = "gru"


# ------------------------------------------------------------------------- forward-pass weights
def _fused_sigmoid(rec_act) -> bool:
    """With σ = sigmoid, z and r come from one ``tanh``: σ(v) = (1 + tanh(v/2)) / 2, the halving folded into the
    z and r weight columns (scaling by 0.5 is exact in floating point)."""
    return rec_act.name == "sigmoid"


def _forward_weights(kernel, recurrent_kernel, bias, reset_after, rec_act):
    """The weights the forward pass multiplies with: ``(W, U, input_bias, recurrent_h_bias)``.

    With reset_after, the recurrent bias of z and r is moved into the input bias (they are only ever summed), so
    each step adds just ``b[1]``'s h part; with a σ gate, the z and r columns are halved (see
    :func:`_fused_sigmoid`). The backward pass uses the original weights.
    """
    H = recurrent_kernel.shape[0]
    input_bias, rec_h_bias = (None, None) if bias is None else ((bias[0], bias[1, 2 * H :]) if reset_after else
                                                               (bias, None))
    if bias is not None and reset_after:
        input_bias = input_bias.copy()
        input_bias[: 2 * H] += bias[1, : 2 * H]
    if not _fused_sigmoid(rec_act):
        return kernel, recurrent_kernel, input_bias, rec_h_bias
    W, U = kernel.copy(), recurrent_kernel.copy()
    W[:, : 2 * H] *= 0.5
    U[:, : 2 * H] *= 0.5
    if input_bias is not None:
        input_bias = input_bias.copy()
        input_bias[: 2 * H] *= 0.5
    return W, U, input_bias, rec_h_bias


def _activate_zr(zr, rec_act):
    """z and r in place from their pre-activations (halved ones when :func:`_fused_sigmoid`)."""
    if _fused_sigmoid(rec_act):
        np.tanh(zr, out=zr)
        zr *= 0.5
        zr += 0.5
    else:
        rec_act.forward(zr, zr)


# ------------------------------------------------------------------ one time step, reset_after=True
# The cache keeps each step's gates gate-major, ``(3, B, H)`` = [z, r, hh]: every gate is then one contiguous
# block: element-wise work on it is about three times faster than on (B, 3H) column slices (measured).
def gru_step(xw_t, gates_t, rh_out, h_prev, recurrent_kernel, recurrent_h_bias, act, rec_act, h_out, rec, tmp):
    """One step forward (reset_after=True). From the input projection ``xw_t (B, 3H)`` write ``[z, r, hh]`` into
    ``gates_t (3, B, H)``, ``rh = h_{t-1} U_h + b[1]_h`` into ``rh_out`` and ``h_t`` into ``h_out``; ``rec``
    ``(B, 3H)`` is workspace. Weights as prepared by :func:`_forward_weights`."""
    B, H = h_prev.shape
    np.dot(h_prev, recurrent_kernel, out=rec)  # (B, H) @ (H, 3H)
    if recurrent_h_bias is None:
        np.copyto(rh_out, rec[:, 2 * H :])
    else:
        np.add(rec[:, 2 * H :], recurrent_h_bias, out=rh_out)
    zr = gates_t[:2]  # (2, B, H)
    np.add(xw_t[:, : 2 * H].reshape(B, 2, H), rec[:, : 2 * H].reshape(B, 2, H), out=zr.transpose(1, 0, 2))
    _activate_zr(zr, rec_act)  # z, r
    z, r, hh = gates_t
    np.multiply(r, rh_out, out=hh)
    hh += xw_t[:, 2 * H :]
    act.forward(hh, hh)
    return _interpolate(z, h_prev, hh, h_out, tmp)


def gru_step_backward(dh, factors_t, ph_t, zc_t, recurrent_kernel_t, dz_rec_t, da_t, dh_prev_out):
    """One step backward (reset_after=True). From ``dh`` write ``dz_rec_t = [dz_z, dz_r, d(rh)] (B, 3H)`` and
    ``da_t = dh (1 - z) act'(hh)``; turn ``dh`` into ``dh * z`` in place; write ``dz_rec_t U^T`` to ``dh_prev_out``.

    ``factors_t (3, B, H)`` are ``[(h_{t-1} - hh) σ'(z), (1 - z) act'(hh) rh σ'(r), (1 - z) act'(hh) r]``.
    """
    B, H = dh.shape
    np.multiply(dh, factors_t, out=dz_rec_t.reshape(B, 3, H).transpose(1, 0, 2))  # (B, H) * (3, B, H)
    np.multiply(dh, ph_t, out=da_t)
    dh *= zc_t
    return np.dot(dz_rec_t, recurrent_kernel_t, out=dh_prev_out)  # (B, 3H) @ (3H, H)


# ----------------------------------------------------------------- one time step, reset_after=False
def gru_step_reset_before(xw_t, gates_t, rh_out, h_prev, kernel_zr, kernel_h, act, rec_act, h_out, rec_zr, tmp):
    """One step forward (reset_after=False). From ``xw_t = x_t W + b (B, 3H)`` write ``[z, r, hh]`` into
    ``gates_t (3, B, H)``, ``r * h_{t-1}`` into ``rh_out`` and ``h_t`` into ``h_out``; ``kernel_zr (H, 2H)`` and
    ``kernel_h (H, H)`` are the parts of ``U``; ``rec_zr (B, 2H)`` is workspace."""
    B, H = h_prev.shape
    np.dot(h_prev, kernel_zr, out=rec_zr)  # (B, H) @ (H, 2H)
    zr = gates_t[:2]  # (2, B, H)
    np.add(xw_t[:, : 2 * H].reshape(B, 2, H), rec_zr.reshape(B, 2, H), out=zr.transpose(1, 0, 2))
    _activate_zr(zr, rec_act)  # z, r
    z, r, hh = gates_t
    np.multiply(r, h_prev, out=rh_out)
    np.dot(rh_out, kernel_h, out=tmp)  # (B, H) @ (H, H)
    np.add(xw_t[:, 2 * H :], tmp, out=hh)
    act.forward(hh, hh)
    return _interpolate(z, h_prev, hh, h_out, tmp)


def gru_step_reset_before_backward(dh, factors_t, qr_t, r_t, zc_t, kernel_zr_t, kernel_h_t, dz_t, drh, dh_prev_out):
    """One step backward (reset_after=False). Writes ``dz_t = [dz_z, dz_r, da] (B, 3H)`` and the part of
    ``dh_{t-1}`` that flows through this step into ``dh_prev_out``, consuming ``dh``.

    ``factors_t (2, B, H)`` are ``[(h_{t-1} - hh) σ'(z), (1 - z) act'(hh)]``; ``qr_t = h_{t-1} σ'(r)``.
    """
    B, H = dh.shape
    dz3 = dz_t.reshape(B, 3, H)  # (B, 3, H) view of [dz_z, dz_r, da]
    np.multiply(dh, factors_t, out=dz3[:, ::2].transpose(1, 0, 2))  # dz_z, da
    np.dot(dz_t[:, 2 * H :], kernel_h_t, out=drh)  # d(r h) = da U_h^T: (B, H) @ (H, H)
    np.multiply(drh, qr_t, out=dz3[:, 1])  # dz_r
    np.dot(dz_t[:, : 2 * H], kernel_zr_t, out=dh_prev_out)  # (B, 2H) @ (2H, H)
    drh *= r_t
    dh *= zc_t
    dh_prev_out += drh
    dh_prev_out += dh
    return dh_prev_out


def _interpolate(z, h_prev, hh, h_out, tmp):
    """``h_out = z * h_prev + (1 - z) * hh``, computed as ``hh + z * (h_prev - hh)``."""
    np.subtract(h_prev, hh, out=tmp)
    tmp *= z
    return np.add(hh, tmp, out=h_out)


# ---------------------------------------------------------------------------------- whole sequence
def _forward(x_tm, kernel, recurrent_kernel, bias, h0, mask_tm, reset_after, act, rec_act):
    """Run all steps from Keras-layout weights; returns the cache: ``gates (T, 3, B, H)`` = z, r, hh; states
    ``hs (T+1, B, H)``; ``rh (T, B, H)`` = h_{t-1} U_h + b[1]_h (reset_after) or r * h_{t-1} (reset_before)."""
    T, B, _ = x_tm.shape
    H = recurrent_kernel.shape[0]
    dtype = x_tm.dtype
    kernel, recurrent_kernel, input_bias, rec_h_bias = _forward_weights(kernel, recurrent_kernel, bias, reset_after,
                                                                        rec_act)
    xw = common.project_inputs(x_tm, kernel, input_bias, out=common.scratch((T, B, 3 * H), dtype))  # (T, B, 3H)
    gates = common.scratch((T, 3, B, H), dtype)  # gate-major per step
    rh = common.scratch((T, B, H), dtype)
    hs = np.empty((T + 1, B, H), dtype)  # hs[0] = h0, hs[t+1] = state after step t; viewed by the outputs
    hs[0] = h0
    h_new = hs[1:] if mask_tm is None else common.scratch((T, B, H), dtype)  # candidates
    cache = {"gates": gates, "rh": rh, "hs": hs}
    common.own(cache, gates, rh, None if mask_tm is None else h_new)
    tmp = np.empty((B, H), dtype)
    if reset_after:
        rec = np.empty((B, 3 * H), dtype)
    else:
        u_zr = np.ascontiguousarray(recurrent_kernel[:, : 2 * H])  # (H, 2H)
        u_h = np.ascontiguousarray(recurrent_kernel[:, 2 * H :])  # (H, H)
        rec_zr = np.empty((B, 2 * H), dtype)
    valid = None if mask_tm is None else mask_tm > 0  # (T, B, 1) bool
    for t in range(T):
        if reset_after:
            gru_step(xw[t], gates[t], rh[t], hs[t], recurrent_kernel, rec_h_bias, act, rec_act, h_new[t], rec, tmp)
        else:
            gru_step_reset_before(xw[t], gates[t], rh[t], hs[t], u_zr, u_h, act, rec_act, h_new[t], rec_zr, tmp)
        if valid is not None:
            common.select_state(hs[t + 1], h_new[t], hs[t], valid[t])  # masked rows keep h_{t-1}
    common.release(xw)
    return cache


def _backward_factors(cache, mask_tm, reset_after, act, rec_act):
    """All steps' local derivatives at once, gate-major ``(T, slots, B, H)`` (see the step-backward functions),
    times the mask where it applies; ``zc (T, B, H)`` is the factor of ``dh_t`` in ``dh_{t-1}``: ``z`` at
    valid steps, 1 at masked ones."""
    gates, hs = cache["gates"], cache["hs"]
    T, _, B, H = gates.shape
    z, r, hh = gates[:, 0], gates[:, 1], gates[:, 2]  # (T, B, H) views
    slots = 3 if reset_after else 2
    factors = common.scratch((T, slots, B, H), gates.dtype)
    pz, ph = factors[:, 0], factors[:, slots - 1]  # reset_after: [pz, pr, phr]; else: [pz, ph]
    rec_act.derivative(z, pz)
    np.subtract(hs[:-1], hh, out=ph)
    pz *= ph  # (h_{t-1} - hh) σ'(z)
    ph_full = act.derivative(hh, common.scratch((T, B, H), gates.dtype))
    np.subtract(1, z, out=ph)
    ph_full *= ph  # (1 - z) act'(hh)
    if mask_tm is not None:
        pz *= mask_tm
        ph_full *= mask_tm
        zc = np.where(mask_tm > 0, z, z.dtype.type(1))  # (T, B, H)
    else:
        zc = z
    if reset_after:
        pr = factors[:, 1]
        rec_act.derivative(r, pr)
        pr *= cache["rh"]  # rh σ'(r)
        pr *= ph_full
        np.multiply(ph_full, r, out=factors[:, 2])  # (1 - z) act'(hh) r
        return {"factors": factors, "ph": ph_full, "zc": zc}
    np.copyto(ph, ph_full)
    common.release(ph_full)
    qr = rec_act.derivative(r, common.scratch((T, B, H), gates.dtype))
    qr *= hs[:-1]  # h_{t-1} σ'(r)
    return {"factors": factors, "qr": qr, "r": r, "zc": zc}


def _backward(cache, x_tm, kernel, recurrent_kernel, mask_tm, reset_after, act, rec_act, d_out, d_last, need):
    """Gradients ``(dx, dkernel, drecurrent_kernel, dbias, dh0)`` from ``d_out (T, B, H)`` (or None) and
    ``d_last (B, H)``."""
    fac = _backward_factors(cache, mask_tm, reset_after, act, rec_act)
    hs = cache["hs"]
    T, B, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    dtype = hs.dtype
    dz = common.scratch((T, B, 3 * H), dtype)  # reset_after: recurrent side [dz_z, dz_r, d(rh)]; else [.., da]
    dh, tmp = d_last.copy(), np.empty((B, H), dtype)
    if reset_after:
        u_t = common.transpose_copy(recurrent_kernel)  # (3H, H)
        da = common.scratch((T, B, H), dtype)
    else:
        u_zr_t = common.transpose_copy(recurrent_kernel[:, : 2 * H])  # (2H, H)
        u_h_t = common.transpose_copy(recurrent_kernel[:, 2 * H :])  # (H, H)
        drh = np.empty((B, H), dtype)
    factors, zc = fac["factors"], fac["zc"]
    for t in range(T - 1, -1, -1):
        if d_out is not None:
            dh += d_out[t]
        if reset_after:
            gru_step_backward(dh, factors[t], fac["ph"][t], zc[t], u_t, dz[t], da[t], tmp)
            dh += tmp
        else:
            gru_step_reset_before_backward(dh, factors[t], fac["qr"][t], fac["r"][t], zc[t], u_zr_t, u_h_t, dz[t],
                                           drh, tmp)
            dh, tmp = tmp, dh
    dbias = None
    if reset_after:
        drec = common.recurrent_grad(hs[:-1], dz) if need["recurrent_kernel"] else None
        if need["bias"]:
            dbias = np.empty((2, 3 * H), dtype)
            dbias[1] = common.sum_rows(dz)  # (T*B, 3H) -> (3H,)
        dz[:, :, 2 * H :] = da  # the input side sees da where the recurrent side saw d(rh) = da r
        if need["bias"]:
            dbias[0] = common.sum_rows(dz)
    else:
        drec = None
        if need["recurrent_kernel"]:
            drec = np.empty((H, 3 * H), dtype)
            drec[:, : 2 * H] = common.recurrent_grad(hs[:-1], dz[:, :, : 2 * H])  # h_{t-1}^T [dz_z, dz_r]
            drec[:, 2 * H :] = common.recurrent_grad(cache["rh"], dz[:, :, 2 * H :])  # (r h_{t-1})^T da
        if need["bias"]:
            dbias = common.sum_rows(dz)
    dx, dkernel = common.input_side_grads(dz, x_tm, kernel, need["x"], need["kernel"])
    common.release(factors, dz, fac.get("ph"), fac.get("qr"), da if reset_after else None)
    return dx, dkernel, drec, dbias, (dh if need["h0"] else None)


def _checked(op, x_shape, kernel, recurrent_kernel, bias, h0, reset_after, activation, recurrent_activation):
    B, T, _, H = common.check_weights(op, x_shape, kernel, recurrent_kernel, gates=3)
    common.check_bias(op, bias, (2, 3 * H) if reset_after else (3 * H,))
    common.check_state(op, "h0", h0, B, H)
    return B, T, H, get_activation(activation), get_activation(recurrent_activation)


GRAD_NAMES = ("x", "kernel", "recurrent_kernel", "bias", "h0")  # the order of ``parents`` in both ops




def gru(x, kernel, recurrent_kernel, bias, h0, mask=None, reset_after=True, activation="tanh",
        recurrent_activation="sigmoid"):
    """Run a GRU over a whole sequence as one op.

    Args:
        x: ``(B, T, D)`` inputs, batch-major.
        kernel: ``(D, 3H)``; recurrent_kernel: ``(H, 3H)``; gate order z, r, h.
        bias: ``(2, 3H)`` when ``reset_after`` (input row, recurrent row), else ``(3H,)``; or ``None``.
        h0: ``(B, H)`` initial state (may require grad) or ``None`` for zeros.
        mask: ``None`` or a ``(B, T)`` boolean array; ``False`` steps carry the state and output 0.
        reset_after: apply the reset gate after the recurrent product (True, cuDNN/PyTorch) or before (False).
        activation: for the candidate ``hh`` (default ``"tanh"``); recurrent_activation: for z, r (``"sigmoid"``).

    Returns:
        ``(outputs (B, T, H), h_last (B, H))``.
    """
    parents = common.as_inputs(OP, x=x, kernel=kernel, recurrent_kernel=recurrent_kernel, bias=bias, h0=h0)
    x, kernel, recurrent_kernel, bias, h0 = parents
    B, T, H, act, rec_act = _checked(OP, x.shape, kernel, recurrent_kernel, bias, h0, reset_after, activation,
                                     recurrent_activation)
    dtype = common.compute_dtype(*parents)
    x_tm = common.time_major(x.data, dtype)  # (T, B, D)
    mask_tm = common.time_major_mask(mask, B, T, dtype)  # (T, B, 1) or None
    W, U = common.cast(kernel.data, dtype), common.cast(recurrent_kernel.data, dtype)
    b = None if bias is None else common.cast(bias.data, dtype)
    cache = _forward(x_tm, W, U, b, common.initial_state(h0, B, H, dtype), mask_tm, reset_after, act, rec_act)
    common.own(cache, x_tm)
    hs = cache["hs"]
    outputs = hs[1:] if mask_tm is None else hs[1:] * mask_tm  # (T, B, H): masked steps output 0

    def backward(grads):
        common.check_cache(cache, OP)
        g_out, g_last = grads
        d_out = common.output_grad_time_major(g_out, mask_tm, dtype)  # (T, B, H)
        result = _backward(cache, x_tm, W, U, mask_tm, reset_after, act, rec_act, d_out, common.cast(g_last, dtype),
                           common.needs_by_name(GRAD_NAMES, parents))
        common.release(d_out)
        common.free_cache(cache)
        return tuple(common.grad_for(p, g) for p, g in zip(parents, result))

    datas = (common.outputs_view(outputs), hs[T].copy())
    return common.finish(OP, cache, datas, parents, backward)


def gru_cell(x_t, h, kernel, recurrent_kernel, bias, reset_after=True, activation="tanh",
             recurrent_activation="sigmoid"):
    """One step of :func:`gru` (same arithmetic): ``h_new (B, H)``.

    >>> import numpy as np
    >>> from rnnkit.ops.recurrent import gru_cell
    >>> h = gru_cell(np.ones((1, 2)), np.ones((1, 1)), np.zeros((2, 3)), np.zeros((1, 3)), None)
    >>> float(h.data[0, 0])                            # z = σ(0) = 0.5, hh = tanh(0) = 0: 0.5 * 1 + 0.5 * 0
    0.5
    """
    op = "gru_cell"
    x_t, h, kernel, recurrent_kernel, bias = common.as_inputs(
        op, x_t=x_t, h=h, kernel=kernel, recurrent_kernel=recurrent_kernel, bias=bias)
    parents = (x_t, kernel, recurrent_kernel, bias, h)
    B, _, H, act, rec_act = _checked(op, common.check_step_input(op, x_t), kernel, recurrent_kernel, bias, h,
                                     reset_after, activation, recurrent_activation)
    dtype = common.compute_dtype(*parents)
    x_tm = common.cast(x_t.data, dtype)[None]  # (1, B, D)
    W, U = common.cast(kernel.data, dtype), common.cast(recurrent_kernel.data, dtype)
    b = None if bias is None else common.cast(bias.data, dtype)
    cache = _forward(x_tm, W, U, b, common.initial_state(h, B, H, dtype), None, reset_after, act, rec_act)

    def backward(g):
        common.check_cache(cache, op)
        result = list(_backward(cache, x_tm, W, U, None, reset_after, act, rec_act, None, common.cast(g, dtype),
                                common.needs_by_name(GRAD_NAMES, parents)))
        common.free_cache(cache)
        result[0] = None if result[0] is None else result[0][:, 0]  # (B, 1, D) -> (B, D)
        return tuple(common.grad_for(p, g) for p, g in zip(parents, result))

    return common.finish(op, cache, cache["hs"][1].copy(), parents, backward)
