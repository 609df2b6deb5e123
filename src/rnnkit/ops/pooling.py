"""Max and average pooling over the spatial axes of ``channels_last`` inputs, as Keras' pooling layers.

Each op visits the ``ph*pw`` window offsets once, as whole-array strided slices of the (padded) input; no
per-pixel Python. ``"same"`` padding follows TensorFlow/Keras: padded cells never win a max, and an average
divides by the number of real cells in its window.

Backward: max pooling routes each output's gradient to the first cell of its window that holds the maximum
(row-major window order, as PyTorch); average pooling spreads it evenly over the window's real cells.

>>> import numpy as np
>>> from rnnkit import Tensor
>>> x = Tensor(np.arange(16.0).reshape(1, 4, 4, 1), requires_grad=True)
>>> max_pool2d(x, 2).numpy()[0, :, :, 0]
array([[ 5.,  7.],
       [13., 15.]], dtype=float32)
>>> avg_pool2d(x, 3, strides=2, padding="same").numpy()[0, :, :, 0]   # windows cut by the border: real cells
array([[ 5. ,  6.5],
       [11. , 12.5]], dtype=float32)
>>> max_pool2d(x, 2).sum().backward(); x.grad[0, :2, :, 0]
array([[0., 0., 0., 0.],
       [0., 1., 0., 1.]], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from rnnkit.autograd import Tensor, as_tensor, make
from rnnkit.errors import ShapeError
from rnnkit.ops.conv import as_tuple, check_padding, output_length, pad_spatial, pads_for, window_slice


def _geometry(x: np.ndarray, pool_size, strides, padding, name: str):
    if x.ndim != 4:
        raise ShapeError(f"{name}: expected input (batch, height, width, channels); got shape {x.shape}")
    pool = as_tuple(pool_size, 2, "pool_size", name)
    strides = pool if strides is None else as_tuple(strides, 2, "strides", name)
    padding = check_padding(padding, name)
    H, W = x.shape[1:3]
    out_hw = tuple(output_length(n, k, s, padding) for n, k, s in zip((H, W), pool, strides))
    if min(out_hw) <= 0:
        raise ShapeError(f"{name}: input of spatial size {(H, W)} is smaller than pool_size {pool} with "
                         f"padding='valid'")
    return pool, strides, padding, out_hw, pads_for((H, W), pool, strides, padding, (1, 1))


def _offsets(pool, strides, out_hw):
    """``(rows, cols)`` slice pairs of the padded input, one per window offset, in row-major order."""
    return [(window_slice(i, strides[0], out_hw[0]), window_slice(j, strides[1], out_hw[1]))
            for i in range(pool[0]) for j in range(pool[1])]


def _unpad(gxp: np.ndarray, pads, shape) -> np.ndarray:
    (top, _), (left, _) = pads
    return gxp[:, top:top + shape[1], left:left + shape[2], :]


def max_pool2d(x, pool_size=2, strides=None, padding="valid") -> Tensor:
    """Max over ``pool_size`` windows of ``x (B, H, W, C)``; ``strides`` default to ``pool_size``."""
    x = as_tensor(x)
    xd = x.data
    pool, strides, padding, out_hw, pads = _geometry(xd, pool_size, strides, padding, "max_pool2d")
    xp = pad_spatial(xd, pads, -np.inf)
    offsets = _offsets(pool, strides, out_hw)
    out = np.array(xp[:, offsets[0][0], offsets[0][1], :])  # (B, Ho, Wo, C)
    for rows, cols in offsets[1:]:
        np.maximum(out, xp[:, rows, cols, :], out=out)

    def backward(g):
        gxp = np.zeros(xp.shape, dtype=g.dtype)
        unclaimed = np.ones(out.shape, dtype=bool)
        for rows, cols in offsets:
            hit = xp[:, rows, cols, :] == out
            hit &= unclaimed
            unclaimed &= ~hit
            gxp[:, rows, cols, :] += np.where(hit, g, 0)
        return (_unpad(gxp, pads, xd.shape),)

    return make("max_pool2d", out, (x,), backward)


def avg_pool2d(x, pool_size=2, strides=None, padding="valid") -> Tensor:
    """Mean over ``pool_size`` windows of ``x (B, H, W, C)`` (padded cells excluded from the count)."""
    x = as_tensor(x)
    xd = x.data
    pool, strides, padding, out_hw, pads = _geometry(xd, pool_size, strides, padding, "avg_pool2d")
    xp = pad_spatial(xd, pads)
    offsets = _offsets(pool, strides, out_hw)
    total = np.array(xp[:, offsets[0][0], offsets[0][1], :])  # (B, Ho, Wo, C)
    for rows, cols in offsets[1:]:
        total += xp[:, rows, cols, :]
    if padding == "same":
        ones = pad_spatial(np.ones((1,) + xd.shape[1:3] + (1,), dtype=xd.dtype), pads)
        count = sum(ones[:, rows, cols, :] for rows, cols in offsets)  # (1, Ho, Wo, 1) real cells per window
    else:
        count = np.asarray(pool[0] * pool[1], dtype=xd.dtype)
    total /= count

    def backward(g):
        share = g / count
        gxp = np.zeros(xp.shape, dtype=g.dtype)
        for rows, cols in offsets:
            gxp[:, rows, cols, :] += share
        return (_unpad(gxp, pads, xd.shape),)

    return make("avg_pool2d", total, (x,), backward)


def _as_1d(op, x, pool_size, strides, padding, name):
    from rnnkit.ops.shape import expand_dims, getitem

    x = as_tensor(x)
    if x.ndim != 3:
        raise ShapeError(f"{name}: expected input (batch, steps, channels); got shape {x.shape}")
    (pool,) = as_tuple(pool_size, 1, "pool_size", name)
    stride = pool if strides is None else as_tuple(strides, 1, "strides", name)[0]
    y = op(expand_dims(x, 1), (1, pool), (1, stride), padding)
    return getitem(y, (slice(None), 0))  # (B, 1, Lo, C) -> (B, Lo, C)


def max_pool1d(x, pool_size=2, strides=None, padding="valid") -> Tensor:
    """Max over windows of ``x (B, L, C)`` along L."""
    return _as_1d(max_pool2d, x, pool_size, strides, padding, "max_pool1d")


def avg_pool1d(x, pool_size=2, strides=None, padding="valid") -> Tensor:
    """Mean over windows of ``x (B, L, C)`` along L (padded cells excluded from the count)."""
    return _as_1d(avg_pool2d, x, pool_size, strides, padding, "avg_pool1d")
