"""matmul: finite differences and PyTorch over 2-D, N-D @ 2-D, batched broadcasting and 1-D operands."""
import numpy as np
import pytest
from helpers.gradcheck import check_gradients

from rnnkit import Tensor
from rnnkit.errors import ShapeError
from rnnkit.ops import matmul

SHAPES = [
    ((3, 4), (4, 5)),  # 2-D @ 2-D
    ((1, 4), (4, 1)),  # size-1 axes
    ((2, 3, 4), (4, 5)),  # Dense on a sequence
    ((2, 1, 3, 4), (4, 2)),
    ((2, 3, 4), (2, 4, 5)),  # batched
    ((2, 1, 3, 4), (1, 5, 4, 2)),  # broadcast batch axes on both sides
    ((1, 3, 4), (2, 4, 5)),
    ((3, 4), (2, 4, 5)),  # 2-D @ N-D
    ((4,), (4, 3)),  # 1-D operands, NumPy rules
    ((3, 4), (4,)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 3)),
    ((4,), (4,)),
]


@pytest.mark.parametrize("shape_a, shape_b", SHAPES)
def test_matmul_gradcheck(shape_a, shape_b):
    rng = np.random.default_rng(len(shape_a) * 10 + len(shape_b))
    check_gradients(matmul, [rng.standard_normal(shape_a), rng.standard_normal(shape_b)])


@pytest.mark.parametrize("shape_a, shape_b", SHAPES)
def test_matmul_matches_torch(shape_a, shape_b, torch_compare):
    rng = np.random.default_rng(1)
    torch_compare(lambda a, b: a @ b, lambda a, b: a @ b, [rng.standard_normal(shape_a), rng.standard_normal(shape_b)])


def test_rmatmul_with_array_on_the_left(torch_compare):
    rng = np.random.default_rng(2)
    w = rng.standard_normal((3, 4))
    torch = torch_compare.torch
    torch_compare(lambda b: w @ b, lambda b: torch.tensor(w) @ b, [rng.standard_normal((4, 2))])


def test_sequence_weight_grad_is_sum_over_batch_and_time():
    rng = np.random.default_rng(3)
    x, w, g = rng.standard_normal((2, 5, 3)), rng.standard_normal((3, 4)), rng.standard_normal((2, 5, 4))
    xt, wt = Tensor(x, dtype="float64"), Tensor(w, requires_grad=True, dtype="float64")
    matmul(xt, wt).backward(g)
    np.testing.assert_allclose(wt.grad, np.einsum("btd,bth->dh", x, g), rtol=1e-12)
    assert xt.grad is None


def test_backward_skips_operands_without_grad():
    a = Tensor(np.ones((2, 3)), requires_grad=True, dtype="float64")
    b = Tensor(np.full((3, 4), 2.0), dtype="float64")
    out = matmul(a, b)
    ga, gb = out._node.backward(np.ones((2, 4)))
    assert gb is None
    np.testing.assert_allclose(ga, np.full((2, 3), 8.0))


def test_float32_stays_float32():
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    out = a @ np.ones((3, 2))
    out.sum().backward()
    assert out.dtype == np.float32 and a.grad.dtype == np.float32


@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (4, 5)), ((2, 3, 4), (2, 5, 6)), ((), (3,))])
def test_mismatched_shapes_raise(shape_a, shape_b):
    with pytest.raises(ShapeError, match="matmul"):
        matmul(Tensor(np.zeros(shape_a)), Tensor(np.zeros(shape_b)))
