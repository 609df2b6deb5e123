"""Keras 3's general ReLU, the leaky ReLU and the masked softmax, forward and backward side by side.

    relu_general(x) = min(x, max_value)  if x > threshold        (no cap without max_value)
                    = -negative_slope * (threshold - x)   otherwise
        d/dx        = [threshold < x <= max_value] + negative_slope * [x < threshold]
    leaky_relu(x)   = x if x > 0 else negative_slope * x        d/dx = 1 if x > 0 else negative_slope
    masked_softmax(x, mask)  = softmax over ``axis`` (one axis or several) of x with the masked positions
        set to -1e9, then 0 at the masked positions (Keras' ``Softmax`` layer with a mask)
        dL/dx       = m * y * (g m - sum(g m y))                m = the mask, y = the softmax

Keras computes ``relu_general`` as ``clip(x if x > threshold else 0, 0, max_value) - negative_slope *
relu(threshold - x)``; both sides agree everywhere (the values between 0 and the threshold are 0 before the
negative part is subtracted). Gradients at the kinks follow PyTorch (``relu``: 0 at the threshold; ``clamp``:
1 at ``max_value``; ``leaky_relu``: the slope at 0).

>>> import numpy as np
>>> from rnnkit import Tensor
>>> relu_general(Tensor([-2.0, 0.5, 1.5, 9.0]), negative_slope=0.1, max_value=6.0, threshold=1.0).numpy()
array([-0.3 , -0.05,  1.5 ,  6.  ], dtype=float32)
>>> leaky_relu(Tensor([-1.0, 2.0]), 0.3).numpy()
array([-0.3,  2. ], dtype=float32)
>>> masked_softmax(Tensor([[1.0, 1.0, 5.0]]), np.array([[True, True, False]])).numpy()
array([[0.5, 0.5, 0. ]], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from rnnkit.autograd import Tensor, as_tensor, make

LARGE_NEGATIVE = -1e9  # Keras' fill for masked logits (float16 aside)


def relu_general(a, negative_slope: float = 0.0, max_value=None, threshold: float = 0.0) -> Tensor:
    """Keras' ``activations.relu(x, negative_slope, max_value, threshold)``."""
    a = as_tensor(a)
    x = a.data
    above = x > threshold
    positive = np.where(above, x, 0).astype(x.dtype, copy=False)
    if max_value is not None:
        positive = np.minimum(positive, np.asarray(max_value, dtype=x.dtype))
    below = x < threshold
    out = positive
    if negative_slope:
        out = (positive - negative_slope * np.where(below, threshold - x, 0)).astype(x.dtype, copy=False)

    def backward(g):
        slope = above if max_value is None else above & (x <= max_value)
        grad = g * slope
        if negative_slope:
            grad = grad + g * (negative_slope * below)
        return (grad.astype(g.dtype, copy=False),)

    return make("relu_general", out, (a,), backward)


def leaky_relu(a, negative_slope: float = 0.2) -> Tensor:
    """``x`` for ``x > 0``, else ``negative_slope * x`` (Keras' ``activations.leaky_relu``)."""
    a = as_tensor(a)
    positive = a.data > 0
    out = np.where(positive, a.data, negative_slope * a.data).astype(a.dtype, copy=False)

    def backward(g):
        return ((g * np.where(positive, 1.0, negative_slope)).astype(g.dtype, copy=False),)

    return make("leaky_relu", out, (a,), backward)


def masked_softmax(a, mask=None, axis=-1) -> Tensor:
    """Softmax over ``axis`` (an int or a tuple of ints); positions where ``mask`` (broadcastable to ``a``;
    bool, or numbers read as ``> 0.5``) is False get probability 0, the others share 1."""
    a = as_tensor(a)
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    x = a.data
    keep = None
    if mask is not None:
        keep = np.asarray(getattr(mask, "data", mask))
        keep = keep if keep.dtype == bool else keep > 0.5
        keep = np.broadcast_to(keep, x.shape)
        x = np.where(keep, x, np.asarray(LARGE_NEGATIVE, dtype=x.dtype))
    z = np.exp(x - x.max(axis=axes, keepdims=True))
    y = z / z.sum(axis=axes, keepdims=True)
    out = y if keep is None else np.where(keep, y, 0).astype(y.dtype, copy=False)

    def backward(g):
        gm = g if keep is None else g * keep
        gy = gm * y
        grad = gy - y * gy.sum(axis=axes, keepdims=True)
        return ((grad if keep is None else grad * keep).astype(g.dtype, copy=False),)

    return make("masked_softmax", out, (a,), backward)
