"""affine (the Dense layer's ``x @ kernel + bias``): finite differences, PyTorch, and clear shape errors."""
import numpy as np
import pytest
from helpers.gradcheck import check_gradients

from rnnkit import Tensor
from rnnkit.errors import ShapeError
from rnnkit.ops import affine

SHAPES = [(3, 4), (1, 4), (2, 5, 4), (4,)]  # a batch, one row, a sequence (Dense on every step), one vector


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "nobias"])
def test_affine_gradcheck(shape, with_bias):
    rng = np.random.default_rng(len(shape))
    arrays = [rng.standard_normal(shape), rng.standard_normal((4, 3))] + ([rng.standard_normal(3)] if with_bias else [])
    check_gradients(affine, arrays)


@pytest.mark.parametrize("shape", SHAPES)
def test_affine_matches_torch(shape, torch_compare):
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(shape), rng.standard_normal((4, 3)), rng.standard_normal(3)]
    torch = torch_compare.torch
    torch_compare(affine, lambda x, w, b: torch.nn.functional.linear(x, w.T, b), arrays)


def test_affine_in_float32_keeps_float32():
    x, w, b = (Tensor(np.ones(s), dtype="float32") for s in ((2, 3), (3, 4), (4,)))
    assert affine(x, w, b).dtype == np.float32


@pytest.mark.parametrize("shapes, message", [
    (((2, 3), (4, 5), (5,)), r"x \(\.\.\., D\) and kernel \(D, units\) do not align; got shapes \(2, 3\) and \(4, 5\)"),
    (((2, 3), (3, 5), (4,)), r"bias must have shape \(5,\); got shape \(4,\)"),
])
def test_affine_names_the_shapes_it_got(shapes, message):
    with pytest.raises(ShapeError, match=message):
        affine(*(Tensor(np.zeros(s)) for s in shapes))


@pytest.mark.parametrize("layout", ["(D,T,B)", "(T,D,B)->no", "(D,B,T)", "(D,1,B)"])
def test_features_first_views_give_the_same_values_and_gradients(layout):
    # a recurrent layer returns (B, T, H) as a view of an (H, T, B) buffer: affine multiplies it in place
    rng = np.random.default_rng(3)
    if layout == "(D,T,B)":
        x = rng.standard_normal((6, 5, 4))[:, 1:].transpose(2, 1, 0)  # (B=4, T=4, D=6), features slowest
    elif layout == "(T,D,B)->no":
        x = rng.standard_normal((5, 6, 4)).transpose(2, 0, 1)  # features in the middle: the copying path
    elif layout == "(D,B,T)":
        x = rng.standard_normal((6, 4, 5)).transpose(1, 2, 0)  # (B, T, D) with T fastest
    else:
        x = rng.standard_normal((6, 1, 4)).transpose(2, 1, 0)  # a length-1 axis
    w, b = rng.standard_normal((6, 3)), rng.standard_normal(3)
    g = rng.standard_normal(x.shape[:-1] + (3,))
    results = []
    for xin in (x, np.ascontiguousarray(x)):
        xt, wt, bt = Tensor(xin, requires_grad=True, dtype="float64"), Tensor(w, requires_grad=True, dtype="float64"), \
            Tensor(b, requires_grad=True, dtype="float64")
        y = affine(xt, wt, bt)
        (y * Tensor(g, dtype="float64")).sum().backward()
        results.append([y.numpy(), xt.grad, wt.grad, bt.grad])
    for ours, plain in zip(*results):
        np.testing.assert_allclose(ours, plain, rtol=1e-12, atol=1e-13)
    check_gradients(affine, [x, w, b])
