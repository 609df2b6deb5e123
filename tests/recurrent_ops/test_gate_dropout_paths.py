"""Dropout masks per gate on every path of the recurrent ops: the compiled BLAS loops equal the NumPy loops (the
readable reference), and parallel batch shards give the one-thread results to the bit (ops/recurrent/paths.py,
shards.py). Like test_compiled_blas_loops.py and test_shards.py, these need NumPy's BLAS routine."""
import numpy as np
import pytest
from gate_dropout_cases import gate_masks
from recurrent_op_cases import arrays_and_names, make_case, padded_and_gapped_mask, run

from rnnkit import Tensor, blas, config, no_grad
from rnnkit.ops.recurrent import shards

pytestmark = pytest.mark.skipif(not blas.gemm_address("float64"),
                                reason=f"compiled BLAS path off: {blas.STATUS.reason}")

KINDS = [("simple_rnn", {}), ("lstm", {}), ("gru", {"reset_after": True}), ("gru", {"reset_after": False})]
IDS = ["rnn", "lstm", "gru-after", "gru-before"]


def _results(kind, options, case, dtype, mask, masks, record):
    arrays, names = arrays_and_names(case)
    leaves = [Tensor(a, requires_grad=record, dtype=dtype) for a in arrays]
    dm, rm = masks
    if not record:
        with no_grad():
            return [r.data.copy() for r in run(kind, names, leaves, mask=mask, input_masks=dm, recurrent_masks=rm,
                                               **options)]
    results = run(kind, names, leaves, mask=mask, input_masks=dm, recurrent_masks=rm, **options)
    rng = np.random.default_rng(2)
    loss = sum((r * Tensor(rng.standard_normal(r.shape), dtype=dtype)).sum() for r in results)
    loss.backward()
    return [r.data.copy() for r in results] + [leaf.grad for leaf in leaves]


@pytest.mark.parametrize("kind, options", KINDS, ids=IDS)
@pytest.mark.parametrize("inputs", [False, True], ids=["rec-only", "with-input"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("B", [4, 1])
def test_compiled_loops_equal_the_numpy_loops(kind, options, inputs, masked, dtype, B, monkeypatch):
    T, D, H = 7, 3, 6
    case = make_case(kind, B=B, T=T, D=D, H=H, seed=81, reset_after=options.get("reset_after", True))
    masks = gate_masks(kind, B, D, H, rate=0.3, seed=82, inputs=inputs)
    mask = padded_and_gapped_mask(4, T)[:B] if masked else None
    compiled = _results(kind, options, case, dtype, mask, masks, True)
    monkeypatch.setattr(blas, "_ADDRESSES", {})  # as where NumPy's BLAS routine cannot be found
    numpy_loops = _results(kind, options, case, dtype, mask, masks, True)
    tol = 1e-5 if dtype == "float32" else 1e-13
    assert len(compiled) == len(numpy_loops)
    for got, want in zip(compiled, numpy_loops):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.fixture
def threads(monkeypatch):
    """rnnkit's thread count inside a test, restored afterwards; the tests' small cases shard too."""
    monkeypatch.setattr(shards, "MIN_SHARD_WORK", 1)
    monkeypatch.setattr(shards, "MIN_SHARD", 16)
    previous = config.get_num_threads()
    yield config.set_num_threads
    config.set_num_threads(previous)


@pytest.mark.parametrize("kind, options", KINDS, ids=IDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("record", [True, False], ids=["backward", "inference"])
def test_shards_give_the_single_thread_results_to_the_bit(kind, options, dtype, masked, record, threads):
    B, T, D, H = 70, 5, 3, 7  # 2 shards (0, 48), (48, 70); 3 shards (0, 32), (32, 64), (64, 70)
    case = make_case(kind, B=B, T=T, D=D, H=H, seed=91, reset_after=options.get("reset_after", True))
    masks = gate_masks(kind, B, D, H, rate=0.3, seed=92)
    mask = padded_and_gapped_mask(B, T) if masked else None
    threads(1)
    single = _results(kind, options, case, dtype, mask, masks, record)
    for n in (2, 3):
        threads(n)
        assert len(shards.ranges(B)) == n
        sharded = _results(kind, options, case, dtype, mask, masks, record)
        assert len(sharded) == len(single)
        for got, want in zip(sharded, single):
            np.testing.assert_array_equal(got, want)
