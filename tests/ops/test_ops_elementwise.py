"""Elementwise ops (already in the repo): finite differences and PyTorch twins, with broadcasting."""
import numpy as np
import pytest
from helpers.gradcheck import check_gradients

from rnnkit import Tensor
from rnnkit.ops import absolute, add, cast, clip, div, exp, log, mul, neg, power, sqrt, sub

BROADCAST = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((1,), (2, 3)), ((), (2, 2))]
BINARY = {"add": (add, lambda a, b: a + b), "sub": (sub, lambda a, b: a - b), "mul": (mul, lambda a, b: a * b),
          "div": (div, lambda a, b: a / b)}


def _positive(shape, seed):
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shape_a, shape_b", BROADCAST)
def test_binary(name, shape_a, shape_b, torch_compare):
    ours, twin = BINARY[name]
    arrays = [np.random.default_rng(0).standard_normal(shape_a), _positive(shape_b, 1)]
    check_gradients(ours, arrays)
    torch_compare(ours, twin, arrays)


UNARY = {
    "neg": (neg, lambda t: (lambda x: -x)),
    "exp": (exp, lambda t: t.exp),
    "log": (log, lambda t: t.log),
    "sqrt": (sqrt, lambda t: t.sqrt),
    "abs": (absolute, lambda t: t.abs),
    "power3": (lambda x: power(x, 3.0), lambda t: (lambda x: x**3.0)),
    "power_half": (lambda x: power(x, 0.5), lambda t: (lambda x: x**0.5)),
    "clip": (lambda x: clip(x, 0.8, 1.5), lambda t: (lambda x: x.clamp(0.8, 1.5))),
    "cast": (lambda x: cast(x, "float64"), lambda t: (lambda x: x * 1.0)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", [(4,), (2, 3), (1, 3, 1)])
def test_unary(name, shape, torch_compare):
    ours, twin = UNARY[name]
    x = _positive(shape, 2)
    if name == "abs":
        x = x * np.where(np.random.default_rng(3).random(shape) < 0.5, -1.0, 1.0)
    check_gradients(ours, [x])
    torch_compare(ours, twin(torch_compare.torch), [x])


def test_operators_and_reflected_operators():
    x = Tensor([1.0, 2.0], requires_grad=True, dtype="float64")
    y = (2.0 - x) * 3.0 + 1.0 / x - (-x) ** 2 + abs(x) + np.array([1.0, 1.0]) * x
    y.backward(np.ones(2))
    # d/dx: -3 - 1/x^2 - 2x + 1 + 1
    np.testing.assert_allclose(x.grad, -3.0 - 1.0 / x.data**2 - 2.0 * x.data + 2.0)


def test_cast_gradient_returns_to_source_dtype():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (cast(x, "float64") * 2.0).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
