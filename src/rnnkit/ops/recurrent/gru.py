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

Backward (reset_after=False; ``q = r * h_{t-1}``)::

    dz_z = dh (h_{t-1} - hh) σ'(z)       da = dh (1 - z) act'(hh)          dq = da U_h^T
    dz_r = dq h_{t-1} σ'(r)              dh_{t-1} = g_{t-1} + dh z + dq r + [dz_z, dz_r] U_zr^T
    dW = Σ x^T [dz_z, dz_r, da],  dU = [Σ h_{t-1}^T [dz_z, dz_r] | Σ q^T da],  db = Σ [dz_z, dz_r, da]

Inside the op everything is feature-major (see feature_major.py): the input projections ``x_t W`` of all steps
are one product ``(3H, T, B)`` before the loop (the kernels add the bias), the states are ``hs (H, T+1, B)``, and
the gate gradients are laid out so that the products after the loop read them without copies: ``(3H, T, B)`` =
[dz_z; dz_r; da] without reset_after; with it ``(4H, T, B)`` = [d(rh); dz_z; dz_r; da], whose first three blocks
are the recurrent side (``U``'s blocks taken in the order h, z, r) and whose last three are the input side.

With reset_after, a step is one product ``U^T (3H, H) @ h_{t-1}`` and one compiled kernel for all the gate
arithmetic (:func:`gru_step`); a step backward is one kernel (:func:`gru_step_backward`) and one ``U dz_t``
product. These loops run whole in compiled code, calling NumPy's BLAS routine for the products (blas.py; a NumPy
loop where that routine cannot be found). Without reset_after, ``r`` must be known before the candidate's
product, so a step is two products, each followed by a kernel (:func:`gru_step_zr`, :func:`gru_step_candidate`),
and so is a step backward (:func:`gru_step_backward_candidate`, :func:`gru_step_backward_reset`); those loops
stay in Python.

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

from rnnkit import blas
from rnnkit.compiled import compilable
from rnnkit.ops.recurrent import common
from rnnkit.ops.recurrent import feature_major as fm
from rnnkit.ops.recurrent.gate_activations import get_activation
from rnnkit.ops.recurrent.kernel_math import SIGMOID, TANH, activate_inplace, derivative_row, jit

OP = "gru"


# ------------------------------------------------------------------------------------- one time step
# Per-step arrays are feature-major (see feature_major.py): gates (3H, B) = [z; r; hh] blocks of (H, B) rows, one
# contiguous block per step. ``xw (3H, T, B)``: the input projections ``x_t W`` (without bias); ``rec (3H, B)``:
# the caller's recurrent product for the step (rows 2H.. the candidate's); ``bias (2, 3H)``: see
# :func:`_kernel_bias`. Kernels take whole arrays and indices, so that every row their loops walk is known to be
# contiguous and vectorises.
@jit
def _zr_gates(t, k, xw, rec, bias, rec_act, gates):
    """``[z; r] = σ(xw[:2H, t] + bias[0, :2H] + rec[:2H])`` into ``gates[k, :2H]``."""
    H2, B = 2 * (gates.shape[1] // 3), gates.shape[2]
    g = gates[k]  # (3H, B)
    for j in range(H2):
        x_j, rec_j, g_j, bias_j = xw[j, t], rec[j], g[j], bias[0, j]
        for b in range(B):
            g_j[b] = x_j[b] + bias_j + rec_j[b]
    activate_inplace(rec_act, g.reshape(-1)[: H2 * B])  # (2H*B,): z, r in one call


@jit
def _new_state(t, k, hs, valid, gates):
    """``h_t = hh + z (h_{t-1} - hh)`` into ``hs[:, t + 1]`` (``hs (H, T+1, B)``) from the activated ``gates[k]``;
    a masked column (``valid[t, b] == 0``; ``valid`` zero-length: nothing masked) keeps ``h_{t-1}``."""
    H, B = hs.shape[0], hs.shape[2]
    masked = valid.shape[0] > 0
    for j in range(H):
        z, hh, h_prev, h_new = gates[k, j], gates[k, 2 * H + j], hs[j, t], hs[j, t + 1]
        for b in range(B):
            h_new[b] = hh[b] + z[b] * (h_prev[b] - hh[b])
        if masked:
            for b in range(B):
                if valid[t, b] == 0:
                    h_new[b] = h_prev[b]


@jit
def gru_step(t, k, xw, rec, bias, hs, valid, act, rec_act, gates, rh):
    """Step ``t`` forward (reset_after=True) for the whole batch.

    ``rec (3H, B) = (h_{t-1} U)^T``. Writes the activated ``[z; r; hh]`` to ``gates[k] (3H, B)``,
    ``rh = h_{t-1} U_h + b[1]_h`` to ``rh[:, k]`` (``rh (H, T, B)``) and ``h_t`` to ``hs[:, t + 1]``. ``valid``: see
    :func:`_new_state`; ``act``, ``rec_act``: activation codes (see kernel_math).
    """
    H, B = hs.shape[0], hs.shape[2]
    _zr_gates(t, k, xw, rec, bias, rec_act, gates)
    g = gates[k]  # (3H, B)
    for j in range(H):
        x_j, rec_j, r_j, rh_j, a_j = xw[2 * H + j, t], rec[2 * H + j], g[H + j], rh[j, k], g[2 * H + j]
        x_bias, rec_bias = bias[0, 2 * H + j], bias[1, 2 * H + j]
        for b in range(B):
            v = rec_j[b] + rec_bias
            rh_j[b] = v
            a_j[b] = x_j[b] + x_bias + r_j[b] * v
    activate_inplace(act, g.reshape(-1)[2 * H * B :])  # (H*B,): hh
    _new_state(t, k, hs, valid, gates)


@jit
def gru_step_zr(t, k, xw, rec, bias, hs, rec_act, gates, rh):
    """Step ``t`` forward (reset_after=False), first part: ``[z; r]`` into ``gates[k, :2H]`` with
    ``rec[:2H] = (h_{t-1} U_zr)^T``; ``q = r h_{t-1}`` into ``rh[:, k]`` (``rh (H, T, B)``), the right factor of
    the caller's next product."""
    H, B = hs.shape[0], hs.shape[2]
    _zr_gates(t, k, xw, rec, bias, rec_act, gates)
    for j in range(H):
        r_j, h_prev, q_j = gates[k, H + j], hs[j, t], rh[j, k]
        for b in range(B):
            q_j[b] = r_j[b] * h_prev[b]


@jit
def gru_step_candidate(t, k, xw, rec, bias, hs, valid, act, gates):
    """Step ``t`` forward (reset_after=False), second part: ``hh = act(xw[2H:, t] + b_h + rec[2H:])`` into
    ``gates[k, 2H:]``, with ``rec[2H:] = (q U_h)^T``, and ``h_t`` into ``hs[:, t + 1]`` (see :func:`_new_state`)."""
    H, B = hs.shape[0], hs.shape[2]
    g = gates[k]  # (3H, B)
    for j in range(H):
        x_j, rec_j, a_j, bias_j = xw[2 * H + j, t], rec[2 * H + j], g[2 * H + j], bias[0, 2 * H + j]
        for b in range(B):
            a_j[b] = x_j[b] + bias_j + rec_j[b]
    activate_inplace(act, g.reshape(-1)[2 * H * B :])  # (H*B,): hh
    _new_state(t, k, hs, valid, gates)


# ------------------------------------------------------------------------------------ one step backward
# ``dh (H, B)`` enters a step backward holding the gradient that reached h_t directly (``dh_{t+1} z_{t+1}``, or
# all of it across a masked step), and ``rec (H, B)`` the caller's product for the step after (``U dz_{t+1}``,
# zeros at the last step); the kernel adds them and the output's gradient, and leaves ``dh z`` (or, in a masked
# column, the whole gradient) in ``dh``. ``work (4, H*B)``: workspace, row 3 the incoming gradient.
@jit
def _incoming_grad(t, dh, rec, d_out, valid, saved):
    """``dh += rec + d_out[:, t]`` (``d_out (H, T, B)``; zero-length: no output gradient): the total gradient
    reaching ``h_t``, copied to ``saved (H*B,)`` when a mask is given."""
    H, B = dh.shape
    has_out = d_out.shape[0] > 0
    for j in range(H):
        dh_j, rec_j = dh[j], rec[j]
        if has_out:
            out_j = d_out[j, t]
            for b in range(B):
                dh_j[b] += rec_j[b] + out_j[b]
        else:
            for b in range(B):
                dh_j[b] += rec_j[b]
    if valid.shape[0] > 0:
        saved[:] = dh.reshape(-1)


@jit
def _carry_masked(t, dh, saved, valid, dz):
    """In the masked columns of step ``t`` nothing flowed through the gates: every row of ``dz[:, t]`` is 0 and
    ``dh`` gets back the whole incoming gradient ``saved``."""
    H, B = dh.shape
    for b in range(B):
        if valid[t, b] == 0:
            for j in range(dz.shape[0]):
                dz[j, t, b] = 0
            for j in range(H):
                dh[j, b] = saved[j * B + b]


@jit
def gru_step_backward(t, dh, rec, d_out, gates, hs, rh, valid, act, rec_act, dz, work):
    """Step ``t`` backward (reset_after=True) for the whole batch; the product ``U_hzr dz[:3H, t]`` is left to the
    caller.

    ``dh``, ``rec``, ``d_out``, ``work``: see above. Writes ``dz[:, t] (4H, B) = [d(rh); dz_z; dz_r; da]``: its
    first three blocks are the recurrent side (paired with ``U``'s blocks in the order h, z, r), its last three
    the input side (see :func:`_backward`). ``gates (T, 3H, B)``, ``rh (H, T, B)``: the forward cache;
    ``hs (H, T+1, B)``: the states.
    """
    _incoming_grad(t, dh, rec, d_out, valid, work[3])
    if act == TANH and rec_act == SIGMOID:
        _gate_grads_tanh_sigmoid(t, dh, gates, hs, rh, dz)
    else:
        _gate_grads(t, dh, gates, hs, rh, act, rec_act, dz, work)
    if valid.shape[0] > 0:
        _carry_masked(t, dh, work[3], valid, dz)


@jit
def _gate_grads(t, dh, gates, hs, rh, act, rec_act, dz, work):
    """The gate gradients of :func:`gru_step_backward` for any activations, their derivatives first computed into
    ``work`` one gate block at a time (a code tested per element would keep the loop scalar)."""
    H, B = dh.shape
    n = H * B
    one = dh.dtype.type(1)
    g = gates[t].reshape(-1)  # (3H*B,): blocks z, r, hh
    z, r, hh = g[:n], g[n : 2 * n], g[2 * n :]
    sz, sr, sa = work[0], work[1], work[2]
    derivative_row(rec_act, z, sz)  # σ'(z) etc., written with the gates' outputs
    derivative_row(rec_act, r, sr)
    derivative_row(act, hh, sa)
    for j in range(H):
        dh_j, h_prev, rh_j = dh[j], hs[j, t], rh[j, t]
        drh, dzz, dzr, da = dz[j, t], dz[H + j, t], dz[2 * H + j, t], dz[3 * H + j, t]
        for b in range(B):
            e = j * B + b
            d = dh_j[b]
            a = d * (one - z[e]) * sa[e]  # gradient of hh's pre-activation
            drh[b] = a * r[e]
            dzz[b] = d * (h_prev[b] - hh[e]) * sz[e]
            dzr[b] = a * rh_j[b] * sr[e]
            da[b] = a
            dh_j[b] = d * z[e]


@jit
def _gate_grads_tanh_sigmoid(t, dh, gates, hs, rh, dz):
    """:func:`_gate_grads` for the default activations (tanh, sigmoid), their derivatives written inline: one pass
    instead of four."""
    H, B = dh.shape
    n = H * B
    one = dh.dtype.type(1)
    g = gates[t].reshape(-1)  # (3H*B,): blocks z, r, hh
    z, r, hh = g[:n], g[n : 2 * n], g[2 * n :]
    for j in range(H):
        dh_j, h_prev, rh_j = dh[j], hs[j, t], rh[j, t]
        drh, dzz, dzr, da = dz[j, t], dz[H + j, t], dz[2 * H + j, t], dz[3 * H + j, t]
        for b in range(B):
            e = j * B + b
            d, ze, re, he = dh_j[b], z[e], r[e], hh[e]
            a = d * (one - ze) * (one - he * he)
            drh[b] = a * re
            dzz[b] = d * (h_prev[b] - he) * ze * (one - ze)
            dzr[b] = a * rh_j[b] * re * (one - re)
            da[b] = a
            dh_j[b] = d * ze


@jit
def gru_step_backward_candidate(t, dh, rec, d_out, gates, hs, valid, act, rec_act, dz, work):
    """Step ``t`` backward (reset_after=False), first part: ``dz_z`` into ``dz[:H, t]`` and ``da`` into
    ``dz[2H:, t]``; the caller then computes ``dq = U_h da`` for :func:`gru_step_backward_reset`. ``dh``, ``rec``,
    ``d_out``, ``work``: see above; in a masked column every ``dz[:, t]`` row is 0."""
    H, B = dh.shape
    n = H * B
    one = dh.dtype.type(1)
    _incoming_grad(t, dh, rec, d_out, valid, work[3])
    g = gates[t].reshape(-1)  # (3H*B,): blocks z, r, hh
    z, hh = g[:n], g[2 * n :]
    if act == TANH and rec_act == SIGMOID:  # derivatives inline: one pass instead of three
        for j in range(H):
            dh_j, h_prev, dzz, da_j = dh[j], hs[j, t], dz[j, t], dz[2 * H + j, t]
            for b in range(B):
                e = j * B + b
                d, ze, he = dh_j[b], z[e], hh[e]
                dzz[b] = d * (h_prev[b] - he) * ze * (one - ze)
                da_j[b] = d * (one - ze) * (one - he * he)
                dh_j[b] = d * ze
    else:
        sz, sa = work[0], work[2]
        derivative_row(rec_act, z, sz)
        derivative_row(act, hh, sa)
        for j in range(H):
            dh_j, h_prev, dzz, da_j = dh[j], hs[j, t], dz[j, t], dz[2 * H + j, t]
            for b in range(B):
                e = j * B + b
                d = dh_j[b]
                dzz[b] = d * (h_prev[b] - hh[e]) * sz[e]
                da_j[b] = d * (one - z[e]) * sa[e]
                dh_j[b] = d * z[e]
    if valid.shape[0] > 0:
        _carry_masked(t, dh, work[3], valid, dz)


@jit
def gru_step_backward_reset(t, dh, dq, gates, hs, rec_act, dz, work):
    """Step ``t`` backward (reset_after=False), second part: from ``dq (H, B) = U_h da`` (the gradient of
    ``q = r h_{t-1}``) writes ``dz_r`` into ``dz[H:2H, t]`` and adds ``dq r`` to ``dh``; the caller then adds
    ``U_zr [dz_z; dz_r]``. In a masked column ``da`` is 0, so ``dq``, ``dz_r`` and the addition are 0 too."""
    H, B = dh.shape
    n = H * B
    one = dh.dtype.type(1)
    r = gates[t].reshape(-1)[n : 2 * n]  # (H*B,)
    if rec_act == SIGMOID:  # σ' inline: one pass instead of two
        for j in range(H):
            dh_j, dq_j, h_prev, dzr = dh[j], dq[j], hs[j, t], dz[H + j, t]
            for b in range(B):
                re = r[j * B + b]
                dzr[b] = dq_j[b] * h_prev[b] * re * (one - re)
                dh_j[b] += dq_j[b] * re
    else:
        sr = work[1]
        derivative_row(rec_act, r, sr)
        for j in range(H):
            dh_j, dq_j, h_prev, dzr = dh[j], dq[j], hs[j, t], dz[H + j, t]
            for b in range(B):
                e = j * B + b
                dzr[b] = dq_j[b] * h_prev[b] * sr[e]
                dh_j[b] += dq_j[b] * r[e]


# ---------------------------------------------------------------------------------- whole sequence
def _kernel_bias(bias, H, reset_after, dtype):
    """The bias as the forward kernels add it, ``(2, 3H)``: row 0 to the input projection, row 1's h part to
    ``h_{t-1} U_h`` before ``r`` multiplies it (reset_after; zeros otherwise). With reset_after the recurrent bias
    of z and r is folded into row 0: the two are only ever summed. Zeros without a bias."""
    out = np.zeros((2, 3 * H), dtype)
    if bias is None:
        return out
    if not reset_after:
        out[0] = bias
        return out
    out[0] = bias[0]
    out[0, : 2 * H] += bias[1, : 2 * H]
    out[1, 2 * H :] = bias[1, 2 * H :]
    return out


def _forward(x_fm, kernel, recurrent_kernel, bias, h0, valid, reset_after, act, rec_act, keep=True):
    """Run all steps on ``x_fm (D, T, B)`` from Keras-layout weights; returns the cache: activated gates
    ``(T, 3H, B)`` = [z; r; hh], states ``hs (H, T+1, B)``, ``rh (H, T, B)`` (``h_{t-1} U_h + b[1]_h`` with
    reset_after, ``r h_{t-1}`` without) and the inputs. ``valid (T, B)``: the mask rows, or None.

    With ``keep=False`` (no backward pass will come) every step reuses one gate block and one ``rh`` block, and
    the inputs are released at once; only the states are kept.
    """
    _, T, B = x_fm.shape
    H = recurrent_kernel.shape[0]
    dtype = x_fm.dtype
    xw = fm.project_inputs(x_fm, kernel)  # (3H, T, B); the kernels add the bias
    bias = _kernel_bias(bias, H, reset_after, dtype)  # (2, 3H)
    hs = fm.state_history(h0, T)  # (H, T+1, B)
    slots = T if keep else 1
    gates = common.scratch((slots, 3 * H, B), dtype)
    rh = common.scratch((H, slots, B), dtype)
    cache = {"gates": gates, "rh": rh, "hs": hs, "x": x_fm if keep else None}
    common.own(cache, gates, rh, x_fm if keep else None)
    if not keep:
        common.release(x_fm)  # read by the weight gradients only
    rows = common.or_empty(valid, 2, dtype)  # the mask rows; zero-length: no mask
    rec = np.empty((3 * H, B), dtype)
    if reset_after:
        u_t = common.transpose_copy(recurrent_kernel)  # (H, 3H) -> (3H, H)
        gemm = blas.gemm_address(dtype) if compilable(u_t, hs) else 0
        loop = _compiled_loop if gemm else _numpy_loop
        loop(gemm, u_t, xw, rec, bias, hs, rows, act, rec_act, gates, rh, keep)
    else:
        u_zr_t = common.transpose_copy(recurrent_kernel[:, : 2 * H])  # (H, 2H) -> (2H, H)
        u_h_t = common.transpose_copy(recurrent_kernel[:, 2 * H :])  # (H, H) -> (H, H)
        rec_zr, rec_h = rec[: 2 * H], rec[2 * H :]  # (2H, B), (H, B)
        for t in range(T):
            k = t if keep else 0
            np.matmul(u_zr_t, hs[:, t], out=rec_zr)  # (2H, H) @ (H, B)
            gru_step_zr(t, k, xw, rec, bias, hs, rec_act, gates, rh)
            np.matmul(u_h_t, rh[:, k], out=rec_h)  # (H, H) @ (H, B)
            gru_step_candidate(t, k, xw, rec, bias, hs, rows, act, gates)
    common.release(xw)
    return cache


def _numpy_loop(gemm, u_t, xw, rec, bias, hs, rows, act, rec_act, gates, rh, keep):
    """:func:`_forward`'s time loop with reset_after and NumPy's product (``gemm`` unused)."""
    for t in range(hs.shape[1] - 1):
        k = t if keep else 0  # the step's slot in gates and rh
        np.matmul(u_t, hs[:, t], out=rec)  # (3H, H) @ (H, B)
        gru_step(t, k, xw, rec, bias, hs, rows, act, rec_act, gates, rh)


@jit
def _compiled_loop(gemm, u_t, xw, rec, bias, hs, rows, act, rec_act, gates, rh, keep):
    """:func:`_numpy_loop` whole in compiled code, the product from the BLAS routine at ``gemm`` (blas.py)."""
    for t in range(hs.shape[1] - 1):
        k = t if keep else 0
        blas.matmul_into(gemm, u_t, hs[:, t], rec, 0.0)  # (3H, H) @ (H, B)
        gru_step(t, k, xw, rec, bias, hs, rows, act, rec_act, gates, rh)


def _backward_reset_after(cache, recurrent_kernel, rows, outs, act, rec_act, dh, dz, need_h0):
    """The time loop backward (reset_after=True): fills ``dz (4H, T, B)`` (see :func:`gru_step_backward`);
    returns ``dh (H, B)`` reaching ``h0`` (None unless ``need_h0``)."""
    gates, hs, rh = cache["gates"], cache["hs"], cache["rh"]
    T, H3, B = gates.shape
    H = H3 // 3
    u_hzr = np.concatenate([recurrent_kernel[:, 2 * H :], recurrent_kernel[:, : 2 * H]], axis=1)  # (H, 3H): h, z, r
    rec = np.zeros_like(dh)  # U dz_{t+1}: nothing after the last step
    work = common.scratch((4, H * B), gates.dtype)
    gemm = blas.gemm_address(gates.dtype) if compilable(u_hzr, gates) else 0
    loop = _compiled_backward_loop if gemm else _numpy_backward_loop
    loop(gemm, u_hzr, dh, rec, outs, gates, hs, rh, rows, act, rec_act, dz, work, need_h0)
    common.release(work)
    return dh + rec if need_h0 else None


def _numpy_backward_loop(gemm, u_hzr, dh, rec, outs, gates, hs, rh, rows, act, rec_act, dz, work, need_h0):
    """:func:`_backward_reset_after`'s time loop with NumPy's product (``gemm`` unused)."""
    H3 = gates.shape[1]
    for t in range(gates.shape[0] - 1, -1, -1):
        gru_step_backward(t, dh, rec, outs, gates, hs, rh, rows, act, rec_act, dz, work)
        if t > 0 or need_h0:
            np.matmul(u_hzr, dz[:H3, t], out=rec)  # (H, 3H) @ (3H, B)


@jit
def _compiled_backward_loop(gemm, u_hzr, dh, rec, outs, gates, hs, rh, rows, act, rec_act, dz, work, need_h0):
    """:func:`_numpy_backward_loop` whole in compiled code, the product from the BLAS routine at ``gemm``."""
    H3 = gates.shape[1]
    for t in range(gates.shape[0] - 1, -1, -1):
        gru_step_backward(t, dh, rec, outs, gates, hs, rh, rows, act, rec_act, dz, work)
        if t > 0 or need_h0:
            blas.matmul_into(gemm, u_hzr, dz[:H3, t], rec, 0.0)  # (H, 3H) @ (3H, B)


def _backward_reset_before(cache, recurrent_kernel, rows, outs, act, rec_act, dh, dz, need_h0):
    """The time loop backward (reset_after=False): fills ``dz (3H, T, B)``; returns ``dh (H, B)`` reaching
    ``h0`` (None unless ``need_h0``)."""
    gates, hs = cache["gates"], cache["hs"]
    T, H3, B = gates.shape
    H = H3 // 3
    u_zr = np.ascontiguousarray(recurrent_kernel[:, : 2 * H])  # (H, 2H)
    u_h = np.ascontiguousarray(recurrent_kernel[:, 2 * H :])  # (H, H)
    rec, dq = np.zeros_like(dh), np.empty_like(dh)  # U_zr [dz_z; dz_r]_{t+1} (nothing after the last step), U_h da
    work = common.scratch((4, H * B), gates.dtype)
    for t in range(T - 1, -1, -1):
        gru_step_backward_candidate(t, dh, rec, outs, gates, hs, rows, act, rec_act, dz, work)
        np.matmul(u_h, dz[2 * H :, t], out=dq)  # (H, H) @ (H, B)
        gru_step_backward_reset(t, dh, dq, gates, hs, rec_act, dz, work)
        if t > 0 or need_h0:
            np.matmul(u_zr, dz[: 2 * H, t], out=rec)  # (H, 2H) @ (2H, B)
    common.release(work)
    return dh + rec if need_h0 else None


def _grads_reset_after(dz, x_fm, hs, kernel, need):
    """The gradients after the loop with reset_after, from ``dz = [d(rh); dz_z; dz_r; da] (4H, T, B)``: the
    recurrent side ``dz[:3H]`` gives ``recurrent_kernel`` and ``bias[1]`` (in the block order h, z, r, put back to
    z, r, h), the input side ``dz[H:]`` gives ``kernel``, ``bias[0]`` and ``x``; both are views, no copies."""
    H4, T, B = dz.shape
    H = H4 // 4
    recurrent = fm.weight_grads(dz[: 3 * H], None, hs, {"recurrent_kernel": need["recurrent_kernel"],
                                                        "bias": need["bias"]})
    grads = fm.weight_grads(dz[H:], x_fm, None, {"kernel": need["kernel"], "bias": need["bias"]})
    if need["recurrent_kernel"]:
        grads["recurrent_kernel"] = _from_hzr(recurrent["recurrent_kernel"], H)
    if need["bias"]:
        grads["bias"] = np.stack([grads["bias"], _from_hzr(recurrent["bias"], H)])  # (2, 3H)
    if need["x"]:
        grads["x"] = fm.input_grad(dz[H:], kernel)  # (B, T, D)
    return grads


def _from_hzr(a, H):
    """``a (..., 3H)`` with gate blocks in the order h, z, r, as a new array in the order z, r, h."""
    return np.concatenate([a[..., H:], a[..., :H]], axis=-1)


def _grads_reset_before(dz, x_fm, hs, q, kernel, need):
    """The gradients after the loop without reset_after, from ``dz = [dz_z; dz_r; da] (3H, T, B)``; the
    candidate's block of ``recurrent_kernel`` multiplies ``q = r h_{t-1} (H, T, B)`` instead of ``h_{t-1}``."""
    GH, T, B = dz.shape
    H = GH // 3
    grads = fm.weight_grads(dz, x_fm, None, {"kernel": need["kernel"], "bias": need["bias"]})
    if need["recurrent_kernel"]:
        drec = np.empty((H, GH), dz.dtype)
        drec[:, : 2 * H] = fm.weight_grads(dz[: 2 * H], None, hs, {"recurrent_kernel": True})["recurrent_kernel"]
        drec[:, 2 * H :] = np.matmul(q.reshape(H, T * B), dz[2 * H :].reshape(H, T * B).T)  # (H, T*B) @ (T*B, H)
        grads["recurrent_kernel"] = drec
    if need["x"]:
        grads["x"] = fm.input_grad(dz, kernel)  # (B, T, D)
    return grads


def _backward(cache, kernel, recurrent_kernel, valid, reset_after, act, rec_act, d_out, dh_last, need):
    """Gradients ``{name: array}`` for the inputs named in ``need`` (``x``, ``kernel``, ``recurrent_kernel``,
    ``bias``, ``h0``) from ``d_out (H, T, B)`` (or None) and the final-state gradient ``dh_last (B, H)``."""
    gates, hs, x_fm = cache["gates"], cache["hs"], cache["x"]
    T, H3, B = gates.shape
    dtype = gates.dtype
    dz = common.scratch((H3 + H3 // 3 if reset_after else H3, T, B), dtype)  # see the loops
    dh = dh_last.T.copy()  # (B, H) -> (H, B); a copy: the kernels write into it
    rows = common.or_empty(valid, 2, dtype)  # the mask rows; zero-length: no mask
    outs = common.or_empty(d_out, 3, dtype)  # zero-length: no output gradient
    if reset_after:
        dh0 = _backward_reset_after(cache, recurrent_kernel, rows, outs, act, rec_act, dh, dz, need["h0"])
        grads = _grads_reset_after(dz, x_fm, hs, kernel, need)
    else:
        dh0 = _backward_reset_before(cache, recurrent_kernel, rows, outs, act, rec_act, dh, dz, need["h0"])
        grads = _grads_reset_before(dz, x_fm, hs, cache["rh"], kernel, need)
    grads["h0"] = None if dh0 is None else dh0.T  # (H, B) -> (B, H)
    common.release(dz)
    return grads


def _run(op, x, kernel, recurrent_kernel, bias, h0, valid, reset_after, act, rec_act, keep=True):
    """Forward on ``x (B, T, D)`` from Keras-layout weights; returns the cache and ``backward(d_out, dh_last,
    need)`` giving the gradients in :data:`GRAD_NAMES` order (once: it frees the cache). ``keep=False``: no
    backward pass will come (see :func:`_forward`)."""
    codes = (act.code, rec_act.code)
    x_fm = fm.feature_major(x, kernel.dtype)  # (B, T, D) -> (D, T, B)
    cache = _forward(x_fm, kernel, recurrent_kernel, bias, h0, valid, reset_after, *codes, keep)

    def backward(d_out, dh_last, need):
        common.check_cache(cache, op)
        grads = _backward(cache, kernel, recurrent_kernel, valid, reset_after, *codes, d_out, dh_last, need)
        common.free_cache(cache)
        return tuple(grads.get(name) for name in GRAD_NAMES)

    return cache, backward


def _checked(op, x_shape, kernel, recurrent_kernel, bias, h0, reset_after, activation, recurrent_activation):
    """Checks shared by :func:`gru` and :func:`gru_cell`; returns ``(B, T, H, act, rec_act)``."""
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
    valid = common.mask_rows(mask, B, T, dtype)  # (T, B) or None
    W, U = common.cast(kernel.data, dtype), common.cast(recurrent_kernel.data, dtype)
    b = None if bias is None else common.cast(bias.data, dtype)
    cache, run_backward = _run(OP, x.data, W, U, b, common.initial_state(h0, B, H, dtype), valid, reset_after, act,
                               rec_act, keep=common.will_backward(parents))

    backward = fm.tape_backward(run_backward, valid, dtype, parents, GRAD_NAMES)
    hs = cache["hs"]
    datas = (fm.outputs_view(hs, valid), fm.last_state(hs))  # (B, T, H), (B, H)
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
    W, U = common.cast(kernel.data, dtype), common.cast(recurrent_kernel.data, dtype)
    b = None if bias is None else common.cast(bias.data, dtype)
    x_seq = x_t.data[:, None]  # (B, D) -> (B, 1, D)
    cache, run_backward = _run(op, x_seq, W, U, b, common.initial_state(h, B, H, dtype), None, reset_after, act,
                               rec_act)

    backward = fm.cell_tape_backward(run_backward, dtype, parents, GRAD_NAMES)
    return common.finish(op, cache, fm.last_state(cache["hs"]), parents, backward)
