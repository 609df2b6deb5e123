"""Fused loss primitives: finite differences, PyTorch twins, extreme logits and clear errors on bad targets."""
import numpy as np
import pytest
from helpers.gradcheck import check_gradients

from rnnkit import Tensor
from rnnkit.errors import DataError, ShapeError
from rnnkit.ops import binary_cross_entropy, mean_absolute_error, mean_squared_error, softmax, softmax_cross_entropy

rng = np.random.default_rng(0)


def _probabilities(shape):
    p = rng.random(shape) + 0.1
    return p / p.sum(axis=-1, keepdims=True)


# ------------------------------------------------------------------------------ softmax cross-entropy
@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 4), (1, 2), (3, 1)])
def test_sparse_softmax_cross_entropy(shape, torch_compare):
    torch = torch_compare.torch
    x = 2.0 * rng.standard_normal(shape)
    ids = rng.integers(0, shape[-1], shape[:-1])
    check_gradients(lambda a: softmax_cross_entropy(a, ids), [x])
    torch_compare(
        lambda a: softmax_cross_entropy(a, ids),
        lambda a: torch.nn.functional.cross_entropy(a.movedim(-1, 1), torch.from_numpy(ids), reduction="none"),
        [x],
    )


@pytest.mark.parametrize("normalized", [True, False])  # soft targets need not sum to 1 (torch allows it too)
@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 4), (1, 2)])
def test_probability_softmax_cross_entropy(shape, normalized, torch_compare):
    torch = torch_compare.torch
    x, t = 2.0 * rng.standard_normal(shape), (_probabilities(shape) if normalized else rng.random(shape))
    check_gradients(softmax_cross_entropy, [x, t])  # also the gradient w.r.t. the targets
    torch_compare(
        softmax_cross_entropy,
        lambda a, b: torch.nn.functional.cross_entropy(a.movedim(-1, 1), b.movedim(-1, 1), reduction="none"),
        [x, t],
    )


def test_class_axis_argument(torch_compare):
    torch = torch_compare.torch
    x, ids = rng.standard_normal((2, 4, 3)), rng.integers(0, 4, (2, 3))  # classes on axis 1, as PyTorch
    check_gradients(lambda a: softmax_cross_entropy(a, ids, axis=1), [x])
    torch_compare(
        lambda a: softmax_cross_entropy(a, ids, axis=1),
        lambda a: torch.nn.functional.cross_entropy(a, torch.from_numpy(ids), reduction="none"),
        [x],
    )


def test_one_hot_equals_class_ids_and_trailing_axis_ids():
    x = Tensor(rng.standard_normal((5, 4)), dtype="float64")
    ids = rng.integers(0, 4, 5)
    one_hot = np.eye(4)[ids]
    expected = softmax_cross_entropy(x, ids).numpy()
    np.testing.assert_allclose(softmax_cross_entropy(x, one_hot).numpy(), expected, rtol=1e-14)
    np.testing.assert_allclose(softmax_cross_entropy(x, ids[:, None]).numpy(), expected, rtol=1e-14)
    np.testing.assert_allclose(softmax_cross_entropy(x, ids.astype(float)).numpy(), expected, rtol=1e-14)
    by_hand = -np.log(softmax(x).numpy()[np.arange(5), ids])
    np.testing.assert_allclose(expected, by_hand, rtol=1e-12)


def test_class_id_kernels_match_the_general_path_values_and_gradients():
    # float32/float64 class ids take the compiled kernels, float16 and one-hot targets the general NumPy path.
    logits = rng.standard_normal((2, 7, 5)) * 3
    ids = rng.integers(0, 5, (2, 7))
    upstream = rng.standard_normal((2, 7))
    results = {}
    for name, dtype, target in (("kernel", "float32", ids), ("one_hot", "float32", np.eye(5)[ids]),
                                ("float16", "float16", ids)):
        x = Tensor(logits, dtype=dtype, requires_grad=True)
        loss = softmax_cross_entropy(x, target)
        (loss * Tensor(upstream, dtype=dtype)).sum().backward()
        results[name] = (loss.numpy().astype(np.float64), x.grad.astype(np.float64))
    for name, tol in (("one_hot", 1e-5), ("float16", 2e-2)):
        np.testing.assert_allclose(results["kernel"][0], results[name][0], rtol=tol, atol=tol)
        np.testing.assert_allclose(results["kernel"][1], results[name][1], rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_cross_entropy_extreme_logits(dtype):
    x = Tensor([[400.0, -400.0, 0.0], [-400.0, 400.0, 0.0]], requires_grad=True, dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = softmax_cross_entropy(x, np.array([1, 1]))
        loss.sum().backward()
    np.testing.assert_allclose(loss.numpy(), [800.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(x.grad, [[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]], atol=1e-6)


def test_softmax_cross_entropy_errors():
    x = Tensor(np.zeros((4, 10)))
    with pytest.raises(DataError, match=r"class id 10 .*10 classes"):
        softmax_cross_entropy(x, np.array([0, 10, 3, 2]))
    with pytest.raises(DataError, match=r"class id -1"):
        softmax_cross_entropy(x, np.array([0, -1, 3, 2]))
    with pytest.raises(ShapeError, match=r"\(5,\).*\(4,\).*\(4, 10\)"):
        softmax_cross_entropy(x, np.zeros(5, dtype=int))
    with pytest.raises(DataError, match="whole numbers"):
        softmax_cross_entropy(x, np.array([0.5, 1.0, 2.0, 3.0]))


# ------------------------------------------------------------------------------- binary cross-entropy
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 1)])
def test_binary_cross_entropy_from_logits(shape, torch_compare):
    torch = torch_compare.torch
    x, y = 3.0 * rng.standard_normal(shape), rng.random(shape)
    check_gradients(lambda a, b: binary_cross_entropy(a, b, from_logits=True), [x, y])
    torch_compare(
        lambda a, b: binary_cross_entropy(a, b, from_logits=True),
        lambda a, b: torch.nn.functional.binary_cross_entropy_with_logits(a, b, reduction="none"),
        [x, y],
    )


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 1)])
def test_binary_cross_entropy_from_probabilities(shape, torch_compare):
    torch = torch_compare.torch
    p, y = rng.uniform(0.05, 0.95, shape), rng.random(shape)  # inside the clip range, where Keras == torch
    check_gradients(binary_cross_entropy, [p, y])
    torch_compare(
        binary_cross_entropy,
        lambda a, b: torch.nn.functional.binary_cross_entropy(a, b, reduction="none"),
        [p, y],
    )


def test_binary_cross_entropy_clips_probabilities_like_keras():
    p = Tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True, dtype="float64")
    loss = binary_cross_entropy(p, np.array([1.0, 0.0, 0.0, 1.0]))
    eps = 1e-7
    np.testing.assert_allclose(loss.numpy(), [-np.log(eps), -np.log(eps), -np.log1p(-eps), -np.log1p(-eps)], rtol=1e-9)
    loss.sum().backward()
    np.testing.assert_array_equal(p.grad, np.zeros(4))  # outside the clip range the gradient is cut


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_cross_entropy_extreme_logits(dtype):
    x = Tensor([-400.0, 400.0, -400.0, 400.0, -1e4], requires_grad=True, dtype=dtype)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = binary_cross_entropy(x, y, from_logits=True)
        loss.sum().backward()
    np.testing.assert_allclose(loss.numpy(), [400.0, 400.0, 0.0, 0.0, 1e4], rtol=1e-6, atol=1e-100)
    np.testing.assert_allclose(x.grad, [-1.0, 1.0, 0.0, 0.0, -1.0], atol=1e-100)


def test_binary_cross_entropy_errors_and_trailing_axis():
    pred = Tensor(np.full((4, 1), 0.5), dtype="float64")
    np.testing.assert_allclose(binary_cross_entropy(pred, np.ones(4)).numpy(), np.full((4, 1), np.log(2.0)))
    with pytest.raises(ShapeError, match=r"\(3,\).*\(4, 1\)"):
        binary_cross_entropy(pred, np.ones(3))
    with pytest.raises(DataError, match=r"\[0, 1\].*2\.0"):
        binary_cross_entropy(pred, np.full((4, 1), 2.0))


# ------------------------------------------------------------------------------------ regression losses
@pytest.mark.parametrize("fn, twin", [(mean_squared_error, lambda d: (d * d).mean(-1)),
                                      (mean_absolute_error, lambda d: d.abs().mean(-1))])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 1), (2, 3, 2)])
def test_regression_losses(fn, twin, shape, torch_compare):
    p, t = rng.standard_normal(shape), rng.standard_normal(shape)
    check_gradients(fn, [p, t])
    torch_compare(fn, lambda a, b: twin(a - b), [p, t])


def test_regression_known_values_and_errors():
    pred = Tensor([[1.0, 2.0], [0.0, -4.0]], dtype="float64")
    target = np.array([[0.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(mean_squared_error(pred, target).numpy(), [2.5, 8.0])
    np.testing.assert_allclose(mean_absolute_error(pred, target).numpy(), [1.5, 2.0])
    with pytest.raises(ShapeError, match=r"mean_squared_error.*\(2, 3\).*\(2, 2\)"):
        mean_squared_error(pred, np.zeros((2, 3)))
