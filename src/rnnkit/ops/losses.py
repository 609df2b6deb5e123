"""Fused loss primitives returning per-sample values (no batch reduction), forward and backward together.

    softmax_cross_entropy:  l = logsumexp(x) - sum_c t_c x_c        dl/dx = softmax(x) * sum_c t_c - t
                            (t one-hot from class ids, or given probabilities)
    binary_cross_entropy:   from logits:  l = max(x, 0) - x y + log1p(e^-|x|)     dl/dx = sigmoid(x) - y
                            from probabilities p (clipped to [eps, 1 - eps], eps = 1e-7, as Keras):
                                          l = -(y log p + (1 - y) log(1 - p))     dl/dp = (p - y) / (p (1 - p))
    mean_squared_error:     l = mean over the last axis of (p - t)^2      dl/dp = 2 (p - t) / n
    mean_absolute_error:    l = mean over the last axis of |p - t|        dl/dp = sign(p - t) / n

Targets are data, not parameters; a target Tensor that requires grad receives its gradient too (except for
integer class ids). ``binary_cross_entropy`` is elementwise; the Keras loss averages it over the last axis.

>>> import numpy as np
>>> from rnnkit import Tensor
>>> logits = Tensor([[0.0, 0.0], [2.0, 0.0]], requires_grad=True)
>>> loss = softmax_cross_entropy(logits, np.array([1, 0]))
>>> np.round(loss.numpy(), 4)
array([0.6931, 0.1269], dtype=float32)
>>> loss.sum().backward()
>>> np.round(logits.grad, 4)
array([[ 0.5   , -0.5   ],
       [-0.1192,  0.1192]], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from rnnkit.autograd import Tensor, as_tensor, make
from rnnkit.compiled import compilable
from rnnkit.errors import DataError, ShapeError
from rnnkit.ops.shape import id_out_of_range
from rnnkit.ops.sparse_cross_entropy_kernels import class_id_loss_grad, softmax_rows_and_loss

EPSILON = 1e-7  # Keras' backend.epsilon(), used to clip probabilities


def _target_array(targets) -> np.ndarray:
    return np.asarray(targets.data if isinstance(targets, Tensor) else targets)


def _match_shape(pred: Tensor, t: np.ndarray, op: str) -> np.ndarray:
    """``t`` with ``pred``'s shape; a missing trailing size-1 axis is added, as Keras does for ``(B,)`` targets."""
    if t.shape == pred.shape:
        return t
    if t.ndim == pred.ndim - 1 and pred.shape[-1] == 1 and t.shape == pred.shape[:-1]:
        return t.reshape(pred.shape)
    raise ShapeError(f"{op}: targets have shape {t.shape}; expected the predictions' shape {pred.shape}")


def _class_ids(t: np.ndarray, num_classes: int) -> np.ndarray:
    if t.dtype.kind == "f":
        if not np.all(np.floor(t) == t):
            raise DataError("softmax_cross_entropy: class-id targets must be whole numbers; got non-integer values")
        t = t.astype(np.int64)
    elif t.dtype.kind not in "iub":
        raise DataError(f"softmax_cross_entropy: class-id targets must be integers; got dtype {t.dtype}")
    bad = id_out_of_range(t, num_classes)
    if bad is not None:
        raise DataError(f"softmax_cross_entropy: class id {bad} is out of range for {num_classes} classes; "
                        f"ids must be in [0, {num_classes - 1}]")
    return t.astype(np.intp, copy=False)


def softmax_cross_entropy(logits, targets, axis: int = -1) -> Tensor:
    """Cross-entropy of ``softmax(logits)`` against class ids or probabilities, one value per sample.

    Args:
        logits: Tensor (..., C, ...) with the classes on ``axis``.
        targets: integer class ids of ``logits.shape`` without ``axis`` (a trailing size-1 axis is also
            accepted, as Keras' sparse loss does), or one-hot / probability floats of ``logits.shape``.
        axis: the class axis.

    Returns:
        Tensor of ``logits.shape`` without ``axis``.
    """
    logits = as_tensor(logits)
    if logits.ndim == 0:
        raise ShapeError("softmax_cross_entropy: logits must have a class axis; got a scalar")
    axis = axis % logits.ndim if -logits.ndim <= axis < logits.ndim else None
    if axis is None:
        raise ShapeError(f"softmax_cross_entropy: class axis out of range for logits of shape {logits.shape}")
    x = logits.data if axis == logits.ndim - 1 else np.moveaxis(logits.data, axis, -1)  # (..., C), classes last
    x = np.ascontiguousarray(x)
    num_classes = x.shape[-1]
    t = _target_array(targets)
    sample_shape = x.shape[:-1]
    sparse_shape = logits.shape[:axis] + logits.shape[axis + 1 :]
    if t.shape == logits.shape:
        sparse = False
        probs = np.moveaxis(t.astype(logits.dtype, copy=False), axis, -1)  # (..., C)
    elif t.shape == sparse_shape or (t.shape == sparse_shape + (1,) and axis == logits.ndim - 1):
        sparse = True
        ids = _class_ids(t.reshape(sample_shape), num_classes)  # (...)
    else:
        raise ShapeError(
            f"softmax_cross_entropy: targets have shape {t.shape}; expected class ids of shape {sparse_shape} "
            f"or one-hot/probabilities of the logits' shape {logits.shape}"
        )

    if sparse and compilable(x):
        return _compiled_class_id_loss(logits, x, ids, axis)
    shifted = x - x.max(axis=-1, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    log_p = shifted - log_z  # (..., C) log-softmax
    if sparse:
        out = -np.take_along_axis(log_p, ids[..., None], axis=-1)[..., 0]
    else:
        out = -(probs * log_p).sum(axis=-1)
    out = out.astype(logits.dtype, copy=False)
    target_tensor = targets if isinstance(targets, Tensor) and not sparse else None
    parents = (logits,) if target_tensor is None else (logits, target_tensor)

    def backward(g):
        gx = g[..., None]  # (..., 1)
        grads = []
        if logits.requires_grad:
            p = np.exp(log_p)  # (..., C) softmax
            if sparse:
                dx = np.ascontiguousarray(p * gx)  # (..., C); then subtract g at each sample's true class,
                # through a reshape that must be a view of dx
                dx.reshape(-1, num_classes)[np.arange(ids.size), ids.reshape(-1)] -= g.reshape(-1)
            else:
                dx = (p * probs.sum(axis=-1, keepdims=True) - probs) * gx
            grads.append(np.moveaxis(dx, -1, axis))
        else:
            grads.append(None)
        if target_tensor is not None:
            grads.append(np.moveaxis(-log_p * gx, -1, axis) if target_tensor.requires_grad else None)
        return tuple(grads)

    return make("softmax_cross_entropy", out, parents, backward)


def _compiled_class_id_loss(logits: Tensor, x: np.ndarray, ids: np.ndarray, axis: int) -> Tensor:
    """:func:`softmax_cross_entropy` against class ids ``ids (...)`` by the compiled kernels, for float32/64 logits
    ``x (..., C)`` (C-contiguous, classes last; ``axis`` their place in ``logits``)."""
    C = x.shape[-1]
    rows = x.reshape(-1, C)  # (..., C) -> (N, C), a view
    flat_ids = ids.reshape(-1)  # (N,)
    p = np.empty_like(rows)  # softmax, kept for the backward
    out = np.empty(rows.shape[0], x.dtype)
    softmax_rows_and_loss(rows, flat_ids, out, p)

    def backward(g):
        if not logits.requires_grad:
            return (None,)
        dx = np.empty_like(p)
        class_id_loss_grad(p, flat_ids, np.asarray(g, x.dtype).reshape(-1), dx)
        return (np.moveaxis(dx.reshape(x.shape), -1, axis),)  # (N, C) -> (..., C) -> logits' layout

    return make("softmax_cross_entropy", out.reshape(x.shape[:-1]), (logits,), backward)


def binary_cross_entropy(pred, targets, from_logits: bool = False) -> Tensor:
    """Elementwise binary cross-entropy of probabilities (or logits) ``pred`` against targets in [0, 1]."""
    pred = as_tensor(pred)
    t = _match_shape(pred, _target_array(targets), "binary_cross_entropy").astype(pred.dtype, copy=False)
    if t.size and (t.min() < 0 or t.max() > 1):
        bad = t.min() if t.min() < 0 else t.max()
        raise DataError(f"binary_cross_entropy: targets must be in [0, 1]; got {float(bad)}")
    x = pred.data
    if from_logits:
        out = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
    else:
        p = np.clip(x, EPSILON, 1.0 - EPSILON)
        out = -(t * np.log(p) + (1.0 - t) * np.log(1.0 - p))
    out = out.astype(pred.dtype, copy=False)
    target_tensor = targets if isinstance(targets, Tensor) else None
    parents = (pred,) if target_tensor is None else (pred, target_tensor)

    def backward(g):
        if from_logits:
            z = np.exp(-np.abs(x))
            sig = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
            gp = g * (sig - t) if pred.requires_grad else None
            gt = -g * x
        else:
            inside = (x >= EPSILON) & (x <= 1.0 - EPSILON)  # the clip passes the gradient only here
            gp = g * inside * (p - t) / (p * (1.0 - p)) if pred.requires_grad else None
            gt = -g * (np.log(p) - np.log(1.0 - p))
        grads = [None if gp is None else gp.astype(pred.dtype, copy=False)]
        if target_tensor is not None:
            grads.append(gt.reshape(target_tensor.shape) if target_tensor.requires_grad else None)
        return tuple(grads)

    return make("binary_cross_entropy", out, parents, backward)


def _regression(name: str, pred, targets, value, slope) -> Tensor:
    """Shared shape handling of MSE and MAE: ``mean(value(d), axis=-1)`` with ``d = pred - targets``."""
    pred = as_tensor(pred)
    if pred.ndim == 0:
        raise ShapeError(f"{name}: predictions must have at least one axis; got a scalar")
    t = _match_shape(pred, _target_array(targets), name).astype(pred.dtype, copy=False)
    diff = pred.data - t
    n = pred.shape[-1]
    out = (value(diff).mean(axis=-1)).astype(pred.dtype, copy=False)
    target_tensor = targets if isinstance(targets, Tensor) else None
    parents = (pred,) if target_tensor is None else (pred, target_tensor)

    def backward(g):
        d = slope(diff) * (g[..., None] / n)  # (..., n)
        grads = [d if pred.requires_grad else None]
        if target_tensor is not None:
            grads.append(-d.reshape(target_tensor.shape) if target_tensor.requires_grad else None)
        return tuple(grads)

    return make(name, out, parents, backward)


def mean_squared_error(pred, targets) -> Tensor:
    """``mean((pred - targets)^2, axis=-1)``, one value per sample (Keras convention).

    >>> mean_squared_error(Tensor([[1.0, 3.0]]), np.array([[0.0, 0.0]])).numpy()
    array([5.], dtype=float32)
    """
    return _regression("mean_squared_error", pred, targets, np.square, lambda d: 2.0 * d)


def mean_absolute_error(pred, targets) -> Tensor:
    """``mean(|pred - targets|, axis=-1)``, one value per sample; gradient 0 where they are equal.

    >>> mean_absolute_error(Tensor([[1.0, -3.0]]), np.array([[0.0, 0.0]])).numpy()
    array([2.], dtype=float32)
    """
    return _regression("mean_absolute_error", pred, targets, np.abs, np.sign)
