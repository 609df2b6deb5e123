"""The time loops that call NumPy's BLAS routine from compiled code (rnnkit.blas) against the NumPy loops they
replace, which run where that routine cannot be found."""
import os
import subprocess
import sys

import numpy as np
import pytest
from recurrent_op_cases import arrays_and_names, make_case, padded_and_gapped_mask, run

from rnnkit import Tensor, blas, no_grad

# Without the routine every test below would compare the NumPy loop with itself (see test_blas_checks.py).
pytestmark = pytest.mark.skipif(not blas.gemm_address("float64"),
                                reason=f"compiled BLAS path off: {blas.STATUS.reason}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_matmul_into_equals_numpy_on_strided_views(dtype, beta):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 7)).astype(dtype)
    stacked = rng.standard_normal((7, 4, 6)).astype(dtype)  # (K, T, N): stacked[:, t] is a strided (K, N) view
    c = rng.standard_normal((3, 5, 6)).astype(dtype)
    expected = a @ stacked[:, 2] + beta * c[1]
    blas.matmul_into(blas.gemm_address(dtype), a, stacked[:, 2], c[1], beta)
    np.testing.assert_allclose(c[1], expected, rtol=1e-6, atol=1e-6)


def test_matmul_into_takes_a_row_with_zero_stride():
    # v[None, :] has row stride 0, which BLAS rejects as a leading dimension.
    rng = np.random.default_rng(1)
    row, b = rng.standard_normal(4)[None, :], rng.standard_normal((4, 3))
    assert row.strides[0] == 0
    out = np.full((1, 3), np.nan)
    blas.matmul_into(blas.gemm_address(out.dtype), row, b, out, 0.0)  # beta 0: the NaNs are ignored
    np.testing.assert_allclose(out, row @ b, rtol=1e-12)


def _results(kind, options, case, dtype, mask, record):
    arrays, names = arrays_and_names(case)
    leaves = [Tensor(a, requires_grad=record, dtype=dtype) for a in arrays]
    if not record:
        with no_grad():
            return [r.data for r in run(kind, names, leaves, mask=mask, **options)]
    results = run(kind, names, leaves, mask=mask, **options)
    rng = np.random.default_rng(2)
    loss = sum((r * Tensor(rng.standard_normal(r.shape), dtype=dtype)).sum() for r in results)
    loss.backward()
    return [r.data for r in results] + [leaf.grad for leaf in leaves]


@pytest.mark.parametrize("kind, options", [("simple_rnn", {}), ("lstm", {}), ("gru", {"reset_after": True}),
                                           ("gru", {"reset_after": False})],
                         ids=["rnn", "lstm", "gru", "gru-before"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("record", [True, False], ids=["backward", "inference"])
@pytest.mark.parametrize("B", [4, 1])
def test_compiled_loops_equal_the_numpy_loops(kind, options, masked, dtype, record, B, monkeypatch):
    T = 7
    case = make_case(kind, B=B, T=T, D=3, H=6, seed=81, reset_after=options.get("reset_after", True))
    mask = padded_and_gapped_mask(4, T)[:B] if masked else None
    assert blas.gemm_address(dtype)
    compiled = _results(kind, options, case, dtype, mask, record)
    monkeypatch.setattr(blas, "_ADDRESSES", {})  # as where NumPy's BLAS routine cannot be found
    numpy_loops = _results(kind, options, case, dtype, mask, record)
    tol = 1e-6 if dtype == "float32" else 1e-13
    assert len(compiled) == len(numpy_loops)
    for got, want in zip(compiled, numpy_loops):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_the_blas_routine_can_be_switched_off_by_the_environment():
    code = "from rnnkit import blas; print(blas.gemm_address('float32'))"
    for value, found in (("0", False), ("1", True)):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "RNNKIT_COMPILED_BLAS": value}).stdout
        assert (int(out) != 0) == found
