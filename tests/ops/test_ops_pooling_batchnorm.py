"""Pooling and batch normalisation ops: finite differences, PyTorch on identical inputs, hand-worked values."""
import numpy as np
import pytest
from helpers.gradcheck import check_gradients

from rnnkit import Tensor
from rnnkit.errors import ConfigError, ShapeError
from rnnkit.ops.normalization import batch_norm
from rnnkit.ops.pooling import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d

# (H, W, pool, strides, padding): non-overlapping, overlapping, strides None, "same" with odd and even cuts
POOL_CASES = [(4, 6, (2, 2), None, "valid"), (5, 7, (3, 3), (2, 2), "valid"), (5, 5, (2, 3), (1, 2), "valid"),
              (5, 7, (2, 2), None, "same"), (6, 5, (3, 3), (2, 2), "same"), (4, 4, (3, 2), (1, 1), "same"),
              (7, 3, (2, 1), None, "valid")]


def pool_id(case):
    H, W, pool, strides, padding = case
    return f"{H}x{W}p{pool[0]}{pool[1]}s{strides}{padding}"


def tf_same_pads(size, k, stride):
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def torch_pool(torch, x, pool, strides, padding, kind):
    """The TensorFlow/Keras definition through PyTorch: pad explicitly; a max ignores -inf padding, an average
    divides by the count of real cells (PyTorch's avg of a padded ones-image)."""
    F = torch.nn.functional
    strides = pool if strides is None else strides
    x = x.permute(0, 3, 1, 2)  # NHWC -> NCHW
    pads = (0, 0, 0, 0)
    if padding == "same":
        (top, bottom), (left, right) = (tf_same_pads(n, k, s) for n, k, s in zip(x.shape[2:], pool, strides))
        pads = (left, right, top, bottom)
    if kind == "max":
        y = F.max_pool2d(F.pad(x, pads, value=-np.inf), pool, strides)
    else:
        ones = torch.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype)
        y = F.avg_pool2d(F.pad(x, pads), pool, strides) / F.avg_pool2d(F.pad(ones, pads), pool, strides)
    return y.permute(0, 2, 3, 1)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", POOL_CASES, ids=pool_id)
def test_pool2d_gradcheck_and_torch(case, kind, torch_compare):
    H, W, pool, strides, padding = case
    op = max_pool2d if kind == "max" else avg_pool2d
    x = np.random.default_rng(H * W).standard_normal((2, H, W, 3))
    check_gradients(lambda t: op(t, pool, strides, padding), [x])
    torch_compare(lambda t: op(t, pool, strides, padding),
                  lambda t: torch_pool(torch_compare.torch, t, pool, strides, padding, kind), [x], tol=1e-9)


def test_valid_pooling_equals_torch_builtin_directly(torch_compare):
    F = torch_compare.torch.nn.functional
    x = np.random.default_rng(0).standard_normal((2, 6, 9, 4))
    torch_compare(lambda t: max_pool2d(t, (2, 3), (2, 2)),
                  lambda t: F.max_pool2d(t.permute(0, 3, 1, 2), (2, 3), (2, 2)).permute(0, 2, 3, 1), [x], tol=1e-9)
    torch_compare(lambda t: avg_pool2d(t, 3, 1),
                  lambda t: F.avg_pool2d(t.permute(0, 3, 1, 2), 3, 1).permute(0, 2, 3, 1), [x], tol=1e-9)


@pytest.mark.parametrize("pool, strides, padding", [(2, None, "valid"), (3, 2, "same"), (2, 1, "same"),
                                                     (4, 3, "valid")])
def test_pool1d_matches_torch(pool, strides, padding, torch_compare):
    F = torch_compare.torch.nn.functional
    x = np.random.default_rng(pool).standard_normal((2, 9, 3))
    s = pool if strides is None else strides
    pads = tf_same_pads(9, pool, s) if padding == "same" else (0, 0)
    for ours, theirs in ((max_pool1d, lambda t: F.max_pool1d(F.pad(t, pads, value=-np.inf), pool, s)),
                         (avg_pool1d, lambda t: F.avg_pool1d(F.pad(t, pads), pool, s)
                          / F.avg_pool1d(F.pad(torch_compare.torch.ones(1, 1, 9), pads), pool, s))):
        check_gradients(lambda t: ours(t, pool, strides, padding), [x])
        torch_compare(lambda t: ours(t, pool, strides, padding),
                      lambda t: theirs(t.permute(0, 2, 1)).permute(0, 2, 1), [x], tol=1e-9)


def test_max_pool_gradient_goes_to_the_first_of_tied_maxima_as_torch(torch_compare):
    F = torch_compare.torch.nn.functional
    x = np.zeros((1, 4, 4, 1))
    x[0, 1, 1, 0] = x[0, 0, 1, 0] = 1.0  # a tie inside the first window
    torch_compare(lambda t: max_pool2d(t, 2),
                  lambda t: F.max_pool2d(t.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1), [x], tol=0)


def test_same_average_pool_counts_only_real_cells():
    x = Tensor(np.arange(1.0, 6.0).reshape(1, 1, 5, 1), dtype="float64")
    # n=5, k=2, s=2: out 3, total pad 1 at the end: windows {1,2}, {3,4}, {5}
    np.testing.assert_array_equal(avg_pool2d(x, (1, 2), padding="same").numpy().ravel(), [1.5, 3.5, 5.0])
    np.testing.assert_array_equal(max_pool2d(-x, (1, 2), padding="same").numpy().ravel(), [-1.0, -3.0, -5.0])


def test_pooling_errors():
    with pytest.raises(ShapeError, match=r"expected input \(batch, height, width, channels\); got shape \(2, 3\)"):
        max_pool2d(Tensor(np.zeros((2, 3))))
    with pytest.raises(ShapeError, match=r"smaller than pool_size \(3, 3\)"):
        avg_pool2d(Tensor(np.zeros((1, 2, 5, 1))), 3)
    with pytest.raises(ConfigError, match=r"pool_size must be a positive integer .*; got 0"):
        max_pool2d(Tensor(np.zeros((1, 4, 4, 1))), 0)


# ------------------------------------------------------------------------------------------ batch norm
BN_SHAPES = [((6, 3), -1), ((2, 5, 4), -1), ((2, 3, 4, 3), -1), ((2, 3, 4, 3), 1)]


@pytest.mark.parametrize("shape, axis", BN_SHAPES)
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_batch_norm_training_gradcheck_and_torch(shape, axis, affine, torch_compare):
    torch = torch_compare.torch
    rng = np.random.default_rng(len(shape))
    features = shape[axis]
    x = 2.0 + 3.0 * rng.standard_normal(shape)
    arrays = [x] + ([rng.standard_normal(features), rng.standard_normal(features)] if affine else [])

    def ours(x, *gb):
        return batch_norm(x, *gb, epsilon=1e-3, axis=axis)[0]

    def reference(x, *gb):
        moved = x.movedim(axis, 1)  # torch normalises axis 1
        y = torch.nn.functional.batch_norm(moved, None, None, *gb, training=True, eps=1e-3)
        return y.movedim(1, axis)

    check_gradients(ours, arrays)
    torch_compare(ours, reference, arrays, tol=1e-9)


@pytest.mark.parametrize("shape, axis", BN_SHAPES)
def test_batch_norm_inference_gradcheck_and_torch(shape, axis, torch_compare):
    torch = torch_compare.torch
    rng = np.random.default_rng(1)
    features = shape[axis]
    mean, var = rng.standard_normal(features), rng.uniform(0.5, 2.0, features)
    arrays = [rng.standard_normal(shape), rng.standard_normal(features), rng.standard_normal(features)]

    def ours(x, g, b):
        return batch_norm(x, g, b, mean, var, epsilon=1e-3, axis=axis)[0]

    def reference(x, g, b):
        y = torch.nn.functional.batch_norm(x.movedim(axis, 1), torch.tensor(mean), torch.tensor(var), g, b,
                                           training=False, eps=1e-3)
        return y.movedim(1, axis)

    check_gradients(ours, arrays)
    torch_compare(ours, reference, arrays, tol=1e-9)


def test_batch_norm_returns_the_batch_statistics_with_biased_variance():
    x = np.random.default_rng(2).standard_normal((4, 5, 3))
    _, mean, var = batch_norm(Tensor(x, dtype="float64"))
    np.testing.assert_allclose(mean, x.reshape(-1, 3).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(var, x.reshape(-1, 3).var(axis=0, ddof=0), rtol=1e-12)


def test_batch_norm_errors():
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(ShapeError, match=r"gamma must have shape \(3,\) .*; got shape \(2,\)"):
        batch_norm(x, Tensor(np.ones(2)))
    with pytest.raises(ShapeError, match=r"axis must be an integer in \[-2, 2\) .*; got axis=2"):
        batch_norm(x, axis=2)


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_batch_norm_compiled_and_numpy_paths_agree(training):
    """Channels-last contiguous float input takes the compiled loops; a strided view takes NumPy's path."""
    rng = np.random.default_rng(11)
    x = 1.0 + rng.standard_normal((3, 4, 5, 6))
    gamma, beta, upstream = rng.standard_normal(6), rng.standard_normal(6), rng.standard_normal(x.shape)
    stats = (None, None) if training else (rng.standard_normal(6), rng.uniform(0.5, 2.0, 6))
    results = []
    for data in (x, np.asfortranarray(x)):  # the same values, C-contiguous and not
        leaves = [Tensor(a, requires_grad=True, dtype="float64") for a in (data, gamma, beta)]
        y, mean, var = batch_norm(*leaves, *stats, epsilon=1e-3)
        y.backward(upstream)
        results.append([y.numpy(), mean, var] + [t.grad for t in leaves])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
