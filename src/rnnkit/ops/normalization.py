"""Batch normalisation over every axis but the feature axis, as one op with a hand-derived backward.

Training (``mean``/``variance`` None) normalises with the batch's own statistics (biased variance, as Keras
and PyTorch); with N values per feature, ``xhat = (x - mu) * r`` and ``r = 1 / sqrt(var + eps)``:

    y = gamma * xhat + beta
    dbeta = sum(g)      dgamma = sum(g * xhat)
    dx = r / N * (N * gx - sum(gx) - xhat * sum(gx * xhat)),   gx = g * gamma

Inference passes the moving statistics as ``mean``/``variance`` (constants): ``y = (x - mean) * r * gamma +
beta``, ``dx = g * gamma * r``. The op also returns the batch statistics it used, for the layer to update its
moving averages.

>>> import numpy as np
>>> from rnnkit import Tensor
>>> x = Tensor(np.array([[1.0, 10.0], [3.0, 30.0]]))
>>> y, mean, var = batch_norm(x, epsilon=0.0)
>>> y.numpy(), mean, var
(array([[-1., -1.],
       [ 1.,  1.]], dtype=float32), array([ 2., 20.], dtype=float32), array([  1., 100.], dtype=float32))
>>> batch_norm(x, mean=np.array([0.0, 0.0]), variance=np.array([4.0, 4.0]), epsilon=0.0)[0].numpy()
array([[ 0.5,  5. ],
       [ 1.5, 15. ]], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from rnnkit.autograd import Tensor, as_tensor, make
from rnnkit.compiled import compilable
from rnnkit.errors import ShapeError
from rnnkit.ops.conv_kernels import bn_apply, bn_backward, channel_moments


def batch_norm(x, gamma=None, beta=None, mean=None, variance=None, epsilon=1e-3, axis=-1):
    """``(y, batch_mean, batch_variance)``: ``y`` a Tensor like ``x``; the statistics are arrays of the feature
    axis' size (the ones used: the batch's in training, ``mean``/``variance`` when given)."""
    x = as_tensor(x)
    xd = x.data
    axis = _check_axis(axis, xd.ndim)
    features = xd.shape[axis]
    shape = [1] * xd.ndim
    shape[axis] = features  # the statistics broadcast along every other axis
    gamma = None if gamma is None else as_tensor(gamma)
    beta = None if beta is None else as_tensor(beta)
    for name, t in (("gamma", gamma), ("beta", beta)):
        if t is not None and t.shape != (features,):
            raise ShapeError(f"batch_norm: {name} must have shape ({features},) (axis {axis} of input shape "
                             f"{xd.shape}); got shape {t.shape}")
    reduce = tuple(a for a in range(xd.ndim) if a != axis)
    count = xd.size // max(features, 1)
    training = mean is None
    if not training and variance is None:
        raise ShapeError("batch_norm: give both mean and variance (inference) or neither (training)")
    if axis == xd.ndim - 1 and compilable(xd) and count > 0:
        return _batch_norm_compiled(x, gamma, beta, mean, variance, epsilon, training)
    if training:
        mu = xd.mean(axis=reduce, keepdims=True)
        centered = xd - mu
        var = np.mean(np.square(centered), axis=reduce, keepdims=True)
    else:
        mu = _as_stat(mean, xd.dtype).reshape(shape)
        var = _as_stat(variance, xd.dtype).reshape(shape)
        centered = xd - mu
    r = 1.0 / np.sqrt(var + np.asarray(epsilon, dtype=xd.dtype))
    xhat = centered * r
    scale = r if gamma is None else r * gamma.data.reshape(shape)
    y = centered * scale
    if beta is not None:
        y += beta.data.reshape(shape)
    parents = tuple(t for t in (x, gamma, beta) if t is not None)

    def backward(g):
        gx = gg = gb = None
        if beta is not None and beta.requires_grad:
            gb = g.sum(axis=reduce)
        if gamma is not None and gamma.requires_grad:
            gg = (g * xhat).sum(axis=reduce)
        if x.requires_grad:
            if training:
                gs = g * scale  # d loss / d xhat, times r
                sum_g = gs.sum(axis=reduce, keepdims=True)
                sum_gx = (gs * xhat).sum(axis=reduce, keepdims=True)
                gx = gs - (sum_g + xhat * sum_gx) / count
            else:
                gx = g * scale
        return _in_order(parents, x, gamma, beta, gx, gg, gb)

    return make("batch_norm", y, parents, backward), mu.reshape(features), var.reshape(features)


def _as_stat(value, dtype) -> np.ndarray:
    return np.asarray(value.data if isinstance(value, Tensor) else value, dtype=dtype)


def _in_order(parents, x, gamma, beta, gx, gg, gb) -> tuple:
    grads = [gx] + ([gg] if gamma is not None else []) + ([gb] if beta is not None else [])
    return tuple(grads[: len(parents)])


def _batch_norm_compiled(x, gamma, beta, mean, variance, epsilon, training):
    """The channels-last case in compiled loops over the ``(N, C)`` view: same maths, fewer passes."""
    xd = x.data
    features = xd.shape[-1]
    X = xd.reshape(-1, features)  # (..., C) -> (N, C), no copy
    dtype = xd.dtype
    if training:
        mu, var = np.empty(features, dtype), np.empty(features, dtype)
        channel_moments(X, mu, var)
    else:
        mu = np.ascontiguousarray(_as_stat(mean, dtype).reshape(features))
        var = np.ascontiguousarray(_as_stat(variance, dtype).reshape(features))
    r = (1.0 / np.sqrt(var + np.asarray(epsilon, dtype=dtype))).astype(dtype)
    gamma_v = np.ones(features, dtype) if gamma is None else np.ascontiguousarray(gamma.data, dtype=dtype)
    shift = np.zeros(features, dtype) if beta is None else np.ascontiguousarray(beta.data, dtype=dtype)
    Y = np.empty_like(X)
    bn_apply(X, mu, gamma_v * r, shift, Y)
    parents = tuple(t for t in (x, gamma, beta) if t is not None)

    def backward(g):
        G = np.ascontiguousarray(g, dtype=dtype).reshape(-1, features)  # (N, C)
        gx = np.empty_like(X) if x.requires_grad else np.empty((0, features), dtype)
        sum_g, sum_gxhat = np.empty(features, dtype), np.empty(features, dtype)
        bn_backward(G, X, mu, r, gamma_v, training, gx, sum_g, sum_gxhat)
        return _in_order(parents, x, gamma, beta, gx.reshape(xd.shape) if x.requires_grad else None,
                         sum_gxhat if gamma is not None and gamma.requires_grad else None,
                         sum_g if beta is not None and beta.requires_grad else None)

    return make("batch_norm", Y.reshape(xd.shape), parents, backward), mu, var


def _check_axis(axis, ndim: int) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim or ndim < 2:
        raise ShapeError(f"batch_norm: axis must be an integer in [{-ndim}, {ndim}) of an input of rank >= 2; "
                         f"got axis={axis!r} for rank {ndim}")
    return int(axis) % ndim
