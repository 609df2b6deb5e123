"""Shape ops: reshape, transpose, indexing, concat/stack/unstack, flip, expand_dims/squeeze, take."""
import numpy as np
import pytest
from helpers.gradcheck import check_gradients

from rnnkit import Tensor
from rnnkit.errors import DataError, ShapeError
from rnnkit.ops import concat, expand_dims, flip, getitem, reshape, squeeze, stack, take, transpose, unstack

rng = np.random.default_rng(0)


def _torch_index(torch, index):
    def one(i):
        return torch.from_numpy(i) if isinstance(i, np.ndarray) else i

    return tuple(one(i) for i in index) if isinstance(index, tuple) else one(index)


# ------------------------------------------------------------------------------------------- reshape
@pytest.mark.parametrize("shape, new", [((2, 3), (3, 2)), ((2, 3, 4), (6, -1)), ((1, 5), (5,)), ((4,), (2, 1, 2))])
def test_reshape(shape, new, torch_compare):
    x = rng.standard_normal(shape)
    check_gradients(lambda a: reshape(a, new), [x])
    torch_compare(lambda a: reshape(a, new), lambda a: a.reshape(new), [x])


def test_reshape_method_accepts_varargs_and_tuple():
    x = Tensor(np.arange(6.0))
    assert x.reshape(2, 3).shape == (2, 3) and x.reshape((3, 2)).shape == (3, 2) and x.reshape(-1).shape == (6,)
    with pytest.raises(ShapeError, match=r"\(6,\).*\(4, 2\)"):
        x.reshape(4, 2)


@pytest.mark.parametrize("shape, axes", [((2, 3), None), ((2, 3, 4), (1, 0, 2)), ((2, 3, 4), (2, 0, 1)),
                                         ((1, 3, 1), (-1, 0, 1))])
def test_transpose(shape, axes, torch_compare):
    x = rng.standard_normal(shape)
    check_gradients(lambda a: transpose(a, axes), [x])
    perm = tuple(reversed(range(len(shape)))) if axes is None else tuple(ax % len(shape) for ax in axes)
    torch_compare(lambda a: transpose(a, axes), lambda a: a.permute(perm), [x])


def test_transpose_methods_and_bad_axes():
    x = Tensor(np.zeros((2, 3, 4)))
    assert x.T.shape == (4, 3, 2) and x.transpose(1, 0, 2).shape == (3, 2, 4)
    assert x.transpose((2, 1, 0)).shape == (4, 3, 2)
    with pytest.raises(ShapeError, match="permutation"):
        transpose(x, (0, 0, 1))


# ------------------------------------------------------------------------------------------ indexing
INDEXES = [
    np.s_[1],
    np.s_[-1],
    np.s_[1:3],
    np.s_[:, 1],
    np.s_[:, ::2],
    np.s_[..., 1],
    np.s_[None, 0],
    np.s_[1, 2, 0],  # every axis: a 0-d result
    np.array([0, 0, 2]),  # repeated rows: scatter-add
    (np.array([0, 1, 1]), np.array([2, 0, 2])),
    np.s_[:, np.array([0, 2, 2])],
    np.array([True, False, True, True]),
    (np.array([[0, 1], [3, 3]]), slice(None), np.array([[1, 0], [0, 1]])),  # advanced axes apart
]


@pytest.mark.parametrize("index", INDEXES, ids=lambda i: repr(i)[:40])
def test_getitem(index, torch_compare):
    x = rng.standard_normal((4, 3, 2))
    check_gradients(lambda a: getitem(a, index), [x])
    torch_compare(lambda a: a[index], lambda a: a[_torch_index(torch_compare.torch, index)], [x])


def test_getitem_negative_step_list_and_tensor_index():
    x = rng.standard_normal((5, 3))
    check_gradients(lambda a: a[::-2, 1:], [x])
    check_gradients(lambda a: a[[4, 4, 0]], [x])
    check_gradients(lambda a: a[Tensor(np.array([1, 1, 3]))], [x])
    check_gradients(lambda a: a[[True, False, True, False, True]], [x])


def test_getitem_repeated_index_accumulates():
    x = Tensor(np.zeros(3), requires_grad=True, dtype="float64")
    x[np.array([2, 2, 2, 0])].backward(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(x.grad, [4.0, 0.0, 6.0])


# ------------------------------------------------------------------------------------- concat/stack
@pytest.mark.parametrize("shapes, axis", [([(2, 3), (2, 1), (2, 4)], -1), ([(1, 3), (2, 3)], 0),
                                          ([(2, 1, 3), (2, 2, 3)], 1), ([(3,)], 0)])
def test_concat(shapes, axis, torch_compare):
    arrays = [rng.standard_normal(s) for s in shapes]
    check_gradients(lambda *ts: concat(ts, axis=axis), arrays)
    torch_compare(lambda *ts: concat(ts, axis=axis), lambda *ts: torch_compare.torch.cat(ts, dim=axis), arrays)


def test_concat_with_constant_and_bad_shapes():
    a = Tensor(np.ones((2, 2)), requires_grad=True, dtype="float64")
    concat([a, np.zeros((2, 3))], axis=1).backward(np.arange(10.0).reshape(2, 5))
    np.testing.assert_array_equal(a.grad, [[0.0, 1.0], [5.0, 6.0]])
    with pytest.raises(ShapeError, match="concat"):
        concat([np.zeros((2, 3)), np.zeros((3, 3))], axis=1)
    with pytest.raises(ShapeError, match="at least one"):
        concat([])


@pytest.mark.parametrize("shape, count, axis", [((2, 3), 3, 0), ((2, 3), 2, 1), ((2, 3), 2, -1), ((1,), 4, 0)])
def test_stack(shape, count, axis, torch_compare):
    arrays = [rng.standard_normal(shape) for _ in range(count)]
    check_gradients(lambda *ts: stack(ts, axis=axis), arrays)
    torch_compare(lambda *ts: stack(ts, axis=axis), lambda *ts: torch_compare.torch.stack(ts, dim=axis), arrays)


def test_stack_rejects_mixed_shapes():
    with pytest.raises(ShapeError, match=r"\(2,\).*\(3,\)"):
        stack([np.zeros(2), np.zeros(3)])


@pytest.mark.parametrize("shape, axis", [((3, 2), 0), ((2, 4, 3), 1), ((2, 3), -1)])
def test_unstack(shape, axis, torch_compare):
    x = rng.standard_normal(shape)
    check_gradients(lambda a: unstack(a, axis), [x])
    torch_compare(lambda a: unstack(a, axis), lambda a: a.unbind(axis), [x])


# ------------------------------------------------------------------------------- flip, expand, squeeze
@pytest.mark.parametrize("shape, axis", [((2, 5, 3), 1), ((4,), 0), ((2, 3, 2), (0, 2)), ((3, 1), -1)])
def test_flip(shape, axis, torch_compare):
    x = rng.standard_normal(shape)
    check_gradients(lambda a: flip(a, axis), [x])
    dims = (axis,) if isinstance(axis, int) else axis
    torch_compare(lambda a: a.flip(axis), lambda a: a.flip(dims), [x])


@pytest.mark.parametrize("shape, axis", [((2, 3), 0), ((2, 3), 2), ((2, 3), -1), ((4,), 1)])
def test_expand_dims(shape, axis, torch_compare):
    x = rng.standard_normal(shape)
    check_gradients(lambda a: expand_dims(a, axis), [x])
    torch_compare(lambda a: expand_dims(a, axis), lambda a: a.unsqueeze(axis), [x])


@pytest.mark.parametrize("shape, axis", [((2, 1, 3), 1), ((1, 3), 0), ((2, 1), -1), ((1, 2, 1), None)])
def test_squeeze(shape, axis, torch_compare):
    x = rng.standard_normal(shape)
    check_gradients(lambda a: squeeze(a, axis), [x])
    torch_fn = (lambda a: a.squeeze()) if axis is None else (lambda a: a.squeeze(axis))
    torch_compare(lambda a: squeeze(a, axis), torch_fn, [x])


def test_squeeze_and_expand_errors():
    with pytest.raises(ShapeError, match="size 3"):
        squeeze(Tensor(np.zeros((2, 3))), 1)
    with pytest.raises(ShapeError, match="axis 3"):
        expand_dims(Tensor(np.zeros((2, 3))), 3)


# ---------------------------------------------------------------------------------------------- take
@pytest.mark.parametrize("vocab, dims, ids_shape", [(7, (3,), (5,)), (4, (2,), (2, 3)), (6, (2, 2), (2, 3, 2)),
                                                    (5, (), (4,)), (3, (4,), ())])
def test_take(vocab, dims, ids_shape, torch_compare):
    w = rng.standard_normal((vocab,) + dims)
    ids = rng.integers(0, vocab, ids_shape)
    check_gradients(lambda t: take(t, ids), [w])
    torch_compare(lambda t, i: take(t, i.data), lambda t, i: t[i], [w, ids])


def test_take_scatter_add_matches_add_at_on_many_ids():
    w = Tensor(np.zeros((50, 8)), requires_grad=True, dtype="float64")
    ids = rng.integers(0, 50, (30, 40))
    ids[0, :5] = 49  # make sure the last row repeats
    g = rng.standard_normal((30, 40, 8))
    take(w, ids).backward(g)
    expected = np.zeros((50, 8))
    np.add.at(expected, ids.ravel(), g.reshape(-1, 8))
    np.testing.assert_allclose(w.grad, expected, rtol=1e-12, atol=1e-12)


def test_take_accepts_whole_float_ids():
    w = Tensor(np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(take(w, np.array([2.0, 0.0])).numpy(), [[4.0, 5.0], [0.0, 1.0]])


@pytest.mark.parametrize("bad", [10, 12, -1])
def test_take_out_of_range_id_names_id_and_vocabulary(bad):
    ids = np.array([[0, 3], [bad, 1]])
    with pytest.raises(DataError, match=rf"index {bad} .*vocabulary of size 10"):
        take(Tensor(np.zeros((10, 2))), ids)


def test_take_rejects_fractional_ids():
    with pytest.raises(DataError, match="integers"):
        take(Tensor(np.zeros((10, 2))), np.array([0.5]))
