"""What every recurrent sequence op shares: input checks, the mask's rows, the reuse of large arrays between calls
(scratch) and the wrapping of results on the autograd tape. The ops' array layout is in feature_major.py.

Shape symbols: ``B`` batch, ``T`` time steps, ``D`` input features, ``H`` units, ``G`` gates (1, 4 or 3).

>>> import numpy as np
>>> x = np.arange(6.0).reshape(2, 3)
>>> bool((transpose_copy(x) == x.T).all())
True
>>> mask_rows(np.array([[True, True, False], [True, True, True]]), 2, 3, np.dtype("float64"))  # (T, B)
array([[1., 1.],
       [1., 1.],
       [0., 1.]])
"""
from __future__ import annotations

import math
import threading

import numpy as np

from rnnkit.autograd import Tensor, as_tensor, is_grad_enabled, make, make_many
from rnnkit.errors import RnnkitError, ShapeError


def as_input(value, name: str, op: str) -> Tensor | None:
    """``value`` as a Tensor (``None`` stays ``None``); a non-float array is an error naming ``name``."""
    if value is None:
        return None
    tensor = as_tensor(value)
    if tensor.dtype.kind != "f":
        raise ShapeError(f"{op}: {name} must be a float array; got dtype {tensor.dtype}")
    return tensor


def compute_dtype(*tensors) -> np.dtype:
    """The dtype an op computes in: float64 if some input is float64 (or wider), else float32 (half-precision
    inputs are computed in float32, the narrowest type the compiled kernels take)."""
    dtypes = {t.dtype for t in tensors if t is not None}
    if len(dtypes) == 1:
        (dtype,) = dtypes
        if dtype in _OWN_DTYPES:  # the usual case, without result_type's cost (about 1 µs)
            return dtype
    return np.result_type(np.float32, *dtypes)


_OWN_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))  # the dtypes an op computes in when all inputs have it


def check_weights(op: str, x_shape: tuple, kernel: Tensor, recurrent_kernel: Tensor, gates: int) -> tuple:
    """Check ``x (B, T, D)``, ``kernel (D, G*H)``, ``recurrent_kernel (H, G*H)``; return ``(B, T, D, H)``."""
    if len(x_shape) != 3:
        raise ShapeError(f"{op}: x must have shape (batch, time, features); got shape {x_shape}")
    B, T, D = x_shape
    if recurrent_kernel.ndim != 2 or recurrent_kernel.shape[1] != gates * recurrent_kernel.shape[0]:
        raise ShapeError(
            f"{op}: recurrent_kernel must have shape (units, {gates} * units); got shape {recurrent_kernel.shape}"
        )
    H = recurrent_kernel.shape[0]
    if kernel.shape != (D, gates * H):
        raise ShapeError(f"{op}: kernel must have shape (input_dim, {gates} * units) = {(D, gates * H)}; "
                         f"got shape {kernel.shape}")
    if T == 0:
        raise ShapeError(f"{op}: x must have at least one time step; got shape {x_shape}")
    return B, T, D, H


def check_step_input(op: str, x_t: Tensor) -> tuple:
    """Check a cell's ``x_t (B, D)``; return the shape it has as a one-step sequence ``(B, 1, D)``."""
    if x_t.ndim != 2:
        raise ShapeError(f"{op}: x_t must have shape (batch, features); got shape {x_t.shape}")
    return (x_t.shape[0], 1, x_t.shape[1])


def check_state(op: str, name: str, state: Tensor | None, B: int, H: int) -> None:
    """Check that an initial state has shape ``(B, H)``."""
    if state is not None and state.shape != (B, H):
        raise ShapeError(f"{op}: {name} must have shape (batch, units) = {(B, H)}; got shape {state.shape}")


def check_bias(op: str, bias: Tensor | None, shape: tuple) -> None:
    """Check the bias shape (``None`` means the layer has ``use_bias=False``)."""
    if bias is not None and bias.shape != shape:
        raise ShapeError(f"{op}: bias must have shape {shape}; got shape {bias.shape}")


def cast(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``array`` in ``dtype``, copied only when the dtype differs."""
    return array.astype(dtype, copy=False)


def transpose_copy(a: np.ndarray) -> np.ndarray:
    """``a (M, N)`` -> a new C-contiguous ``a^T (N, M)``.

    Reading a column of ``a`` strides through memory by ``N`` items; when that stride is a large power of two
    (``4H`` for H = 128) every read maps to the same cache set and a plain transposing copy runs several times
    slower (measured 150 µs vs 33 µs for (128, 512) float32). So the rows are first copied into a buffer padded
    by 16 items, whose row stride is not a power of two, and transposed from there.
    """
    M, N = a.shape
    if a.size <= 4096:  # small enough to stay in cache anyway
        return np.ascontiguousarray(a.T)  # (N, M)
    padded = np.empty((M, N + 16), a.dtype)  # (M, N + 16)
    padded[:, :N] = a
    return np.ascontiguousarray(padded[:, :N].T)  # (N, M)


def mask_rows(mask, B: int, T: int, dtype: np.dtype) -> np.ndarray | None:
    """A ``(B, T)`` boolean mask as ``(T, B)`` rows of 0/1 in ``dtype`` for the kernels; ``None`` when nothing is
    masked."""
    if mask is None:
        return None
    if isinstance(mask, Tensor):
        mask = mask.data
    mask = np.asarray(mask)
    if mask.shape != (B, T):
        raise ShapeError(f"mask must have shape (batch, time) = {(B, T)}; got shape {mask.shape}")
    if mask.dtype != np.bool_:
        mask = mask.astype(bool)
    if mask.all():
        return None  # nothing masked: take the faster unmasked path
    return np.ascontiguousarray(mask.T, dtype=dtype)  # (B, T) -> (T, B)


def or_empty(array: np.ndarray | None, ndim: int, dtype: np.dtype) -> np.ndarray:
    """``array``, or for ``None`` a zero-length ``ndim``-d array: the compiled kernels take no ``None``, so an absent
    mask or output gradient reaches them as an array whose first dimension is 0."""
    return np.zeros((0,) * ndim, dtype) if array is None else array


def initial_state(state: Tensor | None, B: int, H: int, dtype: np.dtype) -> np.ndarray:
    """The initial state's data in ``dtype`` (zeros when ``None``)."""
    return np.zeros((B, H), dtype) if state is None else cast(state.data, dtype)


def grad_for(parent: Tensor | None, grad: np.ndarray | None):
    """``grad`` cast to the parent's dtype, or ``None`` when the parent is absent or needs no gradient."""
    if parent is None or grad is None or not parent.requires_grad:
        return None
    return grad.astype(parent.dtype, copy=False)


def as_inputs(op: str, **named) -> tuple:
    """The op's named arguments as Tensors, in the order given (``None`` stays ``None``); see :func:`as_input`."""
    return tuple(as_input(value, name, op) for name, value in named.items())


def needs_by_name(names: tuple, tensors: tuple) -> dict:
    """``{name: needs(tensor)}`` for the op's differentiable inputs, which a backward pass consults."""
    return {name: needs(t) for name, t in zip(names, tensors)}


def needs(t: Tensor | None) -> bool:
    """Whether ``t`` is present and wants a gradient."""
    return t is not None and t.requires_grad


def will_backward(parents: tuple) -> bool:
    """Whether the op's output will be on the tape (grad enabled and some parent requires grad): when not, the op
    may skip saving what only the backward pass reads."""
    return is_grad_enabled() and any(p is not None and p.requires_grad for p in parents)


def present(parents: tuple) -> tuple:
    """The parents that exist (an absent bias or initial state is ``None``)."""
    return tuple(p for p in parents if p is not None)


def skip_absent(backward, parents: tuple):
    """Adapt a ``backward`` that returns one gradient per declared parent to the parents actually present."""
    if all(p is not None for p in parents):
        return backward

    def present_only(g):
        return tuple(d for p, d in zip(parents, backward(g)) if p is not None)

    return present_only



# ------------------------------------------------------------------------------------ scratch arrays
# The ops need several large arrays ((T, B, G*H) each) that never leave them: the forward cache (apart from the
# states, which the outputs view) and the backward temporaries. Reusing them across calls avoids fresh
# allocations, which glibc serves from new pages for large arrays: measured on a 2-core VM, the page faults cost
# as much as the arithmetic (LSTM 128 step 26 ms -> 18 ms). Only arrays handed out by ``scratch`` and never
# returned to a caller may be given back with ``release``. The forward cache is released when the op's
# backward has run (or at once when no backward can come), so a second backward through the same op is an
# error, as in PyTorch without ``retain_graph``.
_SCRATCH = threading.local()
SCRATCH_LIMIT_BYTES = 256 * 2**20  # keep at most this much memory parked between calls


def scratch(shape: tuple, dtype) -> np.ndarray:
    """An uninitialised array for a temporary that stays inside the op (give it back with :func:`release`)."""
    pool = _scratch_pool()
    parked = pool.get((shape, np.dtype(dtype).str))
    if parked:
        array = parked.pop()
        _SCRATCH.bytes -= array.nbytes
        return array
    return aligned_empty(shape, dtype)


ALIGN_FROM_COLUMNS = 512  # twice shards.MIN_SHARD: an array with fewer columns (batch) is never sharded


def aligned_empty(shape: tuple, dtype) -> np.ndarray:
    """``np.empty(shape, dtype)`` starting on a 64-byte cache line (NumPy aligns to 16): with rows of whole lines,
    two batch shards that write neighbouring columns never share a cache line (see shards.py). Arrays of fewer
    than :data:`ALIGN_FROM_COLUMNS` columns are never sharded and come from ``np.empty`` (the alignment costs a
    few microseconds a call, much of a batch-of-one step)."""
    if shape[-1] < ALIGN_FROM_COLUMNS:
        return np.empty(shape, dtype)
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + 64, np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start : start + nbytes].view(dtype).reshape(shape)


def release(*arrays) -> None:
    """Park temporaries from :func:`scratch` for the next call (within the memory limit)."""
    pool = _scratch_pool()
    for array in arrays:
        if array is None or _SCRATCH.bytes + array.nbytes > SCRATCH_LIMIT_BYTES:
            continue
        pool.setdefault((array.shape, array.dtype.str), []).append(array)
        _SCRATCH.bytes += array.nbytes


def _scratch_pool() -> dict:
    if not hasattr(_SCRATCH, "pool"):
        _SCRATCH.pool, _SCRATCH.bytes = {}, 0
    return _SCRATCH.pool


def own(cache: dict, *arrays) -> None:
    """Record scratch arrays that belong to an op's forward cache (released by :func:`free_cache`)."""
    cache.setdefault("owned", []).extend(a for a in arrays if a is not None)


def free_cache(cache: dict) -> None:
    """Park the cache's own arrays for reuse; the cache must not be read afterwards."""
    release(*cache.pop("owned", ()))
    cache["freed"] = True


def check_cache(cache: dict, op: str) -> None:
    """Raise if the op's saved arrays were already freed by an earlier backward pass."""
    if cache.get("freed"):
        raise RnnkitError(
            f"{op}: backward() reached this op a second time, but its saved arrays were freed after the first "
            "backward pass (as in PyTorch without retain_graph). Run the forward pass again before each backward()"
        )


def finish(op: str, cache: dict, datas, parents: tuple, backward):
    """Wrap the op's outputs (``datas``: one array or a tuple) on the tape; free the cache at once when no
    backward pass can come (no parent requires grad, or under ``no_grad``)."""
    parents_present, backward = present(parents), skip_absent(backward, parents)
    if isinstance(datas, tuple):
        outs = make_many(op, datas, parents_present, backward, zero_fill=False)  # see fm.tape_backward
        first = outs[0]
    else:
        outs = first = make(op, datas, parents_present, backward)
    if not first.requires_grad:
        free_cache(cache)
    elif not op.endswith("_cell"):  # a whole sequence: its backward may run beside another's (autograd)
        first._node.concurrent = True
    return outs
