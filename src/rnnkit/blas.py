"""Matrix products called from compiled code: the ``cblas_?gemm`` of the OpenBLAS that NumPy itself uses.

A recurrent op's time loop alternates one matrix product with one compiled kernel per step. With the product
taken from NumPy, every step pays for a return to Python, a ``np.matmul`` call and a kernel call; at the seed
model's size (B = 64, H = 32) that is more than half of the step. Calling the same BLAS routine straight from
the compiled loop keeps the whole loop in machine code, with the same arithmetic as ``np.matmul``.

NumPy's wheels that use OpenBLAS (those for Linux, for one) carry it with 64-bit integers, as
``scipy_cblas_sgemm64_`` and ``scipy_cblas_dgemm64_``, in a library beside the package. The routine is trusted
only after it has computed known products correctly (:func:`_verified`: a plain, a strided and a ``beta = 1``
product, through ``ctypes``, before any compiled code calls it). :func:`gemm_address` gives its address for a
dtype, or 0 where there is none (another BLAS such as MKL or Accelerate, a routine that failed the check, or
``RNNKIT_COMPILED_BLAS=0`` in the environment); the recurrent ops then run their NumPy loops. Which path is in use
is logged once at debug level (logger ``rnnkit.blas``) and reported by :func:`rnnkit.config.recurrent_backend`.

:func:`matmul_into` checks every call (shapes, dtypes, contiguous rows, non-null addresses) and raises
``ValueError`` instead of handing BLAS something it would misread. The address is an argument of the compiled
functions, not a constant in them, so that Numba can cache them on disk.

>>> import numpy as np
>>> a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
>>> c = np.empty((2, 4))
>>> address = gemm_address(c.dtype)
>>> if address:
...     matmul_into(address, a, b, c, 0.0)
... else:
...     np.matmul(a, b, out=c)
>>> bool((c == a @ b).all())
True
"""
from __future__ import annotations

import ctypes
import glob
import logging
import os
from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from rnnkit.compiled import jit

LOG = logging.getLogger("rnnkit.blas")

# Symbol names (float32, float64) to look for, each with 64-bit integer arguments, and the matching OpenBLAS
# thread-count functions (see threads.py).
_SYMBOLS = (("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_"), ("cblas_sgemm64_", "cblas_dgemm64_"))
_THREAD_SYMBOLS = (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
                   ("openblas_set_num_threads64_", "openblas_get_num_threads64_"))
_ROW_MAJOR, _NO_TRANS = 101, 111  # the CBLAS enum values


class BlasStatus(NamedTuple):
    """What :mod:`rnnkit.blas` found: the library, whether its gemm passed the check, and why not if it failed."""

    library: str | None  # path of the shared library, None when none was found or looked for
    addresses: dict  # {np.dtype: address} of verified gemm routines; empty: the NumPy loops run
    reason: str  # one line: what is in use, or why the compiled path is off
    set_threads: object = None  # ctypes function openblas_set_num_threads(int), or None
    get_threads: object = None  # ctypes function openblas_get_num_threads(), or None


def _library_candidates() -> list:
    """The OpenBLAS shared libraries that NumPy's wheels place beside the package (Linux, macOS)."""
    package = os.path.dirname(np.__file__)
    patterns = [os.path.join(package, os.pardir, "numpy.libs", "*openblas*"),  # Linux wheels
                os.path.join(package, ".dylibs", "*openblas*")]  # macOS wheels built with OpenBLAS
    return sorted(path for pattern in patterns for path in glob.glob(pattern))


def _gemm_function(address: int, dtype: np.dtype):
    """The routine at ``address`` as a ctypes function with the CBLAS gemm signature (64-bit integers)."""
    real = ctypes.c_float if dtype == np.float32 else ctypes.c_double
    i32, i64, ptr = ctypes.c_int32, ctypes.c_int64, ctypes.c_void_p
    prototype = ctypes.CFUNCTYPE(None, i32, i32, i32, i64, i64, i64, real, ptr, i64, ptr, i64, real, ptr, i64)
    return prototype(address)


def _verified(address: int, dtype: np.dtype) -> bool:
    """Whether the routine at ``address`` computes known products exactly: small integers, whose products and
    sums every correct gemm gets exact, with a leading dimension larger than the row (a strided view) and with
    ``beta = 1``."""
    gemm = _gemm_function(address, dtype)
    a = np.arange(1, 7, dtype=dtype).reshape(2, 3)  # (M, K)
    wide = np.zeros((3, 9), dtype)  # b is the strided view wide[:, 2:6] (ldb 9)
    wide[:, 2:6] = np.arange(12, dtype=dtype).reshape(3, 4) - 5
    b = wide[:, 2:6]
    c = np.full((2, 4), 7, dtype)
    for beta, expected in ((0.0, a @ b), (1.0, a @ b + 7)):
        if beta == 1.0:
            c[:] = 7
        gemm(_ROW_MAJOR, _NO_TRANS, _NO_TRANS, 2, 4, 3, 1.0, a.ctypes.data, 3, b.ctypes.data, 9, beta,
             c.ctypes.data, 4)
        if not np.array_equal(c, expected):
            return False
    return True


def _find() -> BlasStatus:
    """Look for NumPy's OpenBLAS gemm routines and check them (see the module docstring)."""
    if os.environ.get("RNNKIT_COMPILED_BLAS", "1") == "0":
        return BlasStatus(None, {}, "NumPy loops: RNNKIT_COMPILED_BLAS=0 in the environment")
    candidates = _library_candidates()
    for path in candidates:
        try:
            library = ctypes.CDLL(path)  # already loaded by NumPy: this returns the same copy
        except OSError:
            continue
        for single, double in _SYMBOLS:
            if not (hasattr(library, single) and hasattr(library, double)):
                continue
            addresses = {np.dtype(t): ctypes.cast(getattr(library, name), ctypes.c_void_p).value
                         for t, name in ((np.float32, single), (np.float64, double))}
            failed = [str(t) for t, address in addresses.items() if not _verified(address, t)]
            if failed:
                return BlasStatus(path, {}, f"NumPy loops: {single}/{double} in {path} failed the known-product "
                                            f"check for {', '.join(failed)}")
            setter, getter = _thread_functions(library)
            return BlasStatus(path, addresses, f"compiled loops with {double} from {path} (checked)", setter, getter)
    where = ", ".join(candidates) if candidates else "no OpenBLAS library beside NumPy"
    return BlasStatus(None, {}, f"NumPy loops: no cblas_?gemm64_ routine found ({where}); NumPy's BLAS is "
                                "another one (MKL, Accelerate, ...) or linked differently")


def _thread_functions(library) -> tuple:
    """OpenBLAS's ``set_num_threads`` and ``get_num_threads`` of ``library`` as ctypes functions, or Nones."""
    for set_name, get_name in _THREAD_SYMBOLS:
        if hasattr(library, set_name) and hasattr(library, get_name):
            setter, getter = getattr(library, set_name), getattr(library, get_name)
            setter.argtypes, setter.restype = [ctypes.c_int], None
            getter.argtypes, getter.restype = [], ctypes.c_int
            return setter, getter
    return None, None


STATUS = _find()
_ADDRESSES = STATUS.addresses
LOG.debug("recurrent ops: %s", STATUS.reason)


def gemm_address(dtype) -> int:
    """The address of the checked gemm routine for ``dtype`` (float32 or float64), or 0 where there is none."""
    return _ADDRESSES.get(np.dtype(dtype), 0)


@intrinsic
def _cblas_gemm(typingctx, address, m, n, k, a, lda, b, ldb, beta, c, ldc):
    """``C = A B + beta C`` (row-major, no transposes) through the routine at ``address``; ``a``, ``b`` and ``c``
    are the matrices' addresses, ``beta``'s type (float32 or float64) selects the routine's float type."""
    if not isinstance(beta, types.Float):
        return None
    signature = types.void(types.int64, types.int64, types.int64, types.int64, types.int64, types.int64,
                           types.int64, types.int64, beta, types.int64, types.int64)

    def codegen(context, builder, sig, args):
        address, m, n, k, a, lda, b, ldb, beta, c, ldc = args
        i32, i64 = ir.IntType(32), ir.IntType(64)
        real, pointer = beta.type, ir.IntType(8).as_pointer()
        function_type = ir.FunctionType(ir.VoidType(), [i32, i32, i32, i64, i64, i64, real, pointer, i64, pointer,
                                                        i64, real, pointer, i64])
        function = builder.inttoptr(address, function_type.as_pointer())
        order, no_trans = ir.Constant(i32, _ROW_MAJOR), ir.Constant(i32, _NO_TRANS)
        builder.call(function, [order, no_trans, no_trans, m, n, k, ir.Constant(real, 1.0),
                                builder.inttoptr(a, pointer), lda, builder.inttoptr(b, pointer), ldb, beta,
                                builder.inttoptr(c, pointer), ldc])
        return context.get_dummy_value()

    return signature, codegen


def _same_float_dtype(a, b, c):
    """Whether ``a``, ``b`` and ``c`` share one float dtype (compiled code only: decided when compiling)."""
    raise TypeError("blas._same_float_dtype is only callable from compiled code")


@overload(_same_float_dtype)
def _same_float_dtype_for(a, b, c):
    same = all(isinstance(t, types.Array) and t.ndim == 2 for t in (a, b, c)) and \
        isinstance(a.dtype, types.Float) and a.dtype == b.dtype == c.dtype
    return (lambda a, b, c: True) if same else (lambda a, b, c: False)


@jit
def matmul_into(address, a, b, c, beta):
    """``c = a @ b + beta * c`` for 2-D ``a (M, K)``, ``b (K, N)``, ``c (M, N)`` of one float dtype whose rows are
    contiguous (views such as ``xh[:, t]`` are fine; a transposed view is not), through the gemm routine at
    ``address`` (:func:`gemm_address` of their dtype). ``beta`` 0 ignores what ``c`` held. Anything else raises
    ``ValueError``: a null address, mismatched shapes or dtypes, rows that are not contiguous."""
    if not _same_float_dtype(a, b, c):
        raise ValueError("matmul_into: a, b and c must be 2-D arrays of one float dtype (float32 or float64)")
    if address == 0:
        raise ValueError("matmul_into: null gemm address (no checked BLAS routine; use gemm_address)")
    M, K, N = a.shape[0], a.shape[1], b.shape[1]
    if b.shape[0] != K or c.shape[0] != M or c.shape[1] != N:
        raise ValueError("matmul_into: expected a (M, K), b (K, N), c (M, N); got (a rows, a cols, b rows, "
                         "b cols, c rows, c cols) =", M, K, b.shape[0], N, c.shape[0], c.shape[1])
    if M == 0 or N == 0:
        return
    if K == 0:  # an empty sum: c = beta * c
        if beta == 0:
            c[:] = 0
        else:
            c *= beta
        return
    lda, ldb, ldc = _leading(a), _leading(b), _leading(c)
    if lda < 0 or ldb < 0 or ldc < 0:
        raise ValueError("matmul_into: every matrix needs contiguous rows with a row stride of at least a row "
                         "(a transposed or reversed view is not taken); got leading dimensions (a, b, c) =",
                         lda, ldb, ldc)
    if a.ctypes.data == 0 or b.ctypes.data == 0 or c.ctypes.data == 0:
        raise ValueError("matmul_into: a matrix has a null data address")
    _cblas_gemm(address, M, N, K, a.ctypes.data, lda, b.ctypes.data, ldb, c.dtype.type(beta), c.ctypes.data, ldc)


@jit
def _leading(matrix):
    """The distance between rows in items (BLAS's leading dimension), or -1 where BLAS cannot read the matrix:
    items within a row not adjacent, or rows closer than a row's length (overlapping or reversed). A matrix of
    one row may have any row stride (0 for an inserted axis), which BLAS would reject; its row length serves."""
    rows, columns = matrix.shape
    size = matrix.itemsize
    if columns > 1 and matrix.strides[1] != size:
        return -1
    if rows == 1:
        return max(columns, 1)
    stride = matrix.strides[0]
    if stride % size != 0 or stride // size < columns:
        return -1
    return max(stride // size, 1)
