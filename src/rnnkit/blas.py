"""Matrix products called from compiled code: the ``cblas_?gemm`` of the OpenBLAS that NumPy itself uses.

A recurrent op's time loop alternates one matrix product with one compiled kernel per step. With the product
taken from NumPy, every step pays for a return to Python, a ``np.matmul`` call and a kernel call; at the seed
model's size (B = 64, H = 32) that is more than half of the step. Calling the same BLAS routine straight from
the compiled loop keeps the whole loop in machine code, with the same arithmetic (bit for bit the same results
as ``np.matmul``, which calls this routine too).

NumPy's wheels that use OpenBLAS (those for Linux, for one) carry it with 64-bit integers, as
``scipy_cblas_sgemm64_`` and ``scipy_cblas_dgemm64_``, in a library beside the package. :func:`gemm_address`
gives the address of the routine for a dtype, or 0 where there is none (another BLAS, another NumPy build, or
``RNNKIT_COMPILED_BLAS=0`` in the environment); callers then keep their NumPy loop. The address is an argument
of the compiled functions, not a constant in them, so that Numba can cache them on disk.

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
import os

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from rnnkit.compiled import jit

# Symbol names (float32, float64) to look for, each with 64-bit integer arguments.
_SYMBOLS = (("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_"), ("cblas_sgemm64_", "cblas_dgemm64_"))
_ROW_MAJOR, _NO_TRANS = 101, 111  # the CBLAS enum values


def _library_candidates() -> list:
    """The OpenBLAS shared libraries that NumPy's wheels place beside the package (Linux, macOS)."""
    package = os.path.dirname(np.__file__)
    patterns = [os.path.join(package, os.pardir, "numpy.libs", "*openblas*"),  # Linux wheels
                os.path.join(package, ".dylibs", "*openblas*")]  # macOS wheels built with OpenBLAS
    return sorted(path for pattern in patterns for path in glob.glob(pattern))


def _find_addresses() -> dict:
    """``{dtype: address}`` of the gemm routines in NumPy's OpenBLAS; empty when there is none."""
    if os.environ.get("RNNKIT_COMPILED_BLAS", "1") == "0":
        return {}
    for path in _library_candidates():
        try:
            library = ctypes.CDLL(path)  # already loaded by NumPy: this returns the same copy
        except OSError:
            continue
        for single, double in _SYMBOLS:
            if hasattr(library, single) and hasattr(library, double):
                address = lambda name: ctypes.cast(getattr(library, name), ctypes.c_void_p).value  # noqa: E731
                return {np.dtype(np.float32): address(single), np.dtype(np.float64): address(double)}
    return {}


_ADDRESSES = _find_addresses()


def gemm_address(dtype) -> int:
    """The address of the gemm routine for ``dtype`` (float32 or float64), or 0 where there is none."""
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


@jit
def matmul_into(address, a, b, c, beta):
    """``c = a @ b + beta * c`` for 2-D ``a (M, K)``, ``b (K, N)``, ``c (M, N)`` whose rows are contiguous (views
    such as ``xh[:, t]`` are fine), through the gemm routine at ``address`` (:func:`gemm_address` of their
    dtype). ``beta`` 0 ignores what ``c`` held."""
    _cblas_gemm(address, c.shape[0], c.shape[1], a.shape[1], a.ctypes.data, _leading(a), b.ctypes.data, _leading(b),
                c.dtype.type(beta), c.ctypes.data, _leading(c))


@jit
def _leading(matrix):
    """The distance between rows in items (BLAS's leading dimension). A matrix of one row may have any row stride
    (0 for an inserted axis), which BLAS would reject; its row length serves then."""
    return max(matrix.strides[0] // matrix.itemsize, matrix.shape[1])
