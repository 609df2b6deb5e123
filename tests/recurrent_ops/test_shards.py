"""Parallel batch shards (ops/recurrent/shards.py): the time loops split over columns of the batch, one shard per
thread, must give the single-thread results to the bit, run to run."""
import numpy as np
import pytest
from recurrent_op_cases import arrays_and_names, make_case, padded_and_gapped_mask, run

from rnnkit import Tensor, blas, config, no_grad
from rnnkit.ops.recurrent import shards

KINDS = [("simple_rnn", {}), ("lstm", {}), ("gru", {"reset_after": True}), ("gru", {"reset_after": False})]
IDS = ["rnn", "lstm", "gru-after", "gru-before"]
needs_routine = pytest.mark.skipif(not blas.gemm_address("float64"),
                                   reason=f"compiled BLAS path off (no shards): {blas.STATUS.reason}")


@pytest.fixture
def threads(monkeypatch):
    """Set rnnkit's thread count inside a test, restored afterwards; the tests' small cases shard too."""
    monkeypatch.setattr(shards, "MIN_SHARD_WORK", 1)
    monkeypatch.setattr(shards, "MIN_SHARD", 16)
    previous = config.set_num_threads(None)
    yield config.set_num_threads
    config.set_num_threads(previous)


def _results(kind, options, case, dtype, mask, record):
    arrays, names = arrays_and_names(case)
    leaves = [Tensor(a, requires_grad=record, dtype=dtype) for a in arrays]
    if not record:
        with no_grad():
            return [r.data.copy() for r in run(kind, names, leaves, mask=mask, **options)]
    results = run(kind, names, leaves, mask=mask, **options)
    rng = np.random.default_rng(2)
    loss = sum((r * Tensor(rng.standard_normal(r.shape), dtype=dtype)).sum() for r in results)
    loss.backward()
    return [r.data.copy() for r in results] + [leaf.grad for leaf in leaves]


@needs_routine
@pytest.mark.parametrize("kind, options", KINDS, ids=IDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("record", [True, False], ids=["backward", "inference"])
def test_shards_give_the_single_thread_results_to_the_bit(kind, options, dtype, masked, record, threads):
    B, T = 70, 5  # 2 shards (0, 48), (48, 70); 3 shards (0, 32), (32, 64), (64, 70): uneven, past the SIMD width
    case = make_case(kind, B=B, T=T, D=3, H=7, seed=91, reset_after=options.get("reset_after", True))
    mask = padded_and_gapped_mask(B, T) if masked else None
    threads(1)
    single = _results(kind, options, case, dtype, mask, record)
    for n in (2, 3):
        threads(n)
        assert len(shards.ranges(B)) == n
        sharded = _results(kind, options, case, dtype, mask, record)
        assert len(sharded) == len(single)
        for got, want in zip(sharded, single):
            np.testing.assert_array_equal(got, want)


@needs_routine
def test_sharded_runs_are_deterministic_run_to_run(threads):
    threads(2)
    case = make_case("lstm", B=64, T=6, D=5, H=16, seed=92)
    first = _results("lstm", {}, case, "float32", None, True)
    for _ in range(3):
        for got, want in zip(_results("lstm", {}, case, "float32", None, True), first):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("batch, n", [(1, 4), (31, 2), (32, 2), (64, 2), (45, 3), (100, 3), (1000, 7), (17, 1)])
def test_ranges_cover_the_batch_once_in_aligned_shards(batch, n, monkeypatch):
    monkeypatch.setattr(shards, "MIN_SHARD", 16)
    parts = shards.ranges(batch, n)
    assert parts[0][0] == 0 and parts[-1][1] == batch
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))  # contiguous, no overlap
    assert all(b0 % shards.ALIGN == 0 for b0, _ in parts)
    assert len(parts) <= n and (len(parts) == 1 or min(b1 - b0 for b0, b1 in parts) >= 1)
    if batch >= n * shards.MIN_SHARD:
        assert len(parts) == n
    assert shards.ranges(batch, n, work=shards.MIN_SHARD_WORK // 2 // batch) == [(0, batch)]  # too little work


def test_set_num_threads_checks_its_argument(threads):
    from rnnkit.errors import ConfigError

    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ConfigError, match="expects a positive integer"):
            config.set_num_threads(bad)
    threads(3)
    assert config.get_num_threads() == 3


def test_a_failing_shard_raises_in_the_caller(threads):
    threads(2)

    def loop(b0, b1):
        if b0 > 0:
            raise ValueError("shard failed")

    with pytest.raises(ValueError, match="shard failed"):
        shards.run(loop, 64)


@needs_routine
def test_a_forked_child_runs_shards_with_its_own_threads(threads):
    import multiprocessing

    threads(2)
    case = make_case("lstm", B=48, T=4, D=3, H=5, seed=93)
    want = _results("lstm", {}, case, "float64", None, False)  # the parent's pool now has threads
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        got = pool.apply_async(_results, ("lstm", {}, case, "float64", None, False)).get(timeout=120)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
