"""affine skips all-zero input rows in its forward pass and all-zero gradient rows in its backward pass (masked
time steps): values and gradients equal the full products, finite differences agree through a masked loss, and
NaN rows and non-finite weights are not skipped."""
from __future__ import annotations

import numpy as np
import pytest

from helpers.gradcheck import check_gradients
from rnnkit import Tensor
from rnnkit.ops import affine
from rnnkit.ops import affine as affine_module  # noqa: F401


def gradients(x, w, b, g):
    tensors = [Tensor(a, requires_grad=True, dtype="float64") for a in (x, w, b)]
    affine(*tensors).backward(g)
    return [t.grad for t in tensors]


@pytest.mark.parametrize("zero_fraction", [0.0, 0.3, 0.7, 1.0])
def test_zero_rows_skipped_give_the_full_gradients(zero_fraction):
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(8, 12, 5)), rng.normal(size=(5, 7)), rng.normal(size=7)
    g = rng.normal(size=(8, 12, 7))
    g[rng.random((8, 12)) < zero_fraction] = 0.0
    gx, gw, gb = gradients(x, w, b, g)
    G, X = g.reshape(-1, 7), x.reshape(-1, 5)
    np.testing.assert_allclose(gx, (G @ w.T).reshape(x.shape), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gw, X.T @ G, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gb, G.sum(0), rtol=1e-12, atol=1e-14)


def test_masked_loss_through_affine_gradcheck():
    rng = np.random.default_rng(1)
    keep = (rng.random((6, 14, 1)) < 0.4).astype(float)  # 60 % masked rows: the skipping path

    def forward(x, w, b):
        return affine(x, w, b) * Tensor(keep, dtype="float64")

    check_gradients(forward, [rng.normal(size=(6, 14, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)])


def test_nan_rows_are_not_skipped():
    x, w, b = np.ones((80, 2)), np.ones((2, 3)), np.zeros(3)
    g = np.zeros((80, 3))
    g[3, 1] = np.nan
    gx, gw, gb = gradients(x, w, b, g)
    assert np.isnan(gx[3]).all() and np.isnan(gw).any() and np.isnan(gb[1])


@pytest.mark.parametrize("zero_fraction", [0.0, 0.5, 1.0])
def test_zero_input_rows_give_the_bias(zero_fraction):
    rng = np.random.default_rng(2)
    x, w, b = rng.normal(size=(10, 9, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)
    x[rng.random((10, 9)) < zero_fraction] = 0.0
    y = affine(Tensor(x, dtype="float64"), Tensor(w, dtype="float64"), Tensor(b, dtype="float64")).numpy()
    np.testing.assert_allclose(y, x @ w + b, rtol=1e-12, atol=1e-14)
    zero = ~x.any(axis=-1)
    assert np.all(y[zero] == b)
    w[0, 0] = np.inf  # 0 * inf is NaN: with a non-finite weight nothing is skipped
    with np.errstate(invalid="ignore"):
        y = affine(Tensor(x, dtype="float64"), Tensor(w, dtype="float64")).numpy()
        np.testing.assert_array_equal(np.isnan(y), np.isnan(x @ w))
