"""Convolution in Keras' ``channels_last`` layout: im2col (one contiguous copy) and one BLAS product.

``conv2d(x, kernel, bias, strides, padding, dilation_rate)`` takes ``x (B, H, W, C)`` and a Keras kernel
``(kh, kw, C, F)``. The input is padded (``"same"``: TensorFlow's convention, the odd pad at the bottom/right),
the windows are gathered once into a ``(B*Ho*Wo, kh*kw*C)`` matrix ``X`` (its rows in the kernel's own
``(kh, kw, C)`` order, so the kernel reshapes to ``(kh*kw*C, F)`` without a copy), and

    Y = X K + b        dK = X^T G        db = G summed        dX = G K^T, added back window by window

where the last step (col2im) is ``kh*kw`` strided additions into the padded input's gradient, one per kernel
offset. ``conv1d`` is ``conv2d`` on a height-1 image.

>>> import numpy as np
>>> from rnnkit import Tensor
>>> x = Tensor(np.arange(16.0).reshape(1, 4, 4, 1), requires_grad=True)
>>> k = Tensor(np.ones((2, 2, 1, 1)), requires_grad=True)
>>> y = conv2d(x, k, padding="same"); y.shape        # the odd pad goes at the bottom/right
(1, 4, 4, 1)
>>> y.numpy()[0, :, :, 0]
array([[10., 14., 18., 10.],
       [26., 30., 34., 18.],
       [42., 46., 50., 26.],
       [25., 27., 29., 15.]], dtype=float32)
>>> y.sum().backward(); x.grad[0, :2, :2, 0]          # each input pixel is seen by up to 4 windows
array([[1., 2.],
       [2., 4.]], dtype=float32)
"""
from __future__ import annotations

import numbers

import numpy as np
from numpy.lib.stride_tricks import as_strided

from rnnkit.autograd import Tensor, as_tensor, make
from rnnkit.compiled import compilable
from rnnkit.errors import ConfigError, ShapeError
from rnnkit.ops.conv_kernels import col2im_add, conv_direct_backward, conv_direct_forward

# col2im is compiled from this many channels up; below it NumPy's kh*kw strided additions were faster (measured
# with benchmarks.conv's shapes: 1 channel 2.2 ms NumPy vs 4.3 ms compiled, 32 channels 30 vs 12 ms)
COMPILED_COL2IM_MIN_CHANNELS = 8
# Below this many input channels the convolution runs as one compiled loop straight from the padded input: with
# an inner dimension of kh*kw*C = 9 the BLAS product ran at 11-15 GFLOP/s, and the loop (fused bias, no im2col)
# took 15 + 9 ms against 17 + 15 ms for the 1 -> 32 filter layer of benchmarks.conv
DIRECT_MAX_CHANNELS = 4
BLOCK_BYTES = 1 << 21  # im2col block size of the blocked convolution (2 MiB: about one core's L2 cache)

PADDINGS = ("valid", "same")


def as_tuple(value, n: int, argument: str, owner: str) -> tuple:
    """``value`` (an int or ``n`` ints, each >= 1) as an ``n``-tuple, or a ConfigError naming it."""
    items = (value,) * n if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value
    try:
        items = tuple(items)
    except TypeError:
        items = ()
    if len(items) != n or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in items):
        raise ConfigError(f"{owner}: {argument} must be a positive integer or a tuple of {n} positive integers; "
                          f"got {value!r}")
    return tuple(int(v) for v in items)


def check_padding(padding, owner: str, allowed=PADDINGS) -> str:
    """``"valid"`` or ``"same"`` (any case, as Keras), or a ConfigError."""
    name = padding.lower() if isinstance(padding, str) else padding
    if name not in allowed:
        raise ConfigError(f"{owner}: padding must be one of {list(allowed)}; got {padding!r}")
    return name


def output_length(size: int, window: int, stride: int, padding: str, dilation: int = 1) -> int:
    """Output length along one axis (Keras/TensorFlow: ``ceil(size / stride)`` for ``"same"``)."""
    span = (window - 1) * dilation + 1
    if padding == "same":
        return -(-size // stride)
    return max((size - span) // stride + 1, 0)


def same_pads(size: int, window: int, stride: int, dilation: int = 1) -> tuple:
    """``(before, after)`` padding of ``"same"`` along one axis; the extra one (odd total) goes after."""
    span = (window - 1) * dilation + 1
    total = max((output_length(size, window, stride, "same") - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def pads_for(spatial: tuple, window: tuple, strides: tuple, padding: str, dilation: tuple) -> list:
    """``[(before, after), ...]`` per spatial axis."""
    if padding == "valid":
        return [(0, 0)] * len(spatial)
    return [same_pads(n, k, s, d) for n, k, s, d in zip(spatial, window, strides, dilation)]


def pad_spatial(x: np.ndarray, pads: list, value=0.0) -> np.ndarray:
    """``x (B, H, W, C)`` with ``pads`` added around H and W (``x`` itself, not a copy, when no padding)."""
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        return x
    B, H, W, C = x.shape
    out = np.full((B, H + top + bottom, W + left + right, C), value, dtype=x.dtype)
    out[:, top:top + H, left:left + W, :] = x
    return out


def window_slice(offset: int, stride: int, count: int) -> slice:
    """The input rows (or columns) that kernel offset ``offset`` meets over ``count`` outputs."""
    return slice(offset, offset + stride * (count - 1) + 1, stride)


def im2col(xp: np.ndarray, window: tuple, strides: tuple, dilation: tuple, out_hw: tuple, out=None) -> np.ndarray:
    """``(B*Ho*Wo, kh*kw*C)`` contiguous matrix of the windows of the padded ``xp (B, Hp, Wp, C)`` (written into
    ``out`` when given: a C-contiguous array of that shape)."""
    B, _, _, C = xp.shape
    (kh, kw), (sh, sw), (dh, dw), (Ho, Wo) = window, strides, dilation, out_hw
    xp = np.ascontiguousarray(xp)
    b, h, w, c = xp.strides
    view = as_strided(xp, (B, Ho, Wo, kh, kw, C), (b, h * sh, w * sw, h * dh, w * dw, c), writeable=False)
    if out is None:
        return view.reshape(B * Ho * Wo, kh * kw * C)  # one copy, in the kernel's (kh, kw, C) order
    np.copyto(out.reshape(B, Ho, Wo, kh, kw, C), view)
    return out


def col2im(cols: np.ndarray, out: np.ndarray, window: tuple, strides: tuple, dilation: tuple,
           out_hw: tuple) -> np.ndarray:
    """The adjoint of :func:`im2col`: the window gradients ``cols (B*Ho*Wo, kh*kw*C)`` added into the padded
    input gradient ``out (B, Hp, Wp, C)`` (zeros, or what earlier calls added)."""
    B, Hp, Wp, C = out.shape
    (kh, kw), (sh, sw), (dh, dw), (Ho, Wo) = window, strides, dilation, out_hw
    if C >= COMPILED_COL2IM_MIN_CHANNELS and compilable(cols, out):
        col2im_add(cols, kh, kw, sh, sw, dh, dw, Ho, Wo, out)
        return out
    cols = cols.reshape(B, Ho, Wo, kh, kw, C)
    for i in range(kh):
        rows = window_slice(i * dh, sh, Ho)
        for j in range(kw):
            out[:, rows, window_slice(j * dw, sw, Wo), :] += cols[:, :, :, i, j, :]
    return out


def images_per_block(batch: int, rows_per_image: int, width: int, itemsize: int) -> int:
    """How many images one block of the blocked convolution takes: its im2col matrix about
    :data:`BLOCK_BYTES` (at least one image), so that it is still in cache when the product reads it."""
    return max(1, min(batch, BLOCK_BYTES // max(rows_per_image * width * itemsize, 1)))


def conv2d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1) -> Tensor:
    """2-D convolution (cross-correlation, as Keras and PyTorch) of ``x (B, H, W, C)`` with ``kernel
    (kh, kw, C, F)`` plus ``bias (F,)``; returns ``(B, Ho, Wo, F)``.

    The batch is processed in blocks of whole images (:func:`images_per_block`): each block's im2col matrix is
    built in one reused buffer and multiplied while it is in cache; the backward rebuilds it block by block
    (unless the whole batch is one block) rather than keeping a copy the size of the input times ``kh*kw``."""
    x, kernel = as_tensor(x), as_tensor(kernel)
    bias = None if bias is None else as_tensor(bias)
    strides = as_tuple(strides, 2, "strides", "conv2d")
    dilation = as_tuple(dilation_rate, 2, "dilation_rate", "conv2d")
    padding = check_padding(padding, "conv2d")
    xd, w = x.data, kernel.data
    if xd.ndim != 4 or w.ndim != 4 or xd.shape[-1] != w.shape[2]:
        raise ShapeError(f"conv2d: expected x (batch, height, width, channels) and kernel (kh, kw, channels, "
                         f"filters) with the same channels; got shapes {xd.shape} and {w.shape}")
    kh, kw, C, F = w.shape
    if bias is not None and bias.shape != (F,):
        raise ShapeError(f"conv2d: bias must have shape ({F},); got shape {bias.shape}")
    B, H, W, _ = xd.shape
    out_hw = tuple(output_length(n, k, s, padding, d) for n, k, s, d in zip((H, W), (kh, kw), strides, dilation))
    if min(out_hw) <= 0:
        raise ShapeError(f"conv2d: input of spatial size {(H, W)} is smaller than the dilated kernel "
                         f"{((kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1)} with padding='valid'")
    window = (kh, kw)
    pads = pads_for((H, W), window, strides, padding, dilation)
    xp = np.ascontiguousarray(pad_spatial(xd, pads))
    dtype = np.result_type(xd.dtype, w.dtype)
    K = np.ascontiguousarray(w.reshape(kh * kw * C, F), dtype=dtype)  # (kh*kw*C, F)
    parents = (x, kernel) if bias is None else (x, kernel, bias)
    if C <= DIRECT_MAX_CHANNELS and xp.dtype == dtype and compilable(xp, K):
        return _conv2d_direct(x, kernel, bias, xp, K, strides, dilation, out_hw, pads, parents)
    per_image = out_hw[0] * out_hw[1]  # output rows per image
    step = images_per_block(B, per_image, kh * kw * C, np.dtype(dtype).itemsize)
    blocks = [(b0, min(B, b0 + step)) for b0 in range(0, B, step)]
    buffer = np.empty((step * per_image, kh * kw * C), dtype=dtype)
    Y = np.empty((B * per_image, F), dtype=dtype)  # (N, F), N = B*Ho*Wo
    for b0, b1 in blocks:
        cols = im2col(xp[b0:b1], window, strides, dilation, out_hw, buffer[:(b1 - b0) * per_image])
        np.dot(cols, K, out=Y[b0 * per_image:b1 * per_image])
    if bias is not None:
        Y += bias.data

    def backward(g):
        G = np.ascontiguousarray(g, dtype=dtype).reshape(-1, F)  # (B, Ho, Wo, F) -> (N, F)
        gk = np.zeros(K.shape, dtype=dtype) if kernel.requires_grad else None
        gxp = np.zeros(xp.shape, dtype=dtype) if x.requires_grad else None
        work = np.empty(buffer.shape, dtype=dtype) if x.requires_grad else None
        for b0, b1 in blocks:
            rows = slice(b0 * per_image, b1 * per_image)
            n = (b1 - b0) * per_image
            if gk is not None:
                cols = buffer[:n] if len(blocks) == 1 else im2col(xp[b0:b1], window, strides, dilation, out_hw,
                                                                   buffer[:n])
                gk += cols.T.dot(G[rows])  # (kh*kw*C, n) @ (n, F)
            if gxp is not None:
                np.dot(G[rows], K.T, out=work[:n])  # (n, F) @ (F, kh*kw*C): the window gradients
                col2im(work[:n], gxp[b0:b1], window, strides, dilation, out_hw)
        gx = None
        if gxp is not None:
            (top, _), (left, _) = pads
            gx = gxp[:, top:top + H, left:left + W, :]
        gk = None if gk is None else gk.reshape(w.shape)
        if bias is None:
            return gx, gk
        return gx, gk, (np.ones(len(G), dtype=dtype).dot(G) if bias.requires_grad else None)  # BLAS column sums

    return make("conv2d", Y.reshape(B, out_hw[0], out_hw[1], F), parents, backward)


def _conv2d_direct(x, kernel, bias, xp, K, strides, dilation, out_hw, pads, parents) -> Tensor:
    """:func:`conv2d` for inputs with few channels, in the compiled loops of ``conv_kernels``."""
    kh, kw, C, F = kernel.shape
    B, H, W, _ = x.shape
    (sh, sw), (dh, dw), (Ho, Wo) = strides, dilation, out_hw
    dtype = K.dtype
    b = np.zeros(F, dtype) if bias is None else np.ascontiguousarray(bias.data, dtype=dtype)
    Y = np.empty((B * Ho * Wo, F), dtype=dtype)  # (N, F)
    conv_direct_forward(xp, K, b, kh, kw, sh, sw, dh, dw, Ho, Wo, Y, np.empty(F, dtype))

    def backward(g):
        G = np.ascontiguousarray(g, dtype=dtype).reshape(-1, F)  # (B, Ho, Wo, F) -> (N, F)
        empty = np.zeros((0, 0, 0, 0), dtype)
        gk = np.zeros(K.shape, dtype) if kernel.requires_grad else np.zeros((0, 0), dtype)
        gb = np.zeros(F, dtype) if bias is not None and bias.requires_grad else np.zeros(0, dtype)
        gxp = np.zeros(xp.shape, dtype) if x.requires_grad else empty
        conv_direct_backward(xp, K, G, kh, kw, sh, sw, dh, dw, Ho, Wo, gk, gb, gxp)
        (top, _), (left, _) = pads
        grads = (gxp[:, top:top + H, left:left + W, :] if x.requires_grad else None,
                 gk.reshape(kernel.shape) if kernel.requires_grad else None)
        return grads if bias is None else grads + (gb if bias.requires_grad else None,)

    return make("conv2d", Y.reshape(B, Ho, Wo, F), parents, backward)


def conv1d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1) -> Tensor:
    """1-D convolution of ``x (B, L, C)`` with ``kernel (k, C, F)`` (+ ``bias (F,)``); returns ``(B, Lo, F)``.
    ``padding="causal"`` pads ``(k - 1) * dilation_rate`` zeros at the start only (Keras' ``Conv1D``)."""
    x, kernel = as_tensor(x), as_tensor(kernel)
    if x.ndim != 3 or kernel.ndim != 3:
        raise ShapeError(f"conv1d: expected x (batch, steps, channels) and kernel (k, channels, filters); got "
                         f"shapes {x.shape} and {kernel.shape}")
    from rnnkit.ops.shape import expand_dims, getitem

    (stride,) = as_tuple(strides, 1, "strides", "conv1d")
    (dilation,) = as_tuple(dilation_rate, 1, "dilation_rate", "conv1d")
    padding = check_padding(padding, "conv1d", PADDINGS + ("causal",))
    if padding == "causal":
        x = causal_pad(x, (kernel.shape[0] - 1) * dilation)
        padding = "valid"
    y = conv2d(expand_dims(x, 1), expand_dims(kernel, 0), bias, (1, stride), padding, (1, dilation))
    return getitem(y, (slice(None), 0))  # (B, 1, Lo, F) -> (B, Lo, F)


def causal_pad(x: Tensor, count: int) -> Tensor:
    """``x (B, L, C)`` with ``count`` zero steps in front."""
    xd = x.data
    if count == 0:
        return x
    out = np.zeros((xd.shape[0], xd.shape[1] + count, xd.shape[2]), dtype=xd.dtype)
    out[:, count:] = xd

    def backward(g):
        return (g[:, count:],)

    return make("causal_pad", out, (x,), backward)
