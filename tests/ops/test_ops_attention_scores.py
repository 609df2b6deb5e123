"""additive_scores (the fused Bahdanau score op): finite-difference gradients over random shapes, equal to the
composition of tape ops (float64 exactly, float32 within the kernels' tanh error), equal to PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

from helpers.gradcheck import check_gradients
from rnnkit import Tensor
from rnnkit.errors import ShapeError
from rnnkit.ops import expand_dims, tanh
from rnnkit.ops import sum as sum_
from rnnkit.ops.attention_scores import additive_scores


def composed(q, k, s):
    return sum_(tanh(expand_dims(q, -2) + expand_dims(k, -3)) * s, axis=-1)


@pytest.mark.parametrize("seed", range(4))
def test_gradients_finite_differences(seed):
    rng = np.random.default_rng(seed)
    b, tq, tv, d = (int(n) for n in rng.integers(1, 5, size=4))
    arrays = [rng.normal(size=(b, tq, d)), rng.normal(size=(b, tv, d)), rng.normal(size=d)]
    check_gradients(additive_scores, arrays)


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-12), ("float32", 2e-5)])
def test_equals_composed_ops_values_and_gradients(dtype, rtol):
    rng = np.random.default_rng(7)
    arrays = [rng.normal(size=(3, 5, 6)), rng.normal(size=(3, 4, 6)), rng.normal(size=6)]
    g = rng.normal(size=(3, 5, 4))
    g[0, 1] = 0.0  # zero rows (masked) are skipped by the kernel
    results = []
    for fn in (additive_scores, composed):
        tensors = [Tensor(a, requires_grad=True, dtype=dtype) for a in arrays]
        out = fn(*tensors)
        out.backward(g)
        results.append([out.numpy()] + [t.grad for t in tensors])
    for ours, reference in zip(*results):
        assert ours.dtype == np.dtype(dtype)
        np.testing.assert_allclose(ours, reference, rtol=rtol, atol=rtol)


def test_equals_torch():
    import torch

    rng = np.random.default_rng(3)
    arrays = [rng.normal(size=(2, 3, 5)), rng.normal(size=(2, 4, 5)), rng.normal(size=5)]
    g = rng.normal(size=(2, 3, 4))
    tensors = [Tensor(a, requires_grad=True, dtype="float64") for a in arrays]
    additive_scores(*tensors).backward(g)
    q, k, s = (torch.tensor(a, requires_grad=True) for a in arrays)
    out = (s * torch.tanh(q[:, :, None] + k[:, None])).sum(-1)
    out.backward(torch.tensor(g))
    values = additive_scores(*[Tensor(a, dtype="float64") for a in arrays]).numpy()
    np.testing.assert_allclose(values, out.detach().numpy(), rtol=1e-12)
    for ours, theirs in zip(tensors, (q, k, s)):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_non_contiguous_and_bad_shapes():
    rng = np.random.default_rng(1)
    q = rng.normal(size=(2, 6, 3))[:, ::2]  # a strided view
    k, s = rng.normal(size=(2, 4, 3)), rng.normal(size=3)
    np.testing.assert_allclose(additive_scores(q, k, s).numpy(), composed(Tensor(q), Tensor(k), Tensor(s)).numpy(),
                               rtol=2e-5)
    with pytest.raises(ShapeError, match="scale"):
        additive_scores(np.ones((1, 2, 3)), np.ones((1, 2, 3)), np.ones(4))
