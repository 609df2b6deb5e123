"""The recorded per-step state gradients do not depend on how the loop runs: the compiled BLAS loop equals the NumPy
loop, and parallel batch shards equal one thread to the bit (as the ops' other results, see
tests/recurrent_ops/test_compiled_blas_loops.py and test_shards.py). Here, not in tests/recurrent_ops, because CI
reruns that folder with the compiled path off."""
import numpy as np
import pytest
from recurrent_ops.recurrent_op_cases import arrays_and_names, make_case, padded_and_gapped_mask, run

from rnnkit import Tensor, blas, config
from rnnkit.ops.recurrent import record_step_gradients, shards

KINDS = [("simple_rnn", {}), ("lstm", {}), ("gru", {"reset_after": True}), ("gru", {"reset_after": False})]
IDS = ["rnn", "lstm", "gru-after", "gru-before"]
pytestmark = pytest.mark.skipif(not blas.gemm_address("float64"),
                                reason=f"compiled BLAS path off: {blas.STATUS.reason}")


def recorded(kind, options, case, dtype, mask):
    """``[h, (c,) x]`` recorded by the op in one forward + backward pass."""
    arrays, names = arrays_and_names(case)
    leaves = [Tensor(a, requires_grad=True, dtype=dtype) for a in arrays]
    with record_step_gradients() as recorder:
        results = run(kind, names, leaves, mask=mask, **options)
        rng = np.random.default_rng(2)
        sum((r * Tensor(rng.standard_normal(r.shape), dtype=dtype)).sum() for r in results).backward()
    (record,) = recorder.records
    found = [record.h, record.x] + ([record.c] if kind == "lstm" else [])
    assert all(np.abs(a).max() > 0 for a in found)
    return found


@pytest.mark.parametrize("kind, options", KINDS, ids=IDS)
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_compiled_loop_records_what_the_numpy_loop_records(kind, options, masked, dtype, monkeypatch):
    T = 7
    case = make_case(kind, B=5, T=T, D=3, H=6, seed=81, reset_after=options.get("reset_after", True))
    mask = padded_and_gapped_mask(5, T) if masked else None
    compiled = recorded(kind, options, case, dtype, mask)
    monkeypatch.setattr(blas, "_ADDRESSES", {})  # as where NumPy's BLAS routine cannot be found
    numpy_loop = recorded(kind, options, case, dtype, mask)
    tol = 1e-5 if dtype == "float32" else 1e-13
    for got, want in zip(compiled, numpy_loop):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("kind, options", KINDS, ids=IDS)
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_shards_record_what_one_thread_records_to_the_bit(kind, options, masked, dtype, monkeypatch):
    monkeypatch.setattr(shards, "MIN_SHARD_WORK", 1)
    monkeypatch.setattr(shards, "MIN_SHARD", 16)
    B, T = 70, 5  # shards (0, 48), (48, 70) and (0, 32), (32, 64), (64, 70)
    case = make_case(kind, B=B, T=T, D=3, H=7, seed=91, reset_after=options.get("reset_after", True))
    mask = padded_and_gapped_mask(B, T) if masked else None
    previous = config.get_num_threads()
    try:
        config.set_num_threads(1)
        single = recorded(kind, options, case, dtype, mask)
        for n in (2, 3):
            config.set_num_threads(n)
            assert len(shards.ranges(B)) == n
            for got, want in zip(recorded(kind, options, case, dtype, mask), single):
                np.testing.assert_array_equal(got, want)
    finally:
        config.set_num_threads(previous)
