"""Gradients all-reduced in a few large flat buffers, over NumPy memory that torch shares without copying.

A few scalars (the loss and the metric sums of the step) ride at the head of the first bucket, so that a step
costs one collective per bucket and no more (in the first bucket's dtype: exact for float64 models; float32
models sum them in float32, their own precision).

The trainable weights are packed, last layer first (the order in which a backward pass finishes them), into
buckets of at most ``bucket_bytes`` each, one dtype per bucket. After ``backward()`` each gradient is copied
into its slot; every bucket's all-reduce is started at once (asynchronously, so copying the next bucket overlaps
the previous one's transfer) on a ``torch.from_numpy`` view of the buffer; the summed gradients come back as
views of the buffers (no copy), ready for ``optimizer.apply``.

The tape (``rnnkit.autograd``) hands a leaf its gradient only when the whole backward pass is done, so the
transfer cannot start during ``backward()`` itself; it overlaps only with packing.

>>> import numpy as np
>>> from rnnkit.autograd import Tensor
>>> weights = [Tensor(np.zeros((2, 3)), requires_grad=True), Tensor(np.zeros(4), requires_grad=True)]
>>> plan = BucketPlan(weights, bucket_bytes=32, head=0)
>>> [len(b.slots) for b in plan.buckets]  # 4 + 6 float32 values: 16 bytes, then 24 (over 32 together)
[1, 1]
>>> grads = plan.pack([np.ones((2, 3)), np.full(4, 2.0)])
>>> [g.shape for g in plan.unpack()]
[(2, 3), (4,)]
"""
from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class Slot:
    weight: int  # index in the weight list
    offset: int
    size: int
    shape: tuple


@dataclasses.dataclass
class Bucket:
    buffer: np.ndarray  # flat, contiguous: the all-reduced memory
    slots: list


class BucketPlan:
    """Where every weight's gradient lives in the flat buffers (built once per weight list)."""

    def __init__(self, weights: list, bucket_bytes: int = 25 * 2**20, head: int = 0):
        self.count, self.head = len(weights), int(head)
        self.buckets = []
        current, size, dtype = [], self.head, None
        for i in reversed(range(len(weights))):  # the backward pass finishes the last weights first
            w = weights[i]
            w_dtype, n = np.dtype(w.dtype), int(np.prod(w.shape))
            if current and (w_dtype != dtype or (size + n) * w_dtype.itemsize > bucket_bytes):
                self._close(current, size, dtype)
                current, size = [], 0
            current.append(Slot(i, size, n, tuple(w.shape)))
            size, dtype = size + n, w_dtype
        if current or self.head:
            self._close(current, size, dtype or np.dtype(np.float64))
        self._had_grad = [True] * self.count

    def _close(self, slots: list, size: int, dtype) -> None:
        self.buckets.append(Bucket(np.zeros(size, dtype=dtype), slots))

    @property
    def nbytes(self) -> int:
        return sum(b.buffer.nbytes for b in self.buckets)

    def pack_bucket(self, bucket: Bucket, grads: list) -> np.ndarray:
        """Copy the gradients of ``bucket`` into its buffer (zeros for a weight without gradient)."""
        for s in bucket.slots:
            g = grads[s.weight]
            view = bucket.buffer[s.offset:s.offset + s.size]
            self._had_grad[s.weight] = g is not None
            if g is None:
                view[...] = 0
            else:
                view[...] = np.asarray(g).reshape(-1)  # (shape) -> (size,)
        return bucket.buffer

    def pack(self, grads: list) -> list:
        return [self.pack_bucket(b, grads) for b in self.buckets]

    def pack_head(self, scalars: np.ndarray) -> None:
        self.buckets[0].buffer[:self.head] = scalars

    def read_head(self, scalars: np.ndarray) -> None:
        scalars[...] = self.buckets[0].buffer[:self.head]

    def unpack(self) -> list:
        """The (summed) gradients as views of the buffers, in weight order; None where no rank had one."""
        out = [None] * self.count
        for b in self.buckets:
            for s in b.slots:
                if self._had_grad[s.weight]:
                    out[s.weight] = b.buffer[s.offset:s.offset + s.size].reshape(s.shape)  # (size,) -> shape
        return out
