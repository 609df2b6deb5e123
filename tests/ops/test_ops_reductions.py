"""sum, mean, max over every axis form (None, int, negative, tuple, keepdims), vs finite differences and PyTorch."""
import numpy as np
import pytest
from helpers.gradcheck import check_gradients

from rnnkit import Tensor, ops
from rnnkit.errors import ShapeError

CASES = [
    ((3, 4), None, False),
    ((3, 4), None, True),
    ((3, 4), 0, False),
    ((2, 3, 4), -1, True),
    ((2, 3, 4), (0, 2), False),
    ((2, 1, 4), 1, False),  # size-1 axis
    ((1, 3, 1), (0, 2), True),
    ((5,), 0, False),
]


def _dims(shape, axis):
    return tuple(range(len(shape))) if axis is None else axis


@pytest.mark.parametrize("name", ["sum", "mean", "max"])
@pytest.mark.parametrize("shape, axis, keepdims", CASES)
def test_reduction_gradcheck(name, shape, axis, keepdims):
    x = np.random.default_rng(len(shape)).standard_normal(shape)
    check_gradients(lambda a: getattr(ops, name)(a, axis=axis, keepdims=keepdims), [x])


@pytest.mark.parametrize("name, torch_name", [("sum", "sum"), ("mean", "mean"), ("max", "amax")])
@pytest.mark.parametrize("shape, axis, keepdims", CASES)
def test_reduction_matches_torch(name, torch_name, shape, axis, keepdims, torch_compare):
    x = np.random.default_rng(7).standard_normal(shape)
    torch_compare(
        lambda a: getattr(a, name)(axis=axis, keepdims=keepdims),
        lambda a: getattr(torch_compare.torch, torch_name)(a, dim=_dims(shape, axis), keepdim=keepdims),
        [x],
    )


def test_max_splits_gradient_evenly_among_ties(torch_compare):
    x = np.array([[1.0, 3.0, 3.0, 3.0], [2.0, 2.0, -1.0, 0.0]])
    torch_compare(lambda a: a.max(axis=1), lambda a: torch_compare.torch.amax(a, dim=1), [x])
    t = Tensor(x, requires_grad=True, dtype="float64")
    t.max(axis=1).backward(np.array([3.0, 1.0]))
    np.testing.assert_allclose(t.grad, [[0.0, 1.0, 1.0, 1.0], [0.5, 0.5, 0.0, 0.0]])
    t.zero_grad()
    t.max().backward()
    np.testing.assert_allclose(t.grad, [[0.0, 1 / 3, 1 / 3, 1 / 3], [0.0, 0.0, 0.0, 0.0]])


def test_results_are_float32_and_grads_are_writable():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = x.mean(axis=0)
    assert y.dtype == np.float32
    grad = y._node.backward(np.ones(3, dtype=np.float32))[0]
    grad += 1.0  # a backward may update its incoming gradient in place
    assert grad.shape == (2, 3) and grad.dtype == np.float32


@pytest.mark.parametrize("name", ["sum", "mean", "max"])
def test_bad_axis_raises(name):
    with pytest.raises(ShapeError, match="axis 2"):
        getattr(ops, name)(Tensor(np.zeros((2, 3))), axis=2)


def test_max_of_empty_raises():
    with pytest.raises(ShapeError, match="empty"):
        ops.max(Tensor(np.zeros((0, 3))))
