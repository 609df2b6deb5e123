"""rnnkit.ops under Keras 3's names: the new primitives (einsum, where, maximum, minimum, split) against finite
differences and PyTorch (float64), and every Keras-named function against keras.ops on the same inputs."""
import numpy as np
import pytest
from helpers.gradcheck import check_gradients

from rnnkit import Tensor, ops
from rnnkit.errors import ShapeError

EINSUM_CASES = [  # subscripts, operand shapes
    ("bi,ij->bj", [(3, 4), (4, 5)]),
    ("bij,jk->bik", [(2, 3, 4), (4, 5)]),
    ("bij,ijkl->bkl", [(2, 3, 2), (3, 2, 4, 3)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("ij->ji", [(3, 4)]),
    ("ij->i", [(3, 4)]),  # j summed inside the only operand: its gradient is broadcast back
    ("bi,bi->b", [(4, 3), (4, 3)]),
    ("i,j->ij", [(3,), (4,)]),
    ("bi,ij", [(3, 4), (4, 5)]),  # implicit output: 'bj'
    ("...i,ij->...j", [(2, 3, 4), (4, 5)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (3, 4, 2)]),  # ellipsis axes broadcast (size 1 against 3)
    ("bi,ij,jk->bk", [(2, 3), (3, 4), (4, 2)]),
]


@pytest.mark.parametrize("subscripts, shapes", EINSUM_CASES)
def test_einsum_gradients_and_torch(subscripts, shapes, torch_compare):
    rng = np.random.default_rng(len(subscripts))
    arrays = [rng.standard_normal(s) for s in shapes]
    fn = lambda *xs: ops.einsum(subscripts, *xs)  # noqa: E731
    check_gradients(fn, arrays)
    torch_compare(fn, lambda *xs: torch_compare.torch.einsum(subscripts, *xs), arrays)


def test_einsum_errors_name_the_problem():
    with pytest.raises(ShapeError, match="name 2 operand"):
        ops.einsum("bi,ij->bj", np.ones((2, 3)))
    with pytest.raises(ShapeError, match="axis 'i' has size 3 in one operand and 4"):
        ops.einsum("bi,ij->bj", np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ShapeError, match="trace or diagonal"):
        ops.einsum("ii->i", np.ones((3, 3)))
    with pytest.raises(ShapeError, match="names 2 axes"):
        ops.einsum("bi,ij->bj", np.ones((2, 3, 1)), np.ones((3, 4)))


@pytest.mark.parametrize("shape_c, shape_x, shape_y", [((3, 4), (3, 4), (3, 4)), ((3, 1), (3, 4), (4,)),
                                                       ((4,), (2, 1, 4), (3, 1))])
def test_where(shape_c, shape_x, shape_y, torch_compare):
    rng = np.random.default_rng(1)
    cond = rng.random(shape_c) < 0.5
    arrays = [rng.standard_normal(shape_x), rng.standard_normal(shape_y)]
    fn = lambda x, y: ops.where(cond, x, y)  # noqa: E731
    check_gradients(fn, arrays)
    torch_compare(fn, lambda x, y: torch_compare.torch.where(torch_compare.torch.tensor(cond), x, y), arrays)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_with_ties_and_broadcast(name, torch_compare):
    rng = np.random.default_rng(2)
    x = np.round(rng.standard_normal((3, 4)), 1)
    y = np.round(rng.standard_normal((4,)), 1)
    x[0] = y  # exact ties: PyTorch splits the gradient in half
    ours = getattr(ops, name)
    torch_compare(ours, getattr(torch_compare.torch, name), [x, y])
    x[0] += 0.05  # no ties: finite differences are defined
    check_gradients(ours, [x, y])


@pytest.mark.parametrize("sections, axis", [(3, 1), ([1, 4], 1), (2, 0), ([2], -1)])
def test_split(sections, axis, torch_compare):
    x = np.random.default_rng(3).standard_normal((4, 6))
    fn = lambda a: ops.split(a, sections, axis=axis)  # noqa: E731

    def twin(a):
        torch = torch_compare.torch
        if isinstance(sections, int):
            return torch.chunk(a, sections, dim=axis)
        bounds = [0, *sections, a.shape[axis]]
        return [torch.narrow(a, axis, lo, hi - lo) for lo, hi in zip(bounds, bounds[1:])]

    check_gradients(fn, [x])
    torch_compare(fn, twin, [x])
    # only the last part used: the others get a zero gradient
    t = Tensor(x, requires_grad=True, dtype="float64")
    last = ops.split(t, sections, axis=axis)[-1]
    last.sum().backward()
    expected = np.zeros_like(x)
    np.moveaxis(expected, axis, 0)[-last.shape[axis]:] = 1.0
    np.testing.assert_array_equal(t.grad, expected)


def test_split_refuses_uneven_sections():
    with pytest.raises(ShapeError, match="must divide"):
        ops.split(np.ones((5, 2)), 2)


# ---------------------------------------------------------------------------------- against keras.ops
def _pos(shape, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


def _any(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


KERAS_CASES = {  # name: (arguments, keyword arguments)
    "matmul": ((_any((2, 3, 4)), _any((4, 5))), {}),
    "dot": ((_any((3, 4)), _any((4, 2))), {}),
    "add": ((_any((3, 4)), _any((4,))), {}),
    "subtract": ((_any((3, 4)), 2.0), {}),
    "multiply": ((_any((3, 1)), _any((1, 4))), {}),
    "divide": ((_any((3, 4)), _pos((3, 4))), {}),
    "negative": ((_any((3,)),), {}),
    "tanh": ((_any((3, 4)),), {}),
    "sigmoid": ((_any((3, 4)),), {}),
    "relu": ((_any((3, 4)),), {}),
    "softmax": ((_any((3, 4)),), {"axis": 0}),
    "exp": ((_any((3, 4)),), {}),
    "log": ((_pos((3, 4)),), {}),
    "sqrt": ((_pos((3, 4)),), {}),
    "square": ((_any((3, 4)),), {}),
    "abs": ((_any((3, 4)),), {}),
    "absolute": ((_any((3, 4)),), {}),
    "maximum": ((_any((3, 4)), 0.1), {}),
    "minimum": ((_any((3, 4)), _any((4,), 5)), {}),
    "clip": ((_any((3, 4)), -0.5, 0.5), {}),
    "concatenate": (([_any((2, 3)), _any((1, 3))],), {}),
    "stack": (([_any((2, 3)), _any((2, 3), 4)],), {"axis": 1}),
    "reshape": ((_any((2, 6)), (3, -1)), {}),
    "transpose": ((_any((2, 3, 4)), (2, 0, 1)), {}),
    "expand_dims": ((_any((2, 3)), (0, 2)), {}),
    "squeeze": ((_any((2, 1, 3)),), {"axis": 1}),
    "sum": ((_any((2, 3, 4)),), {"axis": (0, 2), "keepdims": True}),
    "mean": ((_any((2, 3, 4)),), {"axis": -1}),
    "max": ((_any((2, 3)),), {"axis": 0, "initial": 0.3}),
    "min": ((_any((2, 3)),), {"axis": 1}),
    "power": ((_pos((2, 3)), 3.0), {}),
    "einsum": (("bij,jk->bik", _any((2, 3, 4)), _any((4, 5))), {}),
    "where": ((_any((2, 3)) > 0, _any((2, 3)), 0.0), {}),
    "cast": ((_any((2, 3)), "float32"), {}),
    "zeros_like": ((_any((2, 3)),), {}),
    "ones_like": ((_any((2, 3)),), {}),
}


@pytest.fixture(scope="module")
def kops():
    import keras
    from keras.src.backend.common import dtypes

    saved = dict(dtypes.BIT64_TO_BIT32_DTYPE)
    dtypes.BIT64_TO_BIT32_DTYPE.clear()  # Keras computing in float64 (it narrows float64 to float32 otherwise)
    yield keras.ops
    dtypes.BIT64_TO_BIT32_DTYPE.update(saved)


def _numpy(value):
    if isinstance(value, Tensor):
        return value.numpy()
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


@pytest.mark.parametrize("name", sorted(KERAS_CASES))
def test_same_values_as_keras_ops(name, kops):
    import torch

    args, kwargs = KERAS_CASES[name]
    convert = lambda a: Tensor(a, dtype=a.dtype) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a  # noqa
    ours = getattr(ops, name)(*[[convert(x) for x in a] if isinstance(a, list) else convert(a) for a in args],
                              **kwargs)
    tor = lambda a: torch.tensor(a) if isinstance(a, np.ndarray) else a  # noqa: E731
    theirs = getattr(kops, name)(*[[tor(x) for x in a] if isinstance(a, list) else tor(a) for a in args], **kwargs)
    np.testing.assert_allclose(_numpy(ours), _numpy(theirs), rtol=1e-6 if name == "cast" else 1e-12, atol=1e-12)
    assert _numpy(ours).shape == tuple(_numpy(theirs).shape)


def test_creation_shape_and_convert(kops):
    assert ops.shape(np.zeros((2, 3))) == kops.shape(np.zeros((2, 3))) == (2, 3)
    for name in ("zeros", "ones"):
        ours, theirs = getattr(ops, name)((2, 3)), getattr(kops, name)((2, 3))
        assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")
        np.testing.assert_array_equal(ours.numpy(), _numpy(theirs))
    assert ops.convert_to_tensor(np.zeros(2)).dtype == np.float64  # a NumPy array keeps its dtype, as Keras
    assert ops.convert_to_tensor([1.0]).dtype == np.float32
    t = Tensor([1.0], requires_grad=True)
    assert ops.convert_to_tensor(t) is t
    split_theirs = kops.split(np.arange(6.0), [2, 5])
    assert [p.numpy().tolist() for p in ops.split(np.arange(6.0), [2, 5])] == \
        [_numpy(p).tolist() for p in split_theirs]


def test_composite_gradient_matches_torch(torch_compare):
    """A GRU-like step written with the Keras names: gradients equal PyTorch's."""
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal((3, 4)), rng.standard_normal((3, 2)), rng.standard_normal((4, 6)),
              rng.standard_normal((2, 6))]

    def ours(x, h, k, u):
        xz, xh = ops.split(ops.einsum("bi,ij->bj", x, k), [2], axis=-1)
        hz, hh = ops.split(ops.matmul(h, u), 2, axis=1)
        z = ops.sigmoid(ops.add(xz[:, :2], hz[:, :2]))
        n = ops.tanh(ops.concatenate([xh, hh], axis=-1)[:, :2] + ops.square(hh[:, 2:]))
        return ops.where(z.numpy() > 0.5, ops.maximum(z * h, n), ops.divide(n, 2.0)) - ops.mean(h, axis=0)

    def theirs(x, h, k, u):
        import torch

        xz, xh = torch.split(torch.einsum("bi,ij->bj", x, k), [2, 4], dim=-1)
        hz, hh = torch.chunk(h @ u, 2, dim=1)
        z = torch.sigmoid(xz[:, :2] + hz[:, :2])
        n = torch.tanh(torch.cat([xh, hh], dim=-1)[:, :2] + hh[:, 2:] ** 2)
        return torch.where(z > 0.5, torch.maximum(z * h, n), n / 2.0) - h.mean(dim=0)

    torch_compare(ours, theirs, arrays)
