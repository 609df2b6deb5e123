"""Matrix product with NumPy ``@`` semantics, forward and backward side by side.

For ``C = A @ B`` and an upstream gradient ``G = dL/dC``:

    dL/dA = G @ B^T        dL/dB = A^T @ G

with ``^T`` swapping the last two axes. Three cases, cheapest first:

* 2-D @ 2-D: the two products above.
* N-D @ 2-D, e.g. ``(B, T, D) @ (D, H)`` (``Dense`` on a sequence): the leading axes are flattened so the
  weight gradient is one ``(D, B*T) @ (B*T, H)`` product, not a batch of small ones summed afterwards.
* batched N-D @ N-D with broadcast batch axes (attention): batched products, then the gradient of a
  broadcast operand is summed back to its shape.

1-D operands follow NumPy: a 1-D left operand is a row vector, a 1-D right operand a column vector, and
the added axis is removed from the result.

>>> import numpy as np
>>> from rnnkit import Tensor
>>> a = Tensor(np.ones((2, 3)), requires_grad=True)
>>> w = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
>>> (a @ w).sum().backward()
>>> a.grad
array([[1., 5., 9.],
       [1., 5., 9.]], dtype=float32)
>>> w.grad
array([[2., 2.],
       [2., 2.],
       [2., 2.]], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from rnnkit.autograd import Tensor, make
from rnnkit.errors import ShapeError
from rnnkit.ops.elementwise import _operands, unbroadcast


def _swap(x: np.ndarray) -> np.ndarray:
    return np.swapaxes(x, -1, -2)  # (..., n, m) -> (..., m, n)


def matmul(a, b) -> Tensor:
    """``a @ b`` (NumPy ``matmul`` rules: batch axes broadcast, 1-D operands promoted and squeezed)."""
    a, b = _operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul needs operands with at least 1 dimension; got shapes {a.shape} and {b.shape}")
    A = a.data[None, :] if a.ndim == 1 else a.data  # (1, K) for a 1-D left operand
    B = b.data[:, None] if b.ndim == 1 else b.data  # (K, 1) for a 1-D right operand
    if A.shape[-1] != B.shape[-2]:
        raise ShapeError(
            f"matmul shapes {a.shape} and {b.shape} do not align: last axis of the first ({A.shape[-1]}) "
            f"must equal the second-to-last axis of the second ({B.shape[-2]})"
        )
    out = np.matmul(A, B)  # (..., M, N)
    out_shape = out.shape
    if a.ndim == 1:
        out_shape = out_shape[:-2] + out_shape[-1:]
    if b.ndim == 1:
        out_shape = out_shape[:-1]
    result = out.reshape(out_shape)

    def backward(g):
        G = g.reshape(out.shape)  # (..., M, N), the promoted axes restored
        ga = gb = None
        if B.ndim == 2:
            if a.requires_grad:
                ga = G @ B.T  # (..., M, K)
            if b.requires_grad:
                K, N = B.shape
                gb = A.reshape(-1, K).T @ G.reshape(-1, N)  # (K, B*T) @ (B*T, N) -> (K, N)
        else:
            if a.requires_grad:
                ga = unbroadcast(np.matmul(G, _swap(B)), A.shape)  # (..., M, K)
            if b.requires_grad:
                gb = unbroadcast(np.matmul(_swap(A), G), B.shape)  # (..., K, N)
        if ga is not None:
            ga = ga.reshape(a.shape)
        if gb is not None:
            gb = gb.reshape(b.shape)
        return ga, gb

    return make("matmul", result, (a, b), backward)
