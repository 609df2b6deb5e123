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

Backward (reset_after=True; ``dh`` is the total gradient reaching ``h_t``), as :func:`_gru_grads` writes it::

    dz_z = dh (h_{t-1} - hh) σ'(z)       da = dh (1 - z) act'(hh)          (pre-activation of hh)
    dz_r = da rh σ'(r)                   d_rh = da r
    dh_{t-1} = dh z + [d_rh, dz_z, dz_r] U_hzr^T  (+ the output gradient of step t-1)
    dW = Σ x^T [dz_z, dz_r, da],  dU = Σ h_{t-1}^T [dz_z, dz_r, d(rh)],  db[0], db[1] their sums over (t, batch)

Backward (reset_after=False; ``q = r * h_{t-1}``)::

    dz_z = dh (h_{t-1} - hh) σ'(z)       da = dh (1 - z) act'(hh)          dq = da U_h^T
    dz_r = dq h_{t-1} σ'(r)              dh_{t-1} = dh z + dq r + [dz_z, dz_r] U_zr^T  (+ output gradient)
    dW = Σ x^T [dz_z, dz_r, da],  dU = [Σ h_{t-1}^T [dz_z, dz_r] | Σ q^T da],  db = Σ [dz_z, dz_r, da]

Inside the op every per-step array is ``(features, time, batch)`` (see feature_major.py): the input projections
``x_t W`` of all steps are one product ``(3H, T, B)`` before the loop (the kernels add the bias), the states are
``hs (H, T+1, B)``, and the gate gradients are laid out so that the products after the loop read them without
copies: ``(3H, T, B)`` = [dz_z; dz_r; da] without reset_after; with it ``(4H, T, B)`` = [d(rh); dz_z; dz_r; da],
whose first three blocks are the recurrent side (``U``'s blocks taken in the order h, z, r) and whose last three
are the input side.

With reset_after, a step is one product ``U^T (3H, H) @ h_{t-1}`` and one compiled kernel for all the gate
arithmetic (:func:`gru_step`); a step backward is one kernel (:func:`gru_step_backward`) and one ``U dz_t``
product. Without reset_after, ``r`` must be known before the candidate's product, so a step is two products, each
followed by a kernel (:func:`gru_step_zr`, :func:`gru_step_candidate`), and so is a step backward
(:func:`gru_step_backward_candidate`, :func:`gru_step_backward_reset`). The loops are written once and run as
compiled code with NumPy's BLAS routine or as Python with ``np.matmul`` (paths.py).

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

from typing import NamedTuple

import numpy as np

from rnnkit.compiled import jit, jit_inline
from rnnkit.ops.recurrent import common, gate_dropout, paths, recording
from rnnkit.ops.recurrent import feature_major as fm
from rnnkit.ops.recurrent.gate_activations import get_activation
from rnnkit.ops.recurrent.kernel_math import (SIGMOID, TANH, activate_rows, add_output_grad, derivative,
                                              record_state_grad)
from rnnkit.ops.recurrent.gate_dropout import gate_product, state_grad_product
from rnnkit.ops.recurrent.paths import step_product

OP = "gru"


# ------------------------------------------------------------------------------------- the arrays
# Every per-step array is (features, time, batch) (see feature_major.py); a kernel works on the columns
# b0 <= b < b1 of step t. S is T, or 1 when no backward pass will come (every step reuses slot 0).
class Forward(NamedTuple):
    """The arrays of the forward pass (also the backward pass's cache)."""

    xw: np.ndarray  # (3H, T, B): the input projections x_t W (without bias)
    bias: np.ndarray  # (2, 3H): see _kernel_bias
    u_t: np.ndarray  # (3H, H): U^T; rows [:2H] = U_zr^T, [2H:] = U_h^T
    hs: np.ndarray  # (H, T+1, B): states, h_0 at 0
    rec: np.ndarray  # (3H, B): the step's recurrent product (rows 2H.. the candidate's)
    gates: np.ndarray  # (S, 3H, B): activated [z; r; hh] in slot k (time-major: a step's block is one run)
    rh: np.ndarray  # (H, S, B): rh = h_{t-1} U_h + b[1]_h (reset_after), q = r h_{t-1} (reset_before)
    valid: np.ndarray  # (T, B): 0 where a step is masked; (0, 0): nothing masked
    acc: np.ndarray  # (1,): unused (no batch-of-one product for the GRU)
    mult: np.ndarray | None  # (3, H, B): the recurrent dropout masks of z, r, h (gate_dropout.py); None: none
    masked: np.ndarray | None  # (H, B): a gate's masked copy of h_{t-1}; None without dropout
    hmask: np.ndarray  # (H, B): mult[2], the candidate's mask, read by the reset_before kernels; (0, 0): none


class Backward(NamedTuple):
    """The arrays of the backward pass besides the forward cache."""

    u: np.ndarray  # (H, 3H): U in the block order h, z, r (reset_after), or as given z, r, h (reset_before)
    d_out: np.ndarray  # (H, T, B): the outputs' gradient; (0, 0, 0): none
    dh: np.ndarray  # (H, B): gradient reaching h_t (see gru_step_backward)
    dq: np.ndarray  # (H, B): U_h da, the gradient of q (reset_before)
    dz: np.ndarray  # (4H, T, B) = [d(rh); dz_z; dz_r; da] (reset_after), (3H, T, B) = [dz_z; dz_r; da] (before)
    rmask: np.ndarray | None  # (3, H, B): fw.mult in the block order of u; None without dropout
    part: np.ndarray | None  # (H, B): one block's U_g dz_g before its mask; None without dropout
    dh_steps: np.ndarray  # (H, T, B): the total gradient reaching h_t, kept at each t; (0, 0, 0): not kept


# ------------------------------------------------------------------------------------- one time step
@jit
def gru_step(fw, t, k, b0, b1, act, rec_act):
    """Step ``t`` forward (reset_after=True) on columns ``[b0, b1)``, with ``rec = (h_{t-1} U)^T``: the activated
    ``[z; r; hh]`` into slot ``k`` of ``gates``, ``rh`` into slot ``k`` of ``rh``, ``h_t`` into ``hs``."""
    H = fw.hs.shape[0]
    _zr_gates(fw, t, k, b0, b1, rec_act)
    gates = fw.gates[k]  # (3H, B)
    for j in range(H):
        x_bias, rec_bias = fw.bias[0, 2 * H + j], fw.bias[1, 2 * H + j]
        rec, rh, a, r, xw = fw.rec[2 * H + j], fw.rh[j, k], gates[2 * H + j], gates[H + j], fw.xw[2 * H + j, t]
        for b in range(np.uint64(b0), np.uint64(b1)):  # unsigned: see kernel_math.activate_rows
            v = rec[b] + rec_bias
            rh[b] = v
            a[b] = xw[b] + x_bias + r[b] * v
    _candidate_and_state(fw, t, k, b0, b1, act)


@jit
def gru_step_zr(fw, t, k, b0, b1, rec_act):
    """Step ``t`` forward (reset_after=False), first part, with ``rec[:2H] = (h_{t-1} U_zr)^T``: ``[z; r]`` into
    ``gates``; ``q = r h_{t-1}`` (with recurrent dropout ``r (h_{t-1} ⊙ rm_h)``) into slot ``k`` of ``rh``, the
    right factor of the loop's next product."""
    _zr_gates(fw, t, k, b0, b1, rec_act)
    if fw.hmask.shape[0] > 0:
        _reset_state(fw, t, k, b0, b1, True)
    else:
        _reset_state(fw, t, k, b0, b1, False)


@jit_inline
def _reset_state(fw, t, k, b0, b1, dropped):
    """``q = r h_{t-1}``, ``h_{t-1}`` masked by the candidate's recurrent dropout mask when ``dropped`` (a constant
    at the call)."""
    H = fw.hs.shape[0]
    gates = fw.gates[k]  # (3H, B)
    for j in range(H):
        q, r, h_prev = fw.rh[j, k], gates[H + j], fw.hs[j, t]  # (B,) rows
        m = fw.hmask[j] if dropped else h_prev  # (B,); unread without dropout
        for b in range(np.uint64(b0), np.uint64(b1)):
            q[b] = r[b] * (h_prev[b] * m[b] if dropped else h_prev[b])


@jit
def gru_step_candidate(fw, t, k, b0, b1, act):
    """Step ``t`` forward (reset_after=False), second part, with ``rec[2H:] = (q U_h)^T``:
    ``hh = act(xw[2H:, t] + b_h + rec[2H:])`` and ``h_t``."""
    H = fw.hs.shape[0]
    gates = fw.gates[k]  # (3H, B)
    for j in range(H):
        bias_j = fw.bias[0, 2 * H + j]
        a, xw, rec = gates[2 * H + j], fw.xw[2 * H + j, t], fw.rec[2 * H + j]  # (B,) rows
        for b in range(np.uint64(b0), np.uint64(b1)):
            a[b] = xw[b] + bias_j + rec[b]
    _candidate_and_state(fw, t, k, b0, b1, act)


@jit
def _zr_gates(fw, t, k, b0, b1, rec_act):
    """``[z; r] = σ(xw[:2H, t] + bias[0, :2H] + rec[:2H])`` into ``gates[k, :2H]``."""
    H2 = 2 * fw.hs.shape[0]
    gates = fw.gates[k]  # (3H, B)
    for j in range(H2):
        bias_j = fw.bias[0, j]
        g, xw, rec = gates[j], fw.xw[j, t], fw.rec[j]  # (B,) rows
        for b in range(np.uint64(b0), np.uint64(b1)):
            g[b] = xw[b] + bias_j + rec[b]
    activate_rows(rec_act, gates, 0, H2, b0, b1)


@jit
def _candidate_and_state(fw, t, k, b0, b1, act):
    """``hh = act(gates[k, 2H:])`` (the pre-activation on entry), then ``h_t = hh + z (h_{t-1} - hh)``; a masked
    column keeps ``h_{t-1}``."""
    H = fw.hs.shape[0]
    gates = fw.gates[k]  # (3H, B)
    activate_rows(act, gates, 2 * H, 3 * H, b0, b1)
    for j in range(H):
        hh_row, z, h_prev, h_new = gates[2 * H + j], gates[j], fw.hs[j, t], fw.hs[j, t + 1]  # (B,) rows
        for b in range(np.uint64(b0), np.uint64(b1)):
            hh = hh_row[b]
            h_new[b] = hh + z[b] * (h_prev[b] - hh)
    _masked_states(fw, t, b0, b1)


@jit
def _masked_states(fw, t, b0, b1):
    """A masked column (``valid[t, b] == 0``) keeps ``h_{t-1}``."""
    if fw.valid.shape[0] > 0:
        for b in range(np.uint64(b0), np.uint64(b1)):
            if fw.valid[t, b] == 0:
                for j in range(fw.hs.shape[0]):
                    fw.hs[j, t + 1, b] = fw.hs[j, t, b]


# ------------------------------------------------------------------------------------ one step backward
# On entry ``bw.dh`` holds the gradient reaching h_t from step t + 1 (the loop's product included); the kernels add
# the output's gradient and leave in ``bw.dh`` the part of h_{t-1}'s gradient that does not pass through the next
# product: ``dh z`` (plus ``dq r`` without reset_after), or in a masked column (where every ``dz`` is 0) the whole
# incoming gradient.
@jit
def gru_step_backward(fw, bw, t, b0, b1, act, rec_act):
    """Step ``t`` backward (reset_after=True) on columns ``[b0, b1)``: writes ``dz[:, t] = [d(rh); dz_z; dz_r;
    da]`` (the first three blocks pair with ``U``'s blocks in the order h, z, r; the last three are the input
    side); the loop then adds ``U_hzr dz[:3H, t]`` to ``dh``."""
    add_output_grad(bw.dh, bw.d_out, t, b0, b1)
    record_state_grad(bw.dh_steps, bw.dh, t, b0, b1)
    masked = fw.valid.shape[0] > 0
    if act == TANH and rec_act == SIGMOID:  # the defaults: derivatives inline, the loops vectorise
        if masked:
            _gru_grads(fw, bw, t, b0, b1, TANH, SIGMOID, True, True)
        else:
            _gru_grads(fw, bw, t, b0, b1, TANH, SIGMOID, True, False)
    else:
        _gru_grads(fw, bw, t, b0, b1, act, rec_act, True, masked)


@jit
def gru_step_backward_candidate(fw, bw, t, b0, b1, act, rec_act):
    """Step ``t`` backward (reset_after=False), first part: ``dz_z`` into ``dz[:H, t]`` and ``da`` into
    ``dz[2H:, t]``; the loop then computes ``dq = U_h da`` for :func:`gru_step_backward_reset`."""
    add_output_grad(bw.dh, bw.d_out, t, b0, b1)
    record_state_grad(bw.dh_steps, bw.dh, t, b0, b1)
    masked = fw.valid.shape[0] > 0
    if act == TANH and rec_act == SIGMOID:
        if masked:
            _gru_grads(fw, bw, t, b0, b1, TANH, SIGMOID, False, True)
        else:
            _gru_grads(fw, bw, t, b0, b1, TANH, SIGMOID, False, False)
    else:
        _gru_grads(fw, bw, t, b0, b1, act, rec_act, False, masked)


@jit_inline
def _gru_grads(fw, bw, t, b0, b1, act, rec_act, reset_after, masked):
    """The backward equations of the module docstring through ``h_t = hh + z (h_{t-1} - hh)`` (both
    formulations), with reset_after also through ``hh``'s pre-activation ``xh + r rh``; once, inlined per
    activation codes, formulation and mask flag (constants at the call). A masked column's results are selected,
    not branched to, and every array is walked through a row of its own, so that the loop vectorises."""
    H = fw.hs.shape[0]
    zero, one = bw.dh.dtype.type(0), bw.dh.dtype.type(1)
    r_rows = H if reset_after else 0  # with reset_after dz has the d(rh) block first
    for j in range(H):
        z_row, r_row, hh_row = fw.gates[t, j], fw.gates[t, H + j], fw.gates[t, 2 * H + j]  # (B,) rows
        h_prev_row, rh_row, dh_row = fw.hs[j, t], fw.rh[j, t], bw.dh[j]
        valid_row = fw.valid[t] if masked else dh_row  # unread without a mask
        dz_z_row, da_row = bw.dz[r_rows + j, t], bw.dz[r_rows + 2 * H + j, t]
        d_rh_row, dz_r_row = bw.dz[j, t], bw.dz[2 * H + j, t]  # reset_after only
        for b in range(np.uint64(b0), np.uint64(b1)):  # unsigned: see kernel_math.activate_rows
            dh, z, hh = dh_row[b], z_row[b], hh_row[b]
            dz_z = dh * (h_prev_row[b] - hh) * derivative(rec_act, z)
            da = dh * (one - z) * derivative(act, hh)  # gradient of hh's pre-activation
            dh_carry = dh * z
            if masked:  # nothing flowed through the gates of a masked column: dz 0, dh carried
                keep = valid_row[b] == 0
                dz_z, da, dh_carry = (zero if keep else dz_z), (zero if keep else da), (dh if keep else dh_carry)
            dz_z_row[b], da_row[b], dh_row[b] = dz_z, da, dh_carry
            if reset_after:
                r = r_row[b]
                d_rh_row[b] = da * r
                dz_r_row[b] = da * rh_row[b] * derivative(rec_act, r)


@jit
def gru_step_backward_reset(fw, bw, t, b0, b1, rec_act):
    """Step ``t`` backward (reset_after=False), second part, from ``dq = U_h da`` (the gradient of
    ``q = r h_{t-1}``): ``dz_r = dq h_{t-1} σ'(r)`` into ``dz[H:2H, t]``, and ``dh += dq r``; the loop then adds
    ``U_zr [dz_z; dz_r]``. In a masked column ``da`` is 0, so ``dq``, ``dz_r`` and the addition are 0 too. With
    recurrent dropout ``h_{t-1}`` is ``h_{t-1} ⊙ rm_h`` in both, as in the forward pass."""
    dropped = fw.hmask.shape[0] > 0
    if rec_act == SIGMOID:
        if dropped:
            _grads_before_reset(fw, bw, t, b0, b1, SIGMOID, True)
        else:
            _grads_before_reset(fw, bw, t, b0, b1, SIGMOID, False)
    else:
        _grads_before_reset(fw, bw, t, b0, b1, rec_act, dropped)


@jit_inline
def _grads_before_reset(fw, bw, t, b0, b1, rec_act, dropped):
    """The second half of the reset_before backward equations, once; inlined per activation code and dropout
    flag."""
    H = fw.hs.shape[0]
    for j in range(H):
        r_row, dq_row, h_prev, dz_r, dh = fw.gates[t, H + j], bw.dq[j], fw.hs[j, t], bw.dz[H + j, t], bw.dh[j]
        m = fw.hmask[j] if dropped else h_prev  # (B,): the candidate's recurrent dropout mask; unread without
        for b in range(np.uint64(b0), np.uint64(b1)):
            r = r_row[b]
            dq = dq_row[b] * m[b] if dropped else dq_row[b]  # the gradient of h_{t-1} ⊙ rm_h, through rm_h
            dz_r[b] = dq * h_prev[b] * derivative(rec_act, r)
            dh[b] += dq * r


# ---------------------------------------------------------------------------------- whole sequence
def forward_loop(fw, reset_after, act, rec_act, path, gemm, b0, b1):
    """All steps forward on columns ``[b0, b1)``. Python (the NumPy path) or compiled; see paths.py."""
    H, slots = fw.hs.shape[0], fw.gates.shape[0]
    for t in range(fw.hs.shape[1] - 1):
        k = t if slots > 1 else 0
        # with recurrent dropout one product per gate over its masked h_{t-1} (gate_dropout.py)
        if reset_after:
            # (3H, H) @ (H, b1-b0)
            gate_product(path, gemm, fw.u_t, fw.hs, t, fw.rec, fw.mult, fw.masked, 3, b0, b1, fw.acc)
            gru_step(fw, t, k, b0, b1, act, rec_act)
        else:
            # (2H, H) @ (H, b1-b0)
            gate_product(path, gemm, fw.u_t[: 2 * H], fw.hs, t, fw.rec[: 2 * H], fw.mult, fw.masked, 2, b0, b1,
                         fw.acc)
            gru_step_zr(fw, t, k, b0, b1, rec_act)
            # (H, H) @ (H, b1-b0)
            step_product(path, gemm, fw.u_t[2 * H :], fw.rh[:, k, b0:b1], fw.rec[2 * H :, b0:b1], 0.0, fw.acc)
            gru_step_candidate(fw, t, k, b0, b1, act)


def backward_loop(fw, bw, reset_after, act, rec_act, to_h0, path, gemm, b0, b1):
    """All steps backward on columns ``[b0, b1)``; the last product (into ``h0``'s gradient) only when ``to_h0``."""
    H = fw.hs.shape[0]
    for t in range(fw.hs.shape[1] - 2, -1, -1):
        last = t == 0 and not to_h0
        if reset_after:
            gru_step_backward(fw, bw, t, b0, b1, act, rec_act)
            if not last:
                # (H, 3H) @ (3H, b1-b0); with recurrent dropout Σ_g rm_g ⊙ (U_g dz_g) (gate_dropout.py)
                state_grad_product(path, gemm, bw.u, bw.dz[: 3 * H, t], bw.dh, 1.0, bw.rmask, bw.part, 3, b0, b1,
                                   fw.acc)
        else:
            gru_step_backward_candidate(fw, bw, t, b0, b1, act, rec_act)
            # (H, H) @ (H, b1-b0)
            step_product(path, gemm, bw.u[:, 2 * H :], bw.dz[2 * H :, t, b0:b1], bw.dq[:, b0:b1], 0.0, fw.acc)
            gru_step_backward_reset(fw, bw, t, b0, b1, rec_act)
            if not last:
                # (H, 2H) @ (2H, b1-b0)
                state_grad_product(path, gemm, bw.u[:, : 2 * H], bw.dz[: 2 * H, t], bw.dh, 1.0, bw.rmask, bw.part,
                                   2, b0, b1, fw.acc)


_forward_compiled, _backward_compiled = jit(forward_loop), jit(backward_loop)


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


def _forward(x_fm, kernel, recurrent_kernel, bias, h0, valid, reset_after, act, rec_act, keep=True,
             masks=(None, None)) -> Forward:
    """Run all steps on ``x_fm (D, T, B)`` from Keras-layout weights; returns the arrays (the backward cache).
    With ``keep=False`` (no backward pass will come) every step reuses one slot of ``gates`` and ``rh``.
    ``masks``: the feature-major dropout masks ``(dm (3, D, B), rm (3, H, B))``, either None (gate_dropout.py)."""
    _, T, B = x_fm.shape
    H, dtype = recurrent_kernel.shape[0], x_fm.dtype
    dm, rm = masks
    slots = T if keep else 1
    xw = fm.project_inputs(x_fm, kernel) if dm is None else gate_dropout.gate_projection(x_fm, kernel, dm)
    fw = Forward(xw,  # (3H, T, B); the kernels add the bias
                _kernel_bias(bias, H, reset_after, dtype), common.transpose_copy(recurrent_kernel),  # (3H, H)
                fm.state_history(h0, T), common.aligned_empty((3 * H, B), dtype),
                common.scratch((slots, 3 * H, B), dtype),
                common.scratch((H, slots, B), dtype), common.or_empty(valid, 2, dtype), np.empty(1, dtype),
                rm, None if rm is None else common.aligned_empty((H, B), dtype),
                gate_dropout.empty(2, dtype) if rm is None else rm[2])
    paths.run(paths.choose(B, dtype, small=False), forward_loop, _forward_compiled, B, T * fw.u_t.size, fw,
              reset_after, act, rec_act)
    common.release(fw.xw)
    return fw


def _backward(fw, x_fm, kernel, recurrent_kernel, reset_after, act, rec_act, d_out, dh_last, need, dm=None,
              record=None):
    """Gradients ``{name: array}`` for the inputs named in ``need`` (``x``, ``kernel``, ``recurrent_kernel``,
    ``bias``, ``h0``) from ``d_out (H, T, B)`` (or None) and the final-state gradient ``dh_last (B, H)``;
    ``dm (3, D, B)``: the input dropout masks or None; with a ``record`` (recording.py) the per-step state
    gradients and ``x``'s gradient go into it."""
    T, H3, B = fw.hs.shape[1] - 1, fw.gates.shape[1], fw.hs.shape[2]
    H, dtype = H3 // 3, fw.gates.dtype
    dropped = fw.mult is not None
    rmask = fw.mult
    need = need if record is None else dict(need, x=True)
    if reset_after:  # U's blocks in the order h, z, r: the product's left factor for [d(rh); dz_z; dz_r]
        u = np.concatenate([recurrent_kernel[:, 2 * H :], recurrent_kernel[:, : 2 * H]], axis=1)  # (H, 3H)
        rmask = fw.mult[[2, 0, 1]] if dropped else None  # (3, H, B) in the same order h, z, r
    else:
        u = np.ascontiguousarray(recurrent_kernel)  # (H, 3H)
    bw = Backward(u, common.or_empty(d_out, 3, dtype), fm.writable_columns(dh_last),  # (B, H) -> (H, B)
                 common.aligned_empty((H, B), dtype), common.scratch((H3 + H if reset_after else H3, T, B), dtype),
                 rmask, common.aligned_empty((H, B), dtype) if dropped else None,
                 *recording.step_arrays(record, (H, T, B), dtype, 1))
    paths.run(paths.choose(B, dtype, small=False), backward_loop, _backward_compiled, B, T * u.size, fw, bw,
              reset_after, act, rec_act, need["h0"])
    rm = rmask
    if reset_after:
        grads = _grads_reset_after(bw.dz, x_fm, fw.hs, kernel, need, dm, rm)
    else:
        grads = _grads_reset_before(bw.dz, x_fm, fw.hs, fw.rh, kernel, need, dm, rm)
    grads["h0"] = bw.dh.T if need["h0"] else None  # (H, B) -> (B, H)
    common.release(bw.dz)
    if record is not None:
        record.keep(bw.dh_steps, None, grads["x"])
    return grads


def _grads_reset_after(dz, x_fm, hs, kernel, need, dm=None, rm=None):
    """The gradients after the loop with reset_after, from ``dz = [d(rh); dz_z; dz_r; da] (4H, T, B)``: the
    recurrent side ``dz[:3H]`` gives ``recurrent_kernel`` and ``bias[1]`` (in the block order h, z, r, put back to
    z, r, h), the input side ``dz[H:]`` gives ``kernel``, ``bias[0]`` and ``x``; both are views, no copies. With
    dropout, ``dm (3, D, B)`` in the order z, r, h and ``rm (3, H, B)`` in the order h, z, r mask the inputs."""
    H4, T, B = dz.shape
    H = H4 // 4
    recurrent = fm.weight_grads(dz[: 3 * H], None, hs, {"recurrent_kernel": need["recurrent_kernel"],
                                                        "bias": need["bias"]}, rm=rm)
    grads = fm.weight_grads(dz[H:], x_fm, None, {"kernel": need["kernel"], "bias": need["bias"]}, dm=dm)
    if need["recurrent_kernel"]:
        grads["recurrent_kernel"] = _from_hzr(recurrent["recurrent_kernel"], H)
    if need["bias"]:
        grads["bias"] = np.stack([grads["bias"], _from_hzr(recurrent["bias"], H)])  # (2, 3H)
    if need["x"]:
        grads["x"] = fm.input_grad(dz[H:], kernel, dm)  # (B, T, D)
    return grads


def _from_hzr(a, H):
    """``a (..., 3H)`` with gate blocks in the order h, z, r, as a new array in the order z, r, h."""
    return np.concatenate([a[..., H:], a[..., :H]], axis=-1)


def _grads_reset_before(dz, x_fm, hs, q, kernel, need, dm=None, rm=None):
    """The gradients after the loop without reset_after, from ``dz = [dz_z; dz_r; da] (3H, T, B)``; the
    candidate's block of ``recurrent_kernel`` multiplies ``q = r h_{t-1} (H, T, B)`` instead of ``h_{t-1}`` (with
    recurrent dropout ``q`` holds the masked ``h_{t-1}`` already). ``dm (3, D, B)``, ``rm (3, H, B)``: the
    dropout masks in the order z, r, h, or None."""
    GH, T, B = dz.shape
    H = GH // 3
    grads = fm.weight_grads(dz, x_fm, None, {"kernel": need["kernel"], "bias": need["bias"]}, dm=dm)
    if need["recurrent_kernel"]:
        drec = np.empty((H, GH), dz.dtype)
        drec[:, : 2 * H] = fm.weight_grads(dz[: 2 * H], None, hs, {"recurrent_kernel": True},
                                           rm=None if rm is None else rm[:2])["recurrent_kernel"]
        drec[:, 2 * H :] = np.matmul(q.reshape(H, T * B), dz[2 * H :].reshape(H, T * B).T)  # (H, T*B) @ (T*B, H)
        grads["recurrent_kernel"] = drec
    if need["x"]:
        grads["x"] = fm.input_grad(dz, kernel, dm)  # (B, T, D)
    return grads


def _run(op, x, kernel, recurrent_kernel, bias, h0, valid, reset_after, act, rec_act, keep=True, masks=(None, None),
         record=None):
    """Forward on ``x (B, T, D)`` from Keras-layout weights; returns the cache (a dict naming the states) and
    ``backward(d_out, dh_last, need)`` giving the gradients in :data:`GRAD_NAMES` order (once: it frees the
    cache). ``keep=False``: no backward pass will come (see :func:`_forward`). ``masks``: the feature-major
    dropout masks ``(dm (3, D, B), rm (3, H, B))``, either None; ``record``: see :func:`_backward`."""
    codes = (act.code, rec_act.code)
    x_fm = fm.feature_major(x, kernel.dtype)  # (B, T, D) -> (D, T, B)
    fw = _forward(x_fm, kernel, recurrent_kernel, bias, h0, valid, reset_after, *codes, keep, masks)
    cache = {"hs": fw.hs}
    common.own(cache, fw.gates, fw.rh, x_fm if keep else None)
    if not keep:
        common.release(x_fm)  # read by the weight gradients only

    def backward(d_out, dh_last, need):
        common.check_cache(cache, op)
        grads = _backward(fw, x_fm, kernel, recurrent_kernel, reset_after, *codes, d_out, dh_last, need, masks[0],
                          record)
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
        recurrent_activation="sigmoid", input_masks=None, recurrent_masks=None):
    """Run a GRU over a whole sequence as one op.

    Args:
        x: ``(B, T, D)`` inputs, batch-major.
        kernel: ``(D, 3H)``; recurrent_kernel: ``(H, 3H)``; gate order z, r, h.
        bias: ``(2, 3H)`` when ``reset_after`` (input row, recurrent row), else ``(3H,)``; or ``None``.
        h0: ``(B, H)`` initial state (may require grad) or ``None`` for zeros.
        mask: ``None`` or a ``(B, T)`` boolean array; ``False`` steps carry the state and output 0.
        reset_after: apply the reset gate after the recurrent product (True, cuDNN/PyTorch) or before (False).
        activation: for the candidate ``hh`` (default ``"tanh"``); recurrent_activation: for z, r (``"sigmoid"``).
        input_masks, recurrent_masks: ``None`` or dropout masks ``(3, B, D)`` and ``(3, B, H)``, one per gate
            z, r, h (0 dropped, ``1 / (1 - rate)`` kept): gate g reads ``x_t ⊙ input_masks[g]`` and
            ``h_{t-1} ⊙ recurrent_masks[g]``; the update ``z h_{t-1}`` uses the unmasked state (Keras'
            ``recurrent_dropout``; see gate_dropout.py).

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
    keep = common.will_backward(parents)
    record = recording.start(OP, (B, T, x.shape[2], H)) if keep else None
    masks = gate_dropout.feature_major_pair(OP, input_masks, recurrent_masks, 3, B, x.shape[2], H, dtype)
    cache, run_backward = _run(OP, x.data, W, U, b, common.initial_state(h0, B, H, dtype), valid, reset_after, act,
                               rec_act, keep, masks=masks, record=record)

    backward = fm.tape_backward(run_backward, valid, dtype, parents, GRAD_NAMES)
    hs = cache["hs"]
    datas = (fm.outputs_view(hs, valid), fm.last_state(hs))  # (B, T, H), (B, H)
    outs = common.finish(OP, cache, datas, parents, backward)
    recording.attach_outputs(record, outs[0])
    return outs



def gru_cell(x_t, h, kernel, recurrent_kernel, bias, reset_after=True, activation="tanh",
             recurrent_activation="sigmoid", input_masks=None, recurrent_masks=None):
    """One step of :func:`gru` (same arithmetic, the same optional dropout masks): ``h_new (B, H)``.

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
    masks = gate_dropout.feature_major_pair(op, input_masks, recurrent_masks, 3, B, x_t.shape[1], H, dtype)
    cache, run_backward = _run(op, x_seq, W, U, b, common.initial_state(h, B, H, dtype), None, reset_after, act,
                               rec_act, masks=masks)

    backward = fm.cell_tape_backward(run_backward, dtype, parents, GRAD_NAMES)
    return common.finish(op, cache, fm.last_state(cache["hs"]), parents, backward)
