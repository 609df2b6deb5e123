"""Tensor: an array, its gradient, and the op that made it.

Every op builds its output with :func:`make` (one output) or :func:`make_many` (several outputs, such as a
recurrent op's sequence and final states), passing the parents and a ``backward`` closure that maps the
gradient of the output(s) to the gradients of the parents. ``Tensor.backward()`` walks this tape in reverse
topological order with an explicit stack (no recursion limit), accumulating fan-out with ``+``.

Gradients are kept only on leaves (tensors made by the user or by a layer: weights and inputs), as in PyTorch;
repeated ``backward()`` calls accumulate into ``.grad`` until it is reset with ``zero_grad()``.

>>> import numpy as np
>>> from rnnkit import Tensor
>>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> y = (x * x).sum()
>>> y.backward()
>>> x.grad
array([2., 4., 6.], dtype=float32)
"""
from __future__ import annotations

import contextlib
from typing import Callable, Sequence

import numpy as np

from rnnkit.backend import as_float_dtype
from rnnkit.errors import RnnkitError, ShapeError
from rnnkit.threads import BlasThreads, run_pair

_grad_enabled = True


def is_grad_enabled() -> bool:
    """Whether ops currently record the tape."""
    return _grad_enabled


@contextlib.contextmanager
def no_grad():
    """Context manager (or decorator) in which ops record nothing, as ``torch.no_grad()``.

    >>> from rnnkit import Tensor, no_grad
    >>> w = Tensor([1.0], requires_grad=True)
    >>> with no_grad():
    ...     y = w * 2.0
    >>> y.requires_grad
    False
    """
    global _grad_enabled
    previous = _grad_enabled
    _grad_enabled = False
    try:
        yield
    finally:
        _grad_enabled = previous


class Node:
    """One recorded op: its parent tensors, its backward closure and the shapes of its outputs; ``zero_fill``:
    whether an output that received no gradient is handed to the backward as zeros (else as None)."""

    __slots__ = ("name", "parents", "backward", "out_shapes", "out_dtypes", "zero_fill", "concurrent")

    def __init__(self, name, parents, backward, out_shapes, out_dtypes, zero_fill=True):
        self.name = name
        self.parents = parents
        self.backward = backward
        self.out_shapes = out_shapes
        self.out_dtypes = out_dtypes
        self.zero_fill = zero_fill
        self.concurrent = False  # a long backward that may run beside another such one (a recurrent op's)


def _to_array(data, dtype) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.asarray(data, dtype=as_float_dtype(dtype) if _is_float_name(dtype) else dtype)
    array = np.asarray(data)
    if array.dtype.kind == "f" or array.dtype == object:
        return array.astype(as_float_dtype(None), copy=False)
    return array


def _is_float_name(dtype) -> bool:
    try:
        return np.dtype(dtype).kind == "f"
    except TypeError:
        return True  # let as_float_dtype raise the clear error


class Tensor:
    """An n-dimensional array that records the ops applied to it, for reverse-mode differentiation.

    Args:
        data: array-like. Float data becomes ``float32`` (``backend.floatx()``) unless ``dtype`` is given;
            integer and boolean data keep their type (token ids, masks).
        requires_grad: whether ``backward()`` should compute ``.grad`` for this tensor.
        dtype: optional dtype, e.g. ``"float64"`` for gradient checks.

    >>> t = Tensor([[1, 2], [3, 4]], dtype="float64")
    >>> t.shape, t.dtype
    ((2, 2), dtype('float64'))
    """

    __array_priority__ = 100  # make ndarray <op> Tensor defer to Tensor's reflected operators

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        self.data = _to_array(data, dtype)
        self.requires_grad = bool(requires_grad)
        if self.requires_grad and self.data.dtype.kind != "f":
            raise RnnkitError(f"only float tensors can require grad; got dtype {self.data.dtype}")
        self.grad: np.ndarray | None = None
        self._node: Node | None = None
        self._index = 0
        self._keras_mask = None  # (batch, time) bool mask carried from Embedding/Masking to recurrent layers

    # ----------------------------------------------------------------------------------- array facts
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The underlying array (not a copy)."""
        return self.data

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        return self.data.item()

    def detach(self) -> "Tensor":
        """A new leaf sharing this tensor's data, outside the tape."""
        return Tensor(self.data)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``.grad = None``)."""
        self.grad = None

    def __repr__(self) -> str:
        extra = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.data, separator=", ", threshold=20, edgeitems=3)
        return f"Tensor({body}, dtype={self.data.dtype}{extra})"

    # ------------------------------------------------------------------------------------- backward
    def backward(self, grad=None) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        ``grad`` is the gradient of some scalar with respect to this tensor; it may be omitted only when this
        tensor holds a single element (then it is 1).
        """
        if not self.requires_grad:
            raise RnnkitError(
                "backward() was called on a tensor that does not require grad: no weight or input in its "
                "graph has requires_grad=True (or it was computed under no_grad())"
            )
        if grad is None:
            if self.data.size != 1:
                raise ShapeError(
                    f"backward() without a gradient needs a one-element tensor; got shape {self.shape}. "
                    "Pass grad= with the same shape, or reduce the tensor to a scalar first"
                )
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ShapeError(f"backward() grad has shape {grad.shape}; expected the tensor's shape {self.shape}")
        if self._node is None:
            _accumulate_leaf(self, grad)
            return
        with BlasThreads():  # rnnkit's BLAS thread count while gradients flow (rnnkit.threads)
            _run_backward(self._node, self._index, grad)


def _accumulate_leaf(leaf: Tensor, grad: np.ndarray) -> None:
    if leaf.grad is None:
        leaf.grad = np.array(grad, dtype=leaf.dtype, copy=True)
    else:
        leaf.grad += grad


def _backward_steps(root: Node) -> list:
    """The nodes reachable from ``root`` in an order for the backward pass, each after every node that consumes
    its outputs (root first), as steps of one node or of two that may run at once.

    Kahn's order over the reachable graph, taking a ready node of ordinary ops before a ready ``concurrent`` one
    (a recurrent op), so that the cheap ops between two recurrent ops run first and both become ready together:
    two concurrent nodes ready at the same time make one step (neither consumes the other). The order depends on
    the graph only, not on the thread count, so gradients sum in the same order either way."""
    consumers, stack, seen = {id(root): 0}, [root], {id(root)}
    while stack:  # count each node's consuming edges within the reachable graph
        for parent in stack.pop().parents:
            child = parent._node
            if child is not None and parent.requires_grad:
                consumers[id(child)] = consumers.get(id(child), 0) + 1
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append(child)
    steps, ready, ready_concurrent = [], [root], []
    while ready or ready_concurrent:
        if ready:
            node = ready.pop()
            step = (node,)
        else:
            node = ready_concurrent.pop()
            step = (node, ready_concurrent.pop()) if ready_concurrent else (node,)
        steps.append(step)
        for done in step:
            for parent in done.parents:
                child = parent._node
                if child is not None and parent.requires_grad:
                    consumers[id(child)] -= 1
                    if consumers[id(child)] == 0:
                        (ready_concurrent if child.concurrent else ready).append(child)
    return steps


def _run_backward(root: Node, index: int, grad: np.ndarray) -> None:
    pending: dict[int, list] = {id(root): [None] * len(root.out_shapes)}
    pending[id(root)][index] = grad
    for step in _backward_steps(root):
        inputs = [(node, pending.pop(id(node), None)) for node in step]
        inputs = [(node, grads) for node, grads in inputs if grads is not None]
        if len(inputs) == 2:  # two recurrent ops' backward passes at once (rnnkit.threads.run_pair)
            (first, first_grads), (second, second_grads) = inputs
            results = zip((first, second), run_pair(lambda: _node_backward(first, first_grads),
                                                     lambda: _node_backward(second, second_grads)))
        else:
            results = [(node, _node_backward(node, grads)) for node, grads in inputs]
        for node, parent_grads in results:  # summed in step order whichever finished first
            for parent, g in zip(node.parents, parent_grads):
                if g is None or not parent.requires_grad:
                    continue
                if parent._node is None:
                    _accumulate_leaf(parent, g)
                    continue
                slots = pending.setdefault(id(parent._node), [None] * len(parent._node.out_shapes))
                previous = slots[parent._index]
                slots[parent._index] = g if previous is None else previous + g


def _node_backward(node: Node, grads: list):
    """The node's backward on its output gradients (zeros for absent ones where the node asks for them)."""
    for i, g in enumerate(grads):
        if g is None and node.zero_fill:
            grads[i] = np.zeros(node.out_shapes[i], dtype=node.out_dtypes[i])
    return node.backward(grads if len(grads) > 1 else grads[0])


# ------------------------------------------------------------------------------------ op construction
def as_tensor(value, dtype=None) -> Tensor:
    """``value`` itself if it is a Tensor, else a new constant Tensor (see ``Tensor`` for dtype rules)."""
    if isinstance(value, Tensor):
        return value
    return Tensor(value, dtype=dtype)


def make(name: str, data: np.ndarray, parents: Sequence[Tensor], backward: Callable) -> Tensor:
    """Wrap an op's output; record it on the tape when a parent requires grad and grad is enabled.

    ``backward(g)`` receives the gradient of the output and returns one gradient (or None) per parent,
    in the order of ``parents``, each with that parent's shape.
    """
    out = Tensor.__new__(Tensor)
    out.data = data
    out.grad = None
    out._index = 0
    out._keras_mask = None
    out._node = None
    out.requires_grad = False
    if _grad_enabled and any(p.requires_grad for p in parents):
        out.requires_grad = True
        out._node = Node(name, tuple(parents), backward, (data.shape,), (data.dtype,))
    return out


def make_many(name: str, datas: Sequence[np.ndarray], parents: Sequence[Tensor], backward: Callable,
              zero_fill: bool = True) -> tuple:
    """Like :func:`make` for an op with several outputs; ``backward`` receives a list of output gradients, with
    zeros for outputs that received none (None instead with ``zero_fill=False``: an op whose backward skips an
    absent gradient then saves allocating and adding a zero array)."""
    outs = tuple(make(name, d, (), None) for d in datas)
    if len(datas) == 1:  # the tape hands a one-output node a bare array; keep the promised list
        many_backward = backward

        def backward(g):
            return many_backward([g])

    if _grad_enabled and any(p.requires_grad for p in parents):
        node = Node(name, tuple(parents), backward, tuple(d.shape for d in datas), tuple(d.dtype for d in datas),
                    zero_fill)
        for i, out in enumerate(outs):
            out.requires_grad = True
            out._node = node
            out._index = i
    return outs
