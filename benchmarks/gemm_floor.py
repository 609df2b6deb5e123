"""The GEMM floor: the time the model's matrix products alone take at the rate this machine achieves.

For a training step of a recurrent stack the products are, per layer and direction (G gates, H units):
forward ``(T*B, D) @ (D, G*H)`` once and ``(B, H) @ (H, G*H)`` per step; backward ``(B, G*H) @ (G*H, H)`` per
step, ``dW = X^T dZ``, ``dU = H^T dZ`` and (except for the first layer) ``dX = dZ W^T``. Plus the Dense head.
Each distinct shape is timed with NumPy in the same process and thread count as the rnnkit run.
"""
from __future__ import annotations

import time
from collections import Counter

import numpy as np

from benchmarks.cases import Case

GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


def matmul_shapes(case: Case) -> Counter:
    """(m, k, n) -> how many times a product of that shape runs in one step of ``case``."""
    shapes: Counter = Counter()
    g, h, b, t = GATES[case.cell], case.units, case.batch, case.time_steps
    directions = 2 if case.bidirectional else 1
    d_in = case.features
    for layer in range(case.layers):
        for _ in range(directions):
            shapes[(t * b, d_in, g * h)] += 1  # input projection, all steps at once
            shapes[(b, h, g * h)] += t  # recurrent product per step
            if case.mode == "train":
                shapes[(b, g * h, h)] += t  # dh_prev = dZ @ U^T per step
                shapes[(d_in, t * b, g * h)] += 1  # dW = X^T dZ
                shapes[(h, t * b, g * h)] += 1  # dU = H_prev^T dZ
                if layer > 0:
                    shapes[(t * b, g * h, d_in)] += 1  # dX = dZ W^T
        d_in = h * directions
    shapes[(b, d_in, case.classes)] += 1  # Dense forward
    if case.mode == "train":
        shapes[(d_in, b, case.classes)] += 1  # Dense dW
        shapes[(b, case.classes, d_in)] += 1  # Dense dX
    return shapes


def flops(case: Case) -> int:
    return int(sum(2 * m * k * n * count for (m, k, n), count in matmul_shapes(case).items()))


def floor_seconds_per_step(case: Case, dtype=np.float32, repeats: int = 5) -> float:
    """Median over repeats of the summed time of one step's matrix products, measured here."""
    rng = np.random.default_rng(0)
    totals = []
    operands = {
        shape: (rng.standard_normal(shape[:2]).astype(dtype), rng.standard_normal(shape[1:]).astype(dtype),
                np.empty((shape[0], shape[2]), dtype=dtype))
        for shape in matmul_shapes(case)
    }
    for _ in range(repeats):
        total = 0.0
        for shape, count in matmul_shapes(case).items():
            a, b, out = operands[shape]
            reps = max(1, min(count, 200))
            start = time.perf_counter()
            for _ in range(reps):
                np.dot(a, b, out=out)
            total += (time.perf_counter() - start) / reps * count
        totals.append(total)
    return float(np.median(totals))
