"""Connectionist temporal classification (CTC) loss as one fused op, with Keras 3's ``keras.ops.ctc_loss``
conventions: logits in, one loss per sample out, the blank class at ``mask_index``.

    loss_b = -log sum over alignments a of target_b in output_length_b steps of prod_t softmax(x_bt)(a_t)

The forward and backward recursions run in log space (float64, compiled; see :mod:`rnnkit.ops.ctc_kernels`),
and the gradient with respect to the logits is derived by hand:

    dloss_b / dx_bt = softmax(x_bt) - occupancy_bt      for t < output_length_b, 0 after

where ``occupancy_bt(c)`` is the posterior probability that the alignment emits ``c`` at step ``t``. A target
that cannot be aligned (too long for its output length, counting a blank between repeated labels) has an
infinite loss and a zero gradient (never NaN); ``zero_infinity=True`` makes its loss 0 too, as PyTorch's option.

>>> import numpy as np
>>> from rnnkit import Tensor
>>> logits = Tensor(np.zeros((1, 3, 3)), requires_grad=True)  # (B, T, C): uniform over blank + 2 classes
>>> loss = ctc_loss(np.array([[1, 2]]), logits, np.array([2]), np.array([3]))
>>> round(float(np.exp(-loss.numpy()[0]) * 27), 6)  # 5 alignments of "1 2" in 3 steps, each (1/3)^3
5.0
>>> loss.sum().backward(); logits.grad.shape
(1, 3, 3)
"""
from __future__ import annotations

import numpy as np

from rnnkit.autograd import Tensor, as_tensor, make
from rnnkit.errors import DataError, ShapeError
from rnnkit.ops.ctc_kernels import ctc_loss_and_grad


def _lengths(value, name: str, batch: int, limit: int, limit_name: str) -> np.ndarray:
    """``value`` as ``(B,)`` int64 lengths in ``[0, limit]``; a clear error otherwise."""
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]  # (B, 1) -> (B,)
    if array.shape != (batch,):
        raise ShapeError(f"ctc_loss: {name} must have shape ({batch},), one length per sample; got shape "
                         f"{array.shape}")
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise DataError(f"ctc_loss: {name} must hold whole numbers; got {array.tolist()}")
    elif array.dtype.kind not in "iub":
        raise DataError(f"ctc_loss: {name} must be integers; got dtype {array.dtype}")
    array = array.astype(np.int64)
    if batch and (array.min() < 0 or array.max() > limit):
        bad = int(array.min() if array.min() < 0 else array.max())
        raise DataError(f"ctc_loss: {name} {bad} is outside [0, {limit}] ({limit_name})")
    return array


def _targets(value, batch: int) -> np.ndarray:
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    if array.ndim != 2 or array.shape[0] != batch:
        raise ShapeError(f"ctc_loss: target must have shape (batch_size, max_length) = ({batch}, S) of integer "
                         f"labels; got shape {array.shape}")
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise DataError("ctc_loss: target must hold integer class ids; got non-integer values")
    elif array.dtype.kind not in "iub":
        raise DataError(f"ctc_loss: target must hold integer class ids; got dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.int64)


def ctc_loss(target, output, target_length, output_length, mask_index: int = 0, zero_infinity: bool = False) -> Tensor:
    """CTC loss of ``output`` logits against padded integer targets, one value per sample.

    Args:
        target: ``(B, S)`` integer labels; the first ``target_length[b]`` entries of row ``b`` are its target
            (the rest is padding and ignored). They must be classes in ``[0, C)`` other than ``mask_index``.
        output: ``(B, T, C)`` logits (not softmax-normalised), a Tensor to differentiate.
        target_length: ``(B,)`` target lengths, ``0 <= target_length <= S``.
        output_length: ``(B,)`` numbers of valid output steps, ``0 <= output_length <= T``.
        mask_index: the blank class. Default 0, as Keras.
        zero_infinity: give impossible targets a loss of 0 instead of infinity (PyTorch's option). Their
            gradient is 0 either way.

    Returns:
        Tensor ``(B,)`` of negative log-likelihoods, in ``output``'s dtype.
    """
    output = as_tensor(output)
    if output.ndim != 3:
        raise ShapeError(f"ctc_loss: output must be logits of shape (batch_size, max_length, num_classes); got "
                         f"shape {output.shape}")
    B, T, C = output.shape
    blank = int(mask_index)
    if not 0 <= blank < C:
        raise DataError(f"ctc_loss: mask_index {mask_index} is not a class of the {C} in output (0..{C - 1})")
    targets = _targets(target, B)
    S = targets.shape[1]
    t_len = _lengths(target_length, "target_length", B, S, f"target has {S} columns")
    o_len = _lengths(output_length, "output_length", B, T, f"output has {T} steps")
    used = np.arange(S)[None, :] < t_len[:, None]  # (B, S) labels inside each target's length
    labels = targets[used]
    if labels.size and (labels.min() < 0 or labels.max() >= C):
        bad = int(labels.min() if labels.min() < 0 else labels.max())
        raise DataError(f"ctc_loss: target label {bad} is outside the {C} classes of output (0..{C - 1})")
    if np.any(labels == blank):
        row = int(np.nonzero((targets == blank) & used)[0][0])
        raise DataError(f"ctc_loss: target row {row} holds the blank class {blank} (mask_index) within its "
                        f"length {int(t_len[row])}; the blank cannot be a label")

    x = output.data.astype(np.float64)  # (B, T, C)
    logp = x - x.max(axis=-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=-1, keepdims=True))  # log-softmax, float64
    loss = np.empty(B)
    grad = np.empty((B, T, C))
    ctc_loss_and_grad(np.ascontiguousarray(logp), targets, t_len, o_len, blank, loss, grad)
    if zero_infinity:
        loss[np.isinf(loss)] = 0.0
    out = loss.astype(output.dtype if output.dtype.kind == "f" else np.float64, copy=False)

    def backward(g):
        if not output.requires_grad:
            return (None,)
        scale = np.asarray(g, dtype=np.float64).reshape(B, 1, 1)  # (B,) -> (B, 1, 1)
        scale = np.where(np.isfinite(loss).reshape(B, 1, 1), scale, 0.0)  # 0 * inf upstream would be NaN
        return ((grad * scale).astype(output.dtype, copy=False),)

    return make("ctc_loss", out, (output,), backward)
