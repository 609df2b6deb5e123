"""Ops that move values without arithmetic: reshape, transpose, indexing, concat/stack, flip, gather.

Each backward puts the gradient back where the value came from: the inverse reshape or permutation, a
split for ``concat``/``stack``, a scatter for indexing. Where one source element feeds several outputs
(advanced indexing with repeated indices, an embedding lookup), the scatter adds:

    y = w[idx]   =>   dL/dw[v] = sum over positions p with idx[p] == v of dL/dy[p]

>>> import numpy as np
>>> from rnnkit import Tensor
>>> from rnnkit.ops import take
>>> w = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
>>> y = take(w, np.array([[0, 2], [2, 2]]))
>>> y.shape
(2, 2, 2)
>>> y.sum().backward()
>>> w.grad
array([[1., 1.],
       [0., 0.],
       [3., 3.]], dtype=float32)
"""
from __future__ import annotations

import numbers

import numpy as np

from rnnkit.autograd import Tensor, as_tensor, make, make_many
from rnnkit.errors import DataError, ShapeError


def _axis(axis: int, ndim: int, op: str) -> int:
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{op}: axis {axis} is out of range for a tensor with {ndim} dimensions")
    return axis % ndim


# ----------------------------------------------------------------------------------------- reshape
def reshape(a, shape) -> Tensor:
    """``a`` with a new shape of the same size (one entry may be -1).

    >>> reshape(Tensor(np.arange(6.0)), (2, -1)).shape
    (2, 3)
    """
    a = as_tensor(a)
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(int(s) for s in shape)
    try:
        out = a.data.reshape(shape)
    except ValueError:
        raise ShapeError(f"cannot reshape a tensor of shape {a.shape} ({a.size} elements) to {shape}") from None

    def backward(g):
        return (g.reshape(a.shape),)

    return make("reshape", out, (a,), backward)


def expand_dims(a, axis: int) -> Tensor:
    """``a`` with a new size-1 axis at ``axis`` (as ``np.expand_dims``)."""
    a = as_tensor(a)
    axis = _axis(axis, a.ndim + 1, "expand_dims")
    return reshape(a, a.shape[:axis] + (1,) + a.shape[axis:])


def squeeze(a, axis=None) -> Tensor:
    """``a`` without the size-1 axis ``axis`` (all size-1 axes when None)."""
    a = as_tensor(a)
    if axis is None:
        return reshape(a, tuple(n for n in a.shape if n != 1))
    axes = {_axis(ax, a.ndim, "squeeze") for ax in ((axis,) if isinstance(axis, numbers.Integral) else axis)}
    for ax in axes:
        if a.shape[ax] != 1:
            raise ShapeError(f"squeeze: axis {ax} of shape {a.shape} has size {a.shape[ax]}; expected size 1")
    return reshape(a, tuple(n for i, n in enumerate(a.shape) if i not in axes))


def transpose(a, axes=None) -> Tensor:
    """Permute the axes of ``a`` (reverse them when ``axes`` is None); backward applies the inverse permutation.

    >>> transpose(Tensor(np.zeros((2, 3, 4))), (1, 0, 2)).shape
    (3, 2, 4)
    """
    a = as_tensor(a)
    axes = tuple(reversed(range(a.ndim))) if axes is None else tuple(_axis(ax, a.ndim, "transpose") for ax in axes)
    if sorted(axes) != list(range(a.ndim)):
        raise ShapeError(f"transpose: axes {axes} are not a permutation of the {a.ndim} axes of shape {a.shape}")
    out = a.data.transpose(axes)
    inverse = tuple(np.argsort(axes))

    def backward(g):
        return (g.transpose(inverse),)

    return make("transpose", out, (a,), backward)


# ---------------------------------------------------------------------------------------- indexing
def _is_basic(index) -> bool:
    """True when ``index`` is NumPy basic indexing (ints, slices, None, Ellipsis): no element is repeated."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (numbers.Integral, slice, type(None), type(Ellipsis))) for i in items)


def _plain_index(index):
    """Replace Tensors and lists inside an index by arrays."""

    def plain(i):
        if isinstance(i, Tensor):
            return i.data
        return np.asarray(i) if isinstance(i, list) else i

    return tuple(plain(i) for i in index) if isinstance(index, tuple) else plain(index)


def getitem(a, index) -> Tensor:
    """``a[index]`` for basic slicing and integer, boolean and advanced indexing.

    The backward writes the gradient into a zero array at ``index``; for advanced indexing, where an
    element may be picked several times, it adds with ``np.add.at``.

    >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> x[[0, 0, 2]].sum().backward()
    >>> x.grad
    array([2., 0., 1.], dtype=float32)
    """
    a = as_tensor(a)
    index = _plain_index(index)
    basic = _is_basic(index)
    out = a.data[index]
    if not isinstance(out, np.ndarray):
        out = np.asarray(out, dtype=a.dtype)  # a full integer index gives a NumPy scalar

    def backward(g):
        grad = np.zeros(a.shape, dtype=g.dtype)
        if basic:
            grad[index] = g
        elif _is_boolean_only(index):
            grad[index] = g  # a boolean mask selects each element at most once
        else:
            np.add.at(grad, index, g)
        return (grad,)

    return make("getitem", out, (a,), backward)


def _is_boolean_only(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(
        isinstance(i, (slice, type(None), type(Ellipsis), numbers.Integral))
        or (isinstance(i, np.ndarray) and i.dtype == bool)
        for i in items
    )


def id_out_of_range(ids: np.ndarray, count: int) -> int | None:
    """An integer id in ``ids`` outside ``[0, count)`` (the lowest if one is negative, else the highest), or None."""
    if not ids.size:
        return None
    low, high = ids.min(), ids.max()
    if low < 0:
        return int(low)
    return int(high) if high >= count else None


def take(weights, indices) -> Tensor:
    """Embedding gather: rows of ``weights`` (V, ...) picked by integer ``indices`` of any shape.

    ``out[p] = weights[indices[p]]``, so ``out.shape == indices.shape + weights.shape[1:]``. The backward is a
    scatter-add of the output gradient into a (V, ...) zero array (rows never picked get zero).

    Raises DataError (with the id and the vocabulary size) for an id outside ``[0, V)``.

    >>> w = Tensor(np.eye(3))
    >>> take(w, np.array([2, 0])).numpy()
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    weights = as_tensor(weights)
    ids = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if weights.ndim < 1:
        raise ShapeError(f"take: weights must have at least 1 dimension (vocabulary first); got shape {weights.shape}")
    vocab = weights.shape[0]
    if ids.dtype.kind not in "iu":
        if ids.dtype.kind == "f" and ids.size and np.all(np.floor(ids) == ids):
            ids = ids.astype(np.int64)  # float-valued ids (Keras accepts them) that are whole numbers
        elif ids.size == 0:
            ids = ids.astype(np.int64)
        else:
            raise DataError(f"take: indices must be integers (token ids); got dtype {ids.dtype}")
    bad = id_out_of_range(ids, vocab)
    if bad is not None:
        raise DataError(f"take: index {bad} is out of range for a vocabulary of size {vocab} (input_dim); "
                        f"ids must be in [0, {vocab - 1}]")
    out = weights.data[ids]  # (*ids.shape, *weights.shape[1:])

    def backward(g):
        rows = g.reshape(ids.size, -1)  # (N, E), one row per looked-up id
        grad = np.zeros((vocab, rows.shape[1]), dtype=g.dtype)  # (V, E)
        if ids.size:
            # Sort the ids, then sum each run of equal ids with one reduceat: several times faster than
            # np.add.at, most of all for small vocabularies (characters) where ids repeat a lot.
            order = np.argsort(ids.reshape(-1), kind="stable")  # (N,)
            sorted_ids = ids.reshape(-1)[order]
            starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])  # first position of each id
            grad[sorted_ids[starts]] = np.add.reduceat(rows[order], starts, axis=0)
        return (grad.reshape(weights.shape),)

    return make("take", out, (weights,), backward)


# ------------------------------------------------------------------------------------ concat/stack
def concat(tensors, axis: int = -1) -> Tensor:
    """Join tensors along an existing axis (Keras ``Concatenate``); backward splits the gradient.

    >>> concat([Tensor(np.zeros((2, 3))), Tensor(np.ones((2, 1)))], axis=-1).shape
    (2, 4)
    """
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ShapeError("concat needs at least one tensor; got an empty list")
    ndim = tensors[0].ndim
    axis = _axis(axis, ndim, "concat")
    def others(shape: tuple) -> tuple:  # the shape without the joined axis
        return shape[:axis] + shape[axis + 1 :]

    for t in tensors:
        if t.ndim != ndim or others(t.shape) != others(tensors[0].shape):
            raise ShapeError(
                f"concat along axis {axis}: shapes {[x.shape for x in tensors]} must match except on that axis"
            )
    out = np.concatenate([t.data for t in tensors], axis=axis)
    bounds = np.cumsum([t.shape[axis] for t in tensors])[:-1]

    def backward(g):
        parts = np.split(g, bounds, axis=axis)
        return tuple(p if t.requires_grad else None for p, t in zip(parts, tensors))

    return make("concat", out, tensors, backward)


def stack(tensors, axis: int = 0) -> Tensor:
    """Join same-shape tensors along a new axis; backward takes each slice back.

    >>> stack([Tensor(np.zeros(3)), Tensor(np.ones(3))], axis=1).shape
    (3, 2)
    """
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ShapeError("stack needs at least one tensor; got an empty list")
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ShapeError(f"stack needs tensors of one shape; got shapes {[t.shape for t in tensors]}")
    axis = _axis(axis, tensors[0].ndim + 1, "stack")
    out = np.stack([t.data for t in tensors], axis=axis)

    def backward(g):
        return tuple(np.take(g, i, axis=axis) if t.requires_grad else None for i, t in enumerate(tensors))

    return make("stack", out, tensors, backward)


def unstack(a, axis: int = 0) -> tuple:
    """Split ``a`` into its slices along ``axis`` (one output per slice, one node on the tape).

    >>> [t.shape for t in unstack(Tensor(np.zeros((2, 3))), axis=1)]
    [(2,), (2,), (2,)]
    """
    a = as_tensor(a)
    axis = _axis(axis, a.ndim, "unstack")
    outs = [np.take(a.data, i, axis=axis) for i in range(a.shape[axis])]

    def backward(grads):
        return (np.stack(grads, axis=axis),)

    return make_many("unstack", outs, (a,), backward)


def flip(a, axis=1) -> Tensor:
    """``a`` reversed along ``axis`` (an int or a tuple), e.g. the time axis for ``go_backwards``.

    >>> flip(Tensor([[1.0, 2.0, 3.0]]), axis=1).numpy()
    array([[3., 2., 1.]], dtype=float32)
    """
    a = as_tensor(a)
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    axes = tuple(_axis(ax, a.ndim, "flip") for ax in axes)
    out = np.flip(a.data, axes)  # a view, no copy: the ops that read it (the recurrent ones copy their input into
    out.flags.writeable = False  # their own layout anyway) take any strides; read-only, as it shares a's memory

    def backward(g):
        return (np.flip(g, axes),)

    return make("flip", out, (a,), backward)
