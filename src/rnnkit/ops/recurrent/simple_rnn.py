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

from typing import NamedTuple

import numpy as np

from rnnkit.compiled import jit, jit_inline
from rnnkit.ops.recurrent import common, gate_dropout, paths, recording
from rnnkit.ops.recurrent import feature_major as fm
from rnnkit.ops.recurrent.gate_activations import get_activation
from rnnkit.ops.recurrent.kernel_math import TANH, activate_rows, add_output_grad, derivative, record_state_grad
from rnnkit.ops.recurrent.gate_dropout import gate_product, state_grad_product

OP = "simple_rnn"


# ------------------------------------------------------------------------------------- the arrays
# The arrays the large products before and after the loop read are (features, time, batch) (see
# feature_major.py); cand, which only the step kernels read, is time-major (a step's block is one contiguous run).
# A kernel works on the columns b0 <= b < b1 of step t. S is T, or 1 when no backward pass will come (every step
# reuses slot 0).
class Forward(NamedTuple):
    """The arrays of the forward pass (also the backward pass's cache)."""

    xh: np.ndarray  # (D+1+H, T+1, B): [x_t; 1; h_{t-1}] at t; the loop writes h_t into the state rows at t+1
    hs: np.ndarray  # (H, T+1, B): the state rows of xh (a view)
    weights: np.ndarray  # (H, D+1+H) = [W^T | b | U^T]; on the batch-of-one path (D+1+H, H) = [W; b; U]
    cand: np.ndarray  # (S, H, B): z_t, then act(z_t), in slot k
    valid: np.ndarray  # (T, B): 0 where a step is masked; (0, 0): nothing masked
    acc: np.ndarray  # (H,): the batch-of-one product's accumulator
    mult: np.ndarray | None  # (1, D+1+H, B): dropout multipliers over xh (gate_dropout.py); None: none
    masked: np.ndarray | None  # (D+1+H, B): the masked copy of xh[:, t]; None without dropout


class Backward(NamedTuple):
    """The arrays of the backward pass besides the forward cache."""

    u: np.ndarray  # (H, H): U, the left factor of dh_{t-1} += U dz_t
    d_out: np.ndarray  # (H, T, B): the outputs' gradient; (0, 0, 0): none
    dh: np.ndarray  # (H, B): gradient reaching h_t (see simple_rnn_step_backward)
    dz: np.ndarray  # (H, T, B): the pre-activations' gradients
    rmask: np.ndarray | None  # (1, H, B): the state rows of fw.mult; None without dropout
    part: np.ndarray | None  # (H, B): U dz_t before its mask; None without dropout
    dh_steps: np.ndarray  # (H, T, B): the total gradient reaching h_t, kept at each t; (0, 0, 0): not kept


# ------------------------------------------------------------------------------------- one time step
@jit
def simple_rnn_step(fw, t, k, b0, b1, act):
    """Step ``t`` forward on columns ``[b0, b1)``: ``fw.cand[k]`` holds ``z_t`` on entry and ``act(z_t)`` on
    exit; writes ``h_t`` (a masked column keeps ``h_{t-1}``). ``act``: activation code (kernel_math)."""
    H = fw.hs.shape[0]
    cand = fw.cand[k]  # (H, B)
    activate_rows(act, cand, 0, H, b0, b1)
    for j in range(H):
        c_row, h_row = cand[j], fw.hs[j, t + 1]  # (B,) rows
        for b in range(np.uint64(b0), np.uint64(b1)):  # unsigned: see kernel_math.activate_rows
            h_row[b] = c_row[b]
    if fw.valid.shape[0] > 0:
        for b in range(b0, b1):
            if fw.valid[t, b] == 0:
                for j in range(H):
                    fw.hs[j, t + 1, b] = fw.hs[j, t, b]


@jit
def simple_rnn_step_backward(fw, bw, t, b0, b1, act):
    """Step ``t`` backward on columns ``[b0, b1)``; the product ``U dz_t`` is left to the loop.

    On entry ``bw.dh`` holds the gradient reaching ``h_t`` from step ``t + 1``; the output's gradient
    ``bw.d_out[:, t]`` is added here. Writes ``bw.dz[:, t] = dh * act'(z_t)``. With a mask it leaves in ``bw.dh``
    the part of ``h_{t-1}``'s gradient that does not pass through the product (0, or in a masked column, where
    ``dz`` is 0, the whole incoming gradient) and the loop adds ``U dz_t``; without a mask that part is 0
    everywhere, so ``bw.dh`` is left as it is and the loop's product replaces it (beta 0)."""
    add_output_grad(bw.dh, bw.d_out, t, b0, b1)
    record_state_grad(bw.dh_steps, bw.dh, t, b0, b1)
    masked = fw.valid.shape[0] > 0
    if act == TANH:  # the default: the derivative inline, the loops vectorise
        if masked:
            _simple_rnn_grads(fw, bw, t, b0, b1, TANH, True)
        else:
            _simple_rnn_grads(fw, bw, t, b0, b1, TANH, False)
    else:
        _simple_rnn_grads(fw, bw, t, b0, b1, act, masked)


@jit_inline
def _simple_rnn_grads(fw, bw, t, b0, b1, act, masked):
    """The backward equation of the module docstring, once; inlined per activation code and mask flag. A masked
    column's results are selected, not branched to, so that the loop still vectorises."""
    cand = fw.cand[t]  # (H, B)
    zero = bw.dh.dtype.type(0)
    for j in range(bw.dh.shape[0]):
        dh, dz, y = bw.dh[j], bw.dz[j, t], cand[j]  # (B,) rows
        valid = fw.valid[t] if masked else dh  # unread without a mask
        for b in range(np.uint64(b0), np.uint64(b1)):
            d_h = dh[b]
            d_z = d_h * derivative(act, y[b])
            if masked:
                keep = valid[b] == 0
                dz[b] = zero if keep else d_z
                dh[b] = d_h if keep else zero
            else:  # dh is left as it is: the loop's product replaces it (beta 0)
                dz[b] = d_z


# ---------------------------------------------------------------------------------- whole sequence
def forward_loop(fw, act, path, gemm, b0, b1):
    """All steps forward on columns ``[b0, b1)``: ``z_t = [W^T | b | U^T] [x_t; 1; h_{t-1}]``, then
    :func:`simple_rnn_step`. Python (the NumPy path) or compiled; see paths.py."""
    slots = fw.cand.shape[0]
    for t in range(fw.xh.shape[1] - 1):
        k = t if slots > 1 else 0
        # (H, D+1+H) @ (D+1+H, b1-b0), over the masked copy with dropout masks (gate_dropout.py)
        gate_product(path, gemm, fw.weights, fw.xh, t, fw.cand[k], fw.mult, fw.masked, 1, b0, b1, fw.acc)
        simple_rnn_step(fw, t, k, b0, b1, act)


def backward_loop(fw, bw, act, to_h0, path, gemm, b0, b1):
    """All steps backward on columns ``[b0, b1)``: :func:`simple_rnn_step_backward`, then ``dh = U dz_t``
    (``dh +=`` with a mask; skipped at ``t = 0`` unless ``to_h0``)."""
    beta = 1.0 if fw.valid.shape[0] > 0 else 0.0  # see simple_rnn_step_backward
    for t in range(fw.xh.shape[1] - 2, -1, -1):
        simple_rnn_step_backward(fw, bw, t, b0, b1, act)
        if t > 0 or to_h0:
            # (H, H) @ (H, b1-b0); with dropout masks rm ⊙ (U dz_t) (gate_dropout.py)
            state_grad_product(path, gemm, bw.u, bw.dz[:, t], bw.dh, beta, bw.rmask, bw.part, 1, b0, b1, fw.acc)


_forward_compiled, _backward_compiled = jit(forward_loop), jit(backward_loop)


def _forward(x, kernel, recurrent_kernel, bias, h0, valid, act, keep=True, mult=None) -> Forward:
    """Run all steps on ``x (B, T, D)`` from Keras-layout weights; returns the arrays (the backward cache). With
    ``keep=False`` (no backward pass will come) every step reuses one slot of ``cand``. ``mult``: the dropout
    multipliers ``(1, D+1+H, B)`` (gate_dropout.py) or None."""
    B, T, D = x.shape
    H, dtype = h0.shape[1], kernel.dtype
    path = paths.choose(B, dtype, small=mult is None)  # with masks never the batch-of-one product
    xh = fm.stacked_inputs(x, h0, dtype)  # (D+1+H, T+1, B)
    fw = Forward(xh, fm.states(xh, D), fm.step_weights(kernel, recurrent_kernel, bias, path.path == paths.SMALL),
                common.scratch((T if keep else 1, H, B), dtype), common.or_empty(valid, 2, dtype), np.empty(H, dtype),
                mult, None if mult is None else common.aligned_empty((D + 1 + H, B), dtype))
    paths.run(path, forward_loop, _forward_compiled, B, T * fw.weights.size, fw, act)
    return fw


def _backward(fw, kernel, recurrent_kernel, act, d_out, dh_last, need, input_dropout=False, record=None):
    """Gradients ``{name: array}`` for the inputs named in ``need`` (``x``, ``kernel``, ``recurrent_kernel``,
    ``bias``, ``h0``) from ``d_out (H, T, B)`` (or None) and the final-state gradient ``dh_last (B, H)``;
    ``input_dropout``: ``fw.mult`` masks the input rows; with a ``record`` (recording.py) the per-step state
    gradients and ``x``'s gradient go into it."""
    H, T, B = fw.hs.shape[0], fw.xh.shape[1] - 1, fw.xh.shape[2]
    dtype, D = fw.cand.dtype, fw.xh.shape[0] - H - 1
    dropped = fw.mult is not None
    need = need if record is None else dict(need, x=True)
    bw = Backward(np.ascontiguousarray(recurrent_kernel), common.or_empty(d_out, 3, dtype),
                 fm.writable_columns(dh_last),  # (B, H) -> (H, B)
                 common.scratch((H, T, B), dtype),
                 np.ascontiguousarray(fw.mult[:, D + 1 :]) if dropped else None,
                 common.aligned_empty((H, B), dtype) if dropped else None,
                 *recording.step_arrays(record, (H, T, B), dtype, 1))
    path = paths.choose(B, dtype, small=False)
    paths.run(path, backward_loop, _backward_compiled, B, T * bw.u.size, fw, bw, act, need["h0"])
    grads = fm.stacked_weight_grads(bw.dz, fw.xh, D, need, fw.mult, input_dropout)
    if need["x"]:
        grads["x"] = fm.input_grad(bw.dz, kernel, fw.mult[:, :D] if input_dropout else None)
    grads["h0"] = bw.dh.T  # (H, B) -> (B, H)
    common.release(bw.dz)
    if record is not None:
        record.keep(bw.dh_steps, None, grads["x"])
    return grads


def _run(op, x, kernel, recurrent_kernel, bias, h0, valid, act, keep=True, masks=(None, None), record=None):
    """Forward on ``x (B, T, D)`` from Keras-layout weights; returns the cache (a dict naming the states) and
    ``backward(d_out, dh_last, need)`` giving the gradients in :data:`GRAD_NAMES` order (once: it frees the
    cache). ``masks``: the feature-major dropout masks ``(dm (1, D, B), rm (1, H, B))``, either None; ``record``:
    see :func:`_backward`."""
    dm, rm = masks
    mult = None
    if dm is not None or rm is not None:
        (B, _, D), H = x.shape, h0.shape[1]
        mult = gate_dropout.stacked_multipliers(dm, rm, 1, D, H, B, kernel.dtype)  # (1, D+1+H, B)
    fw = _forward(x, kernel, recurrent_kernel, bias, h0, valid, act.code, keep, mult)
    cache = {"hs": fw.hs}
    common.own(cache, fw.cand)

    def backward(d_out, dh_last, need):
        common.check_cache(cache, op)
        grads = _backward(fw, kernel, recurrent_kernel, act.code, d_out, dh_last, need, dm is not None, record)
        common.free_cache(cache)
        return tuple(grads.get(name) for name in GRAD_NAMES)

    return cache, backward


GRAD_NAMES = ("x", "kernel", "recurrent_kernel", "bias", "h0")  # the order of ``parents`` in both ops


def simple_rnn(x, kernel, recurrent_kernel, bias, h0, mask=None, activation="tanh", input_masks=None,
               recurrent_masks=None):
    """Run a simple RNN over a whole sequence as one op.

    Args:
        x: ``(B, T, D)`` inputs, batch-major.
        kernel: ``(D, H)``; recurrent_kernel: ``(H, H)``; bias: ``(H,)`` or ``None`` (``use_bias=False``).
        h0: ``(B, H)`` initial state (may require grad) or ``None`` for zeros.
        mask: ``None`` or a ``(B, T)`` boolean array; ``False`` steps carry the state and output 0.
        activation: name of the activation (``"tanh"``, ``"relu"``, ... see ``gate_activations``).
        input_masks, recurrent_masks: ``None`` or dropout masks ``(1, B, D)`` and ``(1, B, H)`` (0 dropped,
            ``1 / (1 - rate)`` kept): every step reads ``x_t ⊙ input_masks[0]`` and ``h_{t-1} ⊙
            recurrent_masks[0]`` (Keras' ``recurrent_dropout``; see gate_dropout.py).

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
    keep = common.will_backward(parents)
    record = recording.start(OP, (B, T, x.shape[2], H)) if keep else None
    masks = gate_dropout.feature_major_pair(OP, input_masks, recurrent_masks, 1, B, x.shape[2], H, dtype)
    cache, run_backward = _run(OP, x.data, W, U, b, common.initial_state(h0, B, H, dtype), valid, act, keep,
                               masks=masks, record=record)

    backward = fm.tape_backward(run_backward, valid, dtype, parents, GRAD_NAMES)
    hs = cache["hs"]
    outs = common.finish(OP, cache, (fm.outputs_view(hs, valid), fm.last_state(hs)), parents, backward)
    recording.attach_outputs(record, outs[0])
    return outs



def simple_rnn_cell(x_t, h, kernel, recurrent_kernel, bias, activation="tanh", input_masks=None,
                    recurrent_masks=None):
    """One step of :func:`simple_rnn` (same arithmetic, the same optional dropout masks):
    ``h_new (B, H) = act(x_t W + h U + b)``.

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
    masks = gate_dropout.feature_major_pair(op, input_masks, recurrent_masks, 1, B, x_t.shape[1], H, dtype)
    cache, run_backward = _run(op, x_seq, W, U, b, common.initial_state(h, B, H, dtype), None, act,
                               masks=masks)

    backward = fm.cell_tape_backward(run_backward, dtype, parents, GRAD_NAMES)
    return common.finish(op, cache, fm.last_state(cache["hs"]), parents, backward)

