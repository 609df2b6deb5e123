"""The affine map of a ``Dense`` layer, ``x @ kernel + bias``, as one op (one node on the tape instead of a
product and a sum, which at batch size 1 costs as much as the arithmetic).

For ``Y = X W + b`` with ``X (..., D)``, ``W (D, U)``, ``b (U,)`` and an upstream gradient ``G (..., U)``:

    dX = G W^T        dW = X^T G        db = G summed over every axis but the last

with the leading axes of ``X`` and ``G`` flattened, so that ``dW`` is one ``(D, N) @ (N, U)`` product.

Padded sequences make rows of zeros: masked steps output zeros (rows of ``X``) and get no gradient from a masked
loss (rows of ``G``). A zero row of ``X`` gives ``Y = b`` and a zero row of ``G`` adds nothing to ``dW``,
``db`` and gives a zero row of ``dX``; when at least a quarter of at least 64 rows are zero, the products run on
the other rows only (the same values: exact for ``Y`` and ``dX``, up to the order of the sums for ``dW``).

>>> import numpy as np
>>> from rnnkit import Tensor
>>> x = Tensor(np.ones((2, 3)), requires_grad=True)
>>> w = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
>>> b = Tensor(np.array([0.5, -0.5]), requires_grad=True)
>>> y = affine(x, w, b); y.numpy()
array([[6.5, 8.5],
       [6.5, 8.5]], dtype=float32)
>>> y.sum().backward(); b.grad, x.grad[0]
(array([2., 2.], dtype=float32), array([1., 5., 9.], dtype=float32))
"""
from __future__ import annotations

import numpy as np

from rnnkit.autograd import Tensor, as_tensor, make
from rnnkit.errors import ShapeError


SKIP_ZERO_ROWS = 0.25  # skip all-zero gradient rows when at least this fraction of the rows is zero
SKIP_MIN_ROWS = 64  # ... and there are at least this many rows (below, the check costs more than it saves)


def _live_rows(G: np.ndarray):
    """Indices of the rows of ``G (N, U)`` with a nonzero (or NaN) entry, or None when skipping would not pay."""
    if G.ndim != 2:
        return None
    if G.shape[0] < SKIP_MIN_ROWS:
        return None
    live = G.any(axis=1)
    count = int(np.count_nonzero(live))
    return np.flatnonzero(live) if count <= (1.0 - SKIP_ZERO_ROWS) * G.shape[0] else None


def affine(x, kernel, bias=None) -> Tensor:
    """``x @ kernel + bias`` for ``x (..., D)``, ``kernel (D, U)`` and ``bias (U,)`` (or None: no bias)."""
    x, kernel = as_tensor(x), as_tensor(kernel)
    bias = None if bias is None else as_tensor(bias)
    xd, w = x.data, kernel.data
    if xd.ndim < 1 or w.ndim != 2 or xd.shape[-1] != w.shape[0]:
        raise ShapeError(f"affine: x (..., D) and kernel (D, units) do not align; got shapes {xd.shape} and "
                         f"{w.shape}")
    D, units = w.shape
    if bias is not None and bias.data.shape != (units,):
        raise ShapeError(f"affine: bias must have shape ({units},); got shape {bias.data.shape}")
    if not xd.flags.c_contiguous:
        fm = _features_first(xd)
        if fm is not None:  # the layout recurrent ops return: multiplied where it lies, not copied
            return _affine_features_first(x, kernel, bias, *fm)
    X = xd.reshape(-1, D)  # (..., D) -> (N, D)
    rows = _live_rows(X)
    if rows is not None and np.isfinite(w).all():  # zero rows give 0 @ W = 0 exactly (unless W holds inf/NaN)
        Y = np.zeros((X.shape[0], units), dtype=np.result_type(X.dtype, w.dtype))
        Y[rows] = X[rows].dot(w)
    else:
        Y = X.dot(w)  # (N, U); ndarray.dot has the least call overhead, which at batch size 1 is most of the time
    if bias is not None:
        b = bias.data
        if Y.dtype == b.dtype or Y.dtype.itemsize > b.dtype.itemsize:
            Y += b
        else:
            Y = Y + b  # a wider bias widens the result, as ``matmul(x, kernel) + bias`` would
    parents = (x, kernel) if bias is None else (x, kernel, bias)

    def backward(g):
        G = g.reshape(-1, units)  # (..., U) -> (N, U)
        rows = _live_rows(G)
        if rows is None:
            gx = G.dot(w.T).reshape(xd.shape) if x.requires_grad else None
            gw = X.T.dot(G) if kernel.requires_grad else None  # (D, N) @ (N, U)
        else:
            G, Xr = G[rows], X[rows]  # (n, U), (n, D): the rows with a gradient
            gx = None
            if x.requires_grad:
                gx = np.zeros(X.shape, dtype=np.result_type(G.dtype, w.dtype))
                gx[rows] = G.dot(w.T)
                gx = gx.reshape(xd.shape)
            gw = Xr.T.dot(G) if kernel.requires_grad else None  # (D, n) @ (n, U)
        if bias is None:
            return gx, gw
        return gx, gw, (G.sum(axis=0) if bias.requires_grad else None)

    return make("affine", Y.reshape(xd.shape[:-1] + (units,)), parents, backward)


def _features_first(xd):
    """``(XT, order)`` when ``x (..., D)`` lies in memory with its features as the slowest axis (the
    ``(H, T, B)`` buffer a recurrent layer's ``(B, T, H)`` output is a view of): ``XT (D, N)`` is a view of the
    same memory with the leading axes merged in ``order`` (slowest first); None for any other layout."""
    shape, strides = xd.shape, xd.strides
    lead = [a for a in range(xd.ndim - 1) if shape[a] != 1]
    if not lead or strides[-1] <= 0 or any(strides[a] <= 0 for a in lead):
        return None
    lead.sort(key=lambda a: -strides[a])  # slowest first
    if strides[-1] < strides[lead[0]] * shape[lead[0]]:
        return None  # the features are not the outermost axis
    for outer, inner in zip(lead, lead[1:]):
        if strides[outer] != strides[inner] * shape[inner]:
            return None  # the leading axes do not merge into one without a copy
    n = 1
    for a in lead:
        n *= shape[a]
    xt = np.lib.stride_tricks.as_strided(xd, shape=(shape[-1], n), strides=(strides[-1], strides[lead[-1]]),
                                         writeable=False)
    return xt, lead


def _affine_features_first(x, kernel, bias, xt, lead):
    """``affine`` for a features-first input: ``Y^T (U, N) = W^T @ X^T`` in one product, returned as a
    ``(..., U)`` view with the same features-first layout, and the gradients computed in that layout too."""
    xd, w = x.data, kernel.data
    units = w.shape[1]
    lead_shape = tuple(xd.shape[a] for a in lead)
    yt = np.matmul(w.T, xt)  # (U, D) @ (D, N) -> (U, N); matmul, not dot: faster on the strided view
    if bias is not None:
        b = bias.data[:, None]
        if yt.dtype == b.dtype or yt.dtype.itemsize > b.dtype.itemsize:
            yt += b
        else:
            yt = yt + b
    ones = [a for a in range(xd.ndim - 1) if a not in lead]  # axes of length 1
    source = list(lead) + ones + [xd.ndim - 1]  # where each axis of the (U, lead..., 1...) array goes
    order = [source.index(a) for a in range(xd.ndim)]  # the axes of (lead..., 1..., U) in x's order

    def to_x_layout(mt, width):
        # (width, N) -> (width, lead..., 1...) -> (..., width) with x's axis order, as a view
        full = mt.reshape((width,) + lead_shape + (1,) * len(ones))
        return np.moveaxis(full, 0, -1).transpose(order)

    parents = (x, kernel) if bias is None else (x, kernel, bias)

    def backward(g):
        gt = np.ascontiguousarray(np.moveaxis(g, -1, 0).transpose([0] + [1 + a for a in lead + ones]))
        G = gt.reshape(units, -1)  # (U, N) in the order of X^T's columns
        gx = to_x_layout(w.dot(G), w.shape[0]) if x.requires_grad else None  # (D, U) @ (U, N)
        gw = np.matmul(xt, G.T) if kernel.requires_grad else None  # (D, N) @ (N, U)
        if bias is None:
            return gx, gw
        return gx, gw, (G.sum(axis=1) if bias.requires_grad else None)

    return make("affine", to_x_layout(yt, units), parents, backward)
