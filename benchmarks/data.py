"""Benchmark inputs: real Fashion-MNIST / MNIST images when the case is 28x28, otherwise seeded noise."""
from __future__ import annotations

import numpy as np

from benchmarks.cases import Case


def load_images() -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST train set if installed (Debian package), else the bundled MNIST sample."""
    from rnnkit.datasets import fashion_mnist, mnist_sample

    try:
        (x, y), _ = fashion_mnist.load_data()
    except Exception:  # not installed and no network: the bundled sample is real data too
        (x, y), _ = mnist_sample.load_data()
    return x, y


def batches(case: Case, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``case.steps`` float32 batches ``(B, T, D)`` with int64 labels, identical for both frameworks."""
    rng = np.random.default_rng(seed)
    count = case.batch * case.steps
    if case.time_steps * case.features == 28 * 28:  # rows (28 x 28) or pixels (784 x 1) of real images
        x, y = load_images()
        index = rng.choice(len(x), size=count, replace=count > len(x))
        images = (x[index].reshape(count, -1) / 255.0).astype(np.float32)  # (count, 784)
        labels = y[index].astype(np.int64)
    else:  # tiny smoke-test shapes
        images = rng.random((count, case.time_steps * case.features), dtype=np.float32)
        labels = rng.integers(0, case.classes, size=count)
    sequences = images.reshape(case.steps, case.batch, case.time_steps, case.features)  # (S, B, T, D)
    labels = labels.reshape(case.steps, case.batch)
    return [(np.ascontiguousarray(sequences[i]), labels[i]) for i in range(case.steps)]
