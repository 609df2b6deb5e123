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
