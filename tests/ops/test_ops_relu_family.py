"""Keras' general ReLU, leaky ReLU and the masked softmax: finite differences (float64) over random shapes and
PyTorch twins of the values and gradients."""
import numpy as np
import pytest
from helpers.gradcheck import check_gradients

from rnnkit.ops.relu_family import leaky_relu, masked_softmax, relu_general

SHAPES = [(7,), (3, 4), (2, 3, 5)]
RELU_SETTINGS = [  # (negative_slope, max_value, threshold)
    (0.0, None, 0.5), (0.2, None, 0.5), (0.0, 2.0, 0.0), (0.1, 2.0, 0.7), (0.3, 6.0, 0.0), (0.0, 1.5, 1.0)]


def _inputs(shape, seed=0):
    return 2.0 * np.random.default_rng(seed).standard_normal(shape)


def _torch_relu(torch, slope, max_value, threshold):
    def fn(x):
        positive = torch.where(x > threshold, x, torch.zeros_like(x))
        if max_value is not None:
            positive = torch.clamp(positive, 0.0, max_value)
        return positive - slope * torch.relu(threshold - x)
    return fn


@pytest.mark.parametrize("settings", RELU_SETTINGS)
@pytest.mark.parametrize("shape", SHAPES)
def test_relu_general_gradcheck_and_torch(settings, shape, torch_compare):
    slope, max_value, threshold = settings
    x = _inputs(shape)
    fn = lambda a: relu_general(a, slope, max_value, threshold)  # noqa: E731
    check_gradients(fn, [x])
    torch_compare(fn, _torch_relu(torch_compare.torch, slope, max_value, threshold), [x])


@pytest.mark.parametrize("slope", [0.0, 0.01, 0.3, 1.5])
@pytest.mark.parametrize("shape", SHAPES)
def test_leaky_relu_gradcheck_and_torch(slope, shape, torch_compare):
    x = _inputs(shape, seed=1)
    check_gradients(lambda a: leaky_relu(a, slope), [x])
    torch = torch_compare.torch
    torch_compare(lambda a: leaky_relu(a, slope), lambda a: torch.nn.functional.leaky_relu(a, slope), [x])


def _torch_masked_softmax(torch, keep, axes):
    def fn(x):
        m = torch.from_numpy(np.broadcast_to(keep, x.shape).copy())
        z = torch.where(m, x, torch.full_like(x, -1e9))
        y = torch.exp(z - torch.logsumexp(z, dim=axes, keepdim=True))
        return torch.where(m, y, torch.zeros_like(y))
    return fn


@pytest.mark.parametrize("shape, axis, mask_shape", [
    ((3, 5), -1, (3, 5)), ((2, 4, 3), -1, (2, 4, 1)), ((2, 4, 3), 1, (2, 4, 3)), ((2, 4, 3), (1, 2), (2, 4, 3)),
    ((2, 4, 3), (1, 2), None), ((4, 6), 0, (1, 6))])
def test_masked_softmax_gradcheck_and_torch(shape, axis, mask_shape, torch_compare):
    rng = np.random.default_rng(3)
    x = _inputs(shape, seed=2)
    keep = None if mask_shape is None else rng.random(mask_shape) > 0.3
    if keep is not None:
        keep.flat[0] = True  # at least one kept position in the first slice
    fn = lambda a: masked_softmax(a, keep, axis)  # noqa: E731
    check_gradients(fn, [x])
    axes = tuple(axis) if isinstance(axis, tuple) else (axis,)
    full = np.ones(shape, dtype=bool) if keep is None else keep
    torch_compare(fn, _torch_masked_softmax(torch_compare.torch, full, axes), [x])


def test_fully_masked_row_gives_zeros_and_float_masks_read_above_half():
    out = masked_softmax(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.9, 0.2], [0.0, 0.0]]))
    np.testing.assert_array_equal(out.numpy(), [[1.0, 0.0], [0.0, 0.0]])
