"""The simple (Elman) recurrent network over a whole sequence, with hand-derived backpropagation through time.

    z_t = x_t W + h_{t-1} U + b          W: kernel (D, H), U: recurrent_kernel (H, H), b: bias (H,)
    h_t = act(z_t)                       act: "tanh" (default), "relu", ... (see kernel_math)

With a mask, a masked step keeps the state (``h_t = h_{t-1}``) and outputs 0, as Keras does.

Backward, from the gradient ``g_t`` of the outputs and ``g_T`` of the last state (``dh`` is the total gradient
reaching the state ``h_t``):

    dz_t     = dh_t * act'(z_t)                           act' written with act(z_t) (kernel_math)
    dh_{t-1} = g_{t-1} + dz_t U^T
    dW = sum_t x_t^T dz_t,  dU = sum_t h_{t-1}^T dz_t,  db = sum_t dz_t,  dx_t = dz_t W^T

Each step is one product, ``[W^T | b | U^T] @ [x_t; 1; h_{t-1}]`` in the stacked layout of feature_major.py, and
one compiled kernel (:func:`simple_rnn_step`); a step backward is one kernel (:func:`simple_rnn_step_backward`)
and one ``U dz_t`` product. The loops run whole in compiled code, calling NumPy's BLAS routine for the products
(blas.py; a NumPy loop where that routine cannot be found), and at batch size 1 computing the product themselves
(small_batch.py). The sums for ``dW``, ``db`` and ``dU`` are one product after the loop, ``dx`` another.

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

from rnnkit import blas
from rnnkit.compiled import compilable
from rnnkit.ops.recurrent import common
from rnnkit.ops.recurrent import feature_major as fm
from rnnkit.ops.recurrent import small_batch
from rnnkit.ops.recurrent.gate_activations import get_activation
from rnnkit.ops.recurrent.kernel_math import activate_inplace, derivative_row, jit

OP = "simple_rnn"


# ------------------------------------------------------------------------------------- one time step
# Per-step arrays are feature-major (see feature_major.py): a step's candidates are one (H, B) block.
@jit
def simple_rnn_step(t, k, hs, valid, act, cand):
    """Step ``t`` forward for the whole batch. ``cand[k] (H, B)`` holds ``z_t^T`` on entry and ``act(z_t)^T`` on
    exit; ``h_t`` is written to ``hs[:, t + 1]`` (``hs (H, T+1, B)``). ``valid (T, B)``: 0 where a step is masked
    (that column keeps ``h_{t-1}``); zero-length when nothing is masked. ``act``: activation code (kernel_math)."""
    H, B = cand.shape[1], cand.shape[2]
    activate_inplace(act, cand[k].reshape(-1))  # (H*B,)
    masked = valid.shape[0] > 0
    for j in range(H):
        y, h_new = cand[k, j], hs[j, t + 1]
        for b in range(B):
            h_new[b] = y[b]
        if masked:
            for b in range(B):
                if valid[t, b] == 0:
                    h_new[b] = hs[j, t, b]


@jit
def simple_rnn_step_backward(t, dh, d_out, cand, valid, act, dz, work):
    """Step ``t`` backward for the whole batch; the product ``U dz_t`` is left to the caller.

    ``dh (H, B)``: the gradient reaching ``h_t`` from later steps; ``d_out[:, t]``: the gradient of this step's
    output (``d_out (H, T, B)``, zero-length when there is none). Writes ``dz[:, t] (H, B) = dh * act'(z_t)``. In
    a masked column (``valid[t, b] == 0``) ``dz`` is 0 and ``dh`` keeps its value (it passes to ``h_{t-1}``, and
    the caller adds ``U dz_t``); in the other columns ``dh`` is set to 0 when a mask is given (without a mask the
    caller replaces ``dh``). ``work (H*B,)``: workspace.
    """
    H, B = dh.shape
    has_out, masked = d_out.shape[0] > 0, valid.shape[0] > 0
    derivative_row(act, cand[t].reshape(-1), work)  # act'(z_t), written with act(z_t)
    for j in range(H):
        dzj, dhj = dz[j, t], dh[j]
        if has_out:
            g_out = d_out[j, t]
            for b in range(B):
                dhj[b] += g_out[b]
        for b in range(B):
            dzj[b] = dhj[b] * work[j * B + b]
        if masked:
            for b in range(B):
                if valid[t, b] == 0:
                    dzj[b] = 0
                else:
                    dhj[b] = 0


# ---------------------------------------------------------------------------------- whole sequence
def _forward(xh, D, weights, valid, act, keep=True):
    """Run all steps on the stacked ``xh (D+1+H, T+1, B)`` (inputs, ones, states; it receives the states) with
    ``weights`` from ``fm.step_weights`` (``[W^T | b | U^T] (H, D+1+H)``, or untransposed for a batch of one);
    returns the cache: candidates ``cand (T, H, B)`` = act(z_t) and the states. ``valid (T, B)``: the mask rows,
    or None. With ``keep=False`` (no backward pass will come) every step reuses one candidate block."""
    _, T1, B = xh.shape
    T, H = T1 - 1, xh.shape[0] - D - 1
    hs = fm.states(xh, D)  # (H, T+1, B)
    cand = common.scratch((T if keep else 1, H, B), xh.dtype)
    cache = {"cand": cand, "xh": xh, "hs": hs}
    common.own(cache, cand)
    rows = common.or_empty(valid, 2, xh.dtype)  # the mask rows; zero-length: no mask
    gemm = blas.gemm_address(xh.dtype)
    if B <= small_batch.MAX_BATCH:
        _small_batch_loop(weights, xh, hs, rows, act, cand, keep)
    elif gemm:
        _compiled_loop(gemm, weights, xh, hs, rows, act, cand, keep)
    else:
        _numpy_loop(weights, xh, hs, rows, act, cand, keep)
    return cache


def _numpy_loop(weights, xh, hs, rows, act, cand, keep):
    """:func:`_forward`'s time loop with NumPy's product, where no BLAS can be called from compiled code."""
    for t in range(xh.shape[1] - 1):
        k = t if keep else 0  # the step's slot in cand
        np.matmul(weights, xh[:, t], out=cand[k])  # (H, D+1+H) @ (D+1+H, B)
        simple_rnn_step(t, k, hs, rows, act, cand)


@jit
def _compiled_loop(gemm, weights, xh, hs, rows, act, cand, keep):
    """:func:`_forward`'s time loop whole in compiled code, the step product from the BLAS routine at ``gemm``
    (blas.py)."""
    for t in range(xh.shape[1] - 1):
        k = t if keep else 0
        blas.matmul_into(gemm, weights, xh[:, t], cand[k], 0.0)  # (H, D+1+H) @ (D+1+H, B)
        simple_rnn_step(t, k, hs, rows, act, cand)


@jit
def _small_batch_loop(weights, xh, hs, rows, act, cand, keep):
    """:func:`_forward`'s time loop for a batch of one, whole in compiled code (see small_batch.py); ``weights``
    are the unstransposed stacked rows ``[W; b; U]``."""
    for t in range(xh.shape[1] - 1):
        k = t if keep else 0
        small_batch.step_product(weights, xh, t, cand[k])
        simple_rnn_step(t, k, hs, rows, act, cand)


def _backward(cache, D, kernel, recurrent_kernel, valid, act, d_out, dh_last, need):
    """Gradients ``{name: array}`` for the inputs named in ``need`` (``x``, ``kernel``, ``recurrent_kernel``,
    ``bias``, ``h0``) from ``d_out (H, T, B)`` (or None) and the final-state gradient ``dh_last (B, H)``."""
    cand = cache["cand"]
    T, H, B = cand.shape
    dz = common.scratch((H, T, B), cand.dtype)
    dh = dh_last.T.copy()  # (B, H) -> (H, B); a copy: the kernels write into it
    rows = common.or_empty(valid, 2, cand.dtype)  # the mask rows; zero-length: no mask
    outs = common.or_empty(d_out, 3, cand.dtype)  # zero-length: no output gradient
    work = common.scratch((H * B,), cand.dtype)
    gemm = blas.gemm_address(cand.dtype) if compilable(recurrent_kernel, cand) else 0
    loop = _compiled_backward_loop if gemm else _numpy_backward_loop
    loop(gemm, recurrent_kernel, dh, outs, cand, rows, act, dz, work, need["h0"])
    grads = fm.stacked_weight_grads(dz, cache["xh"], D, need)
    if need["x"]:
        grads["x"] = fm.input_grad(dz, kernel)
    grads["h0"] = dh.T  # (H, B) -> (B, H)
    common.release(dz, work)
    return grads


def _numpy_backward_loop(gemm, recurrent_kernel, dh, outs, cand, rows, act, dz, work, to_h0):
    """:func:`_backward`'s time loop with NumPy's product (``gemm`` unused): ``dh`` ends as the gradient of
    ``h0`` (computed only when ``to_h0``)."""
    rec = np.empty_like(dh)
    for t in range(cand.shape[0] - 1, -1, -1):
        simple_rnn_step_backward(t, dh, outs, cand, rows, act, dz, work)
        if t == 0 and not to_h0:
            break
        if rows.shape[0] == 0:
            np.matmul(recurrent_kernel, dz[:, t], out=dh)  # (H, H) @ (H, B)
        else:
            dh += np.matmul(recurrent_kernel, dz[:, t], out=rec)  # masked columns carried their gradient through


@jit
def _compiled_backward_loop(gemm, recurrent_kernel, dh, outs, cand, rows, act, dz, work, to_h0):
    """:func:`_numpy_backward_loop` whole in compiled code, the product from the BLAS routine at ``gemm``."""
    beta = 1.0 if rows.shape[0] > 0 else 0.0  # with a mask, masked columns carried their gradient through dh
    for t in range(cand.shape[0] - 1, -1, -1):
        simple_rnn_step_backward(t, dh, outs, cand, rows, act, dz, work)
        if t > 0 or to_h0:
            blas.matmul_into(gemm, recurrent_kernel, dz[:, t], dh, beta)  # (H, H) @ (H, B)


def _run(op, x, kernel, recurrent_kernel, bias, h0, valid, act, keep=True):
    """Forward on ``x (B, T, D)`` from Keras-layout weights; returns the cache and ``backward(d_out, dh_last,
    need)`` giving the gradients in :data:`GRAD_NAMES` order (once: it frees the cache)."""
    D = x.shape[2]
    xh = fm.stacked_inputs(x, h0, kernel.dtype)  # (D+1+H, T+1, B)
    cache = _forward(xh, D, fm.step_weights(kernel, recurrent_kernel, bias, x.shape[0]), valid, act.code, keep)

    def backward(d_out, dh_last, need):
        common.check_cache(cache, op)
        grads = _backward(cache, D, kernel, recurrent_kernel, valid, act.code, d_out, dh_last, need)
        common.free_cache(cache)
        return tuple(grads.get(name) for name in GRAD_NAMES)

    return cache, backward


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
    parents = (x, kernel, recurrent_kernel, bias, h0)
    dtype = common.compute_dtype(*parents)
    valid = common.mask_rows(mask, B, T, dtype)  # (T, B) or None
    W, U = common.cast(kernel.data, dtype), common.cast(recurrent_kernel.data, dtype)
    b = None if bias is None else common.cast(bias.data, dtype)
    cache, run_backward = _run(OP, x.data, W, U, b, common.initial_state(h0, B, H, dtype), valid, act,
                               keep=common.will_backward(parents))

    backward = fm.tape_backward(run_backward, valid, dtype, parents, GRAD_NAMES)
    hs = cache["hs"]
    return common.finish(OP, cache, (fm.outputs_view(hs, valid), fm.last_state(hs)), parents, backward)


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
    parents = (x_t, kernel, recurrent_kernel, bias, h)
    dtype = common.compute_dtype(*parents)
    W, U = common.cast(kernel.data, dtype), common.cast(recurrent_kernel.data, dtype)
    b = None if bias is None else common.cast(bias.data, dtype)
    x_seq = x_t.data[:, None]  # (B, D) -> (B, 1, D)
    cache, run_backward = _run(op, x_seq, W, U, b, common.initial_state(h, B, H, dtype), None, act)

    backward = fm.cell_tape_backward(run_backward, dtype, parents, GRAD_NAMES)
    return common.finish(op, cache, fm.last_state(cache["hs"]), parents, backward)

