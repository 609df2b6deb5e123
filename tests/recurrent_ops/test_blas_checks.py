"""rnnkit.blas trusts NumPy's gemm routine only after a known-product check, checks every call, and says which
path the recurrent ops take."""
import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest

from rnnkit import blas, config

FOUND = bool(blas.gemm_address("float64"))
needs_routine = pytest.mark.skipif(not FOUND, reason=f"compiled BLAS path off: {blas.STATUS.reason}")


def test_numpys_blas_routine_is_found_where_numpy_carries_one():
    # On a NumPy with another BLAS (MKL, Accelerate) or with RNNKIT_COMPILED_BLAS=0 the compiled path is off:
    # then the reason must say so. Where it is on, both dtypes have a checked routine.
    if not FOUND:
        assert blas.STATUS.reason.startswith("NumPy loops:")
        assert config.recurrent_backend() == "numpy"
        pytest.skip(f"compiled BLAS path off: {blas.STATUS.reason}")
    for dtype in ("float32", "float64"):
        assert blas.gemm_address(dtype), f"no {dtype} gemm ({blas.STATUS.reason})"
    assert config.recurrent_backend() == "compiled-blas"
    assert "(checked)" in config.recurrent_backend_reason()


@needs_routine
def test_the_check_rejects_a_routine_that_reads_strided_views_wrongly():
    # A gemm that ignores the leading dimensions is right on contiguous matrices and wrong on views.
    real = ctypes.c_double
    i32, i64, ptr = ctypes.c_int32, ctypes.c_int64, ctypes.c_void_p

    def contiguous_only(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        A = np.ctypeslib.as_array(ctypes.cast(a, ctypes.POINTER(real)), (m, k))
        B = np.ctypeslib.as_array(ctypes.cast(b, ctypes.POINTER(real)), (k, n))  # ignores ldb
        C = np.ctypeslib.as_array(ctypes.cast(c, ctypes.POINTER(real)), (m, n))
        C[:] = alpha * A @ B + (beta * C if beta else 0)

    prototype = ctypes.CFUNCTYPE(None, i32, i32, i32, i64, i64, i64, real, ptr, i64, ptr, i64, real, ptr, i64)
    wrong = prototype(contiguous_only)
    address = ctypes.cast(wrong, ctypes.c_void_p).value
    assert not blas._verified(address, np.dtype("float64"))
    assert blas._verified(blas.gemm_address("float64"), np.dtype("float64"))


@needs_routine
def test_the_check_rejects_a_routine_of_the_wrong_float_type():
    assert not blas._verified(blas.gemm_address("float32"), np.dtype("float64"))


def test_matmul_into_refuses_a_null_routine_address():
    # It used to jump to address 0 and crash the process.
    a, b, c = np.ones((2, 3)), np.ones((3, 4)), np.zeros((2, 4))
    with pytest.raises(ValueError, match="null gemm address"):
        blas.matmul_into(0, a, b, c, 0.0)


@needs_routine
@pytest.mark.parametrize("which", ["a", "b", "c"])
def test_matmul_into_refuses_a_transposed_view(which):
    # It used to read a transposed view as if its rows were contiguous and return wrong numbers.
    rng = np.random.default_rng(0)
    arrays = {"a": rng.standard_normal((4, 3)), "b": rng.standard_normal((3, 5)), "c": np.zeros((4, 5))}
    arrays[which] = np.ascontiguousarray(arrays[which].T).T  # same values, columns contiguous
    before = arrays["c"].copy()
    with pytest.raises(ValueError, match="contiguous rows"):
        blas.matmul_into(blas.gemm_address("float64"), arrays["a"], arrays["b"], arrays["c"], 0.0)
    np.testing.assert_array_equal(arrays["c"], before)  # nothing written


@needs_routine
@pytest.mark.parametrize("shapes", [((2, 3), (4, 5), (2, 5)), ((2, 3), (3, 5), (2, 4)), ((2, 3), (3, 5), (3, 5))])
def test_matmul_into_refuses_mismatched_shapes(shapes):
    a, b, c = (np.ones(s) for s in shapes)
    with pytest.raises(ValueError, match="expected a"):
        blas.matmul_into(blas.gemm_address("float64"), a, b, c, 0.0)


@needs_routine
def test_matmul_into_refuses_mixed_dtypes_and_reversed_rows():
    address = blas.gemm_address("float64")
    with pytest.raises(ValueError, match="one float dtype"):
        blas.matmul_into(address, np.ones((2, 3), np.float32), np.ones((3, 4)), np.zeros((2, 4)), 0.0)
    with pytest.raises(ValueError, match="contiguous rows"):
        blas.matmul_into(address, np.ones((2, 3)), np.ones((3, 4))[::-1], np.zeros((2, 4)), 0.0)


@needs_routine
def test_matmul_into_handles_empty_inner_dimension():
    c = np.full((2, 3), 2.0)
    blas.matmul_into(blas.gemm_address("float64"), np.ones((2, 0)), np.ones((0, 3)), c, 0.5)
    np.testing.assert_array_equal(c, np.full((2, 3), 1.0))


def test_the_path_is_named_once_at_debug_level_and_by_config():
    code = ("import logging, sys; logging.basicConfig(stream=sys.stdout, level=logging.WARNING); "
            "logging.getLogger('rnnkit.blas').setLevel(logging.DEBUG); "
            "import rnnkit, rnnkit.config as c; print('backend', c.recurrent_backend())")
    for value in ("0", "1"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "RNNKIT_COMPILED_BLAS": value}).stdout
        lines = [line for line in out.splitlines() if "recurrent ops:" in line]
        assert len(lines) == 1, out
        backend = out.split("backend ")[1].strip()
        if value == "0":
            assert backend == "numpy" and "RNNKIT_COMPILED_BLAS=0" in lines[0]
        else:  # on or off as the line says (off on a NumPy without the routine)
            assert backend == ("compiled-blas" if "compiled loops" in lines[0] else "numpy")
