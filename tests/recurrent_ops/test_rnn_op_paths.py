"""Paths every recurrent op has: float32 (the kernels' fast tanh) against float64, the no-grad forward (one
reused gate block per step), and gradients wanted for only some inputs."""
import numpy as np
import pytest
from helpers.gradcheck import relative_error
from recurrent_op_cases import arrays_and_names, lengths_mask, make_case, padded_and_gapped_mask, run

from rnnkit import Tensor, no_grad
from rnnkit.ops.recurrent import lstm

KINDS = [("simple_rnn", {}), ("lstm", {}), ("gru", {"reset_after": True}), ("gru", {"reset_after": False})]
IDS = ["rnn", "lstm", "gru-after", "gru-before"]


def _case(kind, options, **kw):
    return make_case(kind, reset_after=options.get("reset_after", True), **kw)


def _forward_backward(kind, options, case, dtype, mask):
    arrays, names = arrays_and_names(case)
    leaves = [Tensor(a, requires_grad=True, dtype=dtype) for a in arrays]
    outputs, *finals = run(kind, names, leaves, mask=mask, **options)
    rng = np.random.default_rng(1)
    loss = (outputs * Tensor(rng.standard_normal(outputs.shape), dtype=dtype)).sum()
    for final in finals:
        loss = loss + (final * Tensor(rng.standard_normal(final.shape), dtype=dtype)).sum()
    loss.backward()
    results = [outputs.data] + [f.data for f in finals] + [leaf.grad for leaf in leaves]
    return results, ["outputs"] + [f"final{i}" for i in range(len(finals))] + names


@pytest.mark.parametrize("kind, options", KINDS, ids=IDS)
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
def test_float32_agrees_with_float64(kind, options, masked):
    """float32 runs the rational tanh and float32 arithmetic; it must stay close to the exact float64 run. An odd
    batch and unit count leave remainders after the vectorised loops."""
    B, T = 7, 9
    case = _case(kind, options, B=B, T=T, D=5, H=11, seed=71)
    mask = lengths_mask([9, 3, 9, 0, 5, 9, 1], T) if masked else None
    got, names = _forward_backward(kind, options, case, "float32", mask)
    want, _ = _forward_backward(kind, options, case, "float64", mask)
    for name, a, b in zip(names, got, want):
        assert a.dtype == np.float32
        assert relative_error(a.astype(np.float64), b) < 2e-5, name


@pytest.mark.parametrize("kind, options", KINDS, ids=IDS)
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_no_grad_forward_equals_the_recording_one(kind, options, masked, dtype):
    """Without a backward pass to come the op reuses one gate block per step; the results must not change."""
    case = _case(kind, options, B=5, T=6, seed=72)
    arrays, names = arrays_and_names(case)
    mask = padded_and_gapped_mask(5, 6) if masked else None
    leaves = [Tensor(a, requires_grad=True, dtype=dtype) for a in arrays]
    recorded = run(kind, names, leaves, mask=mask, **options)
    with no_grad():
        inferred = run(kind, names, [Tensor(a, dtype=dtype) for a in arrays], mask=mask, **options)
    for a, b in zip(inferred, recorded):
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("kind, options", KINDS, ids=IDS)
@pytest.mark.parametrize("wanted", ["x", "kernel", "recurrent_kernel", "bias", "h0"])
def test_one_input_wanting_a_gradient_gets_the_full_runs_gradient(kind, options, wanted):
    """The op computes only the gradients asked for; each must equal the one from a run that wants them all."""
    case = _case(kind, options, B=3, T=5, seed=73)
    arrays, names = arrays_and_names(case)
    mask = padded_and_gapped_mask(3, 5)

    def grads(want):
        leaves = [Tensor(a, requires_grad=(n in want), dtype="float64") for a, n in zip(arrays, names)]
        outputs, *finals = run(kind, names, leaves, mask=mask, **options)
        (outputs.sum() + 2 * sum(f.sum() for f in finals)).backward()
        return {n: leaf.grad for n, leaf in zip(names, leaves)}

    alone, full = grads({wanted}), grads(set(names))
    assert all(g is None for n, g in alone.items() if n != wanted)
    np.testing.assert_allclose(alone[wanted], full[wanted], rtol=1e-13, atol=1e-15)


def _run_with_cotangents(kind, options, case, dtype, mask, cotangents):
    """Outputs, final states and every input's gradient of ``sum(result * cotangent)`` over the op's results."""
    arrays, names = arrays_and_names(case)
    leaves = [Tensor(a, requires_grad=True, dtype=dtype) for a in arrays]
    results = run(kind, names, leaves, mask=mask, **options)
    loss = sum((r * Tensor(c, dtype=dtype)).sum() for r, c in zip(results, cotangents))
    loss.backward()
    return [r.data for r in results], dict(zip(names, (leaf.grad for leaf in leaves)))


@pytest.mark.parametrize("kind, options", KINDS, ids=IDS)
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_batch_of_one_equals_its_row_in_a_larger_batch(kind, options, masked, dtype):
    """A batch of one runs its forward loop whole in compiled code (small_batch.py), a larger one through NumPy's
    product: each sample alone must give its row of the batched run, outputs, final states and gradients."""
    B, T, H = 3, 6, 5
    case = _case(kind, options, B=B, T=T, D=4, H=H, seed=73)
    mask = padded_and_gapped_mask(B, T) if masked else None
    rng = np.random.default_rng(5)
    finals = 2 if kind == "lstm" else 1  # (h_last, c_last) or h_last
    cotangents = [rng.standard_normal((B, T, H))] + [rng.standard_normal((B, H)) for _ in range(finals)]
    batched, batched_grads = _run_with_cotangents(kind, options, case, dtype, mask, cotangents)
    tol = 2e-6 if dtype == "float32" else 1e-12
    summed = {}
    for b in range(B):
        alone = {k: (v[b : b + 1] if k in ("x", "h0", "c0") else v) for k, v in case.items()}
        results, grads = _run_with_cotangents(kind, options, alone, dtype, None if mask is None else mask[b : b + 1],
                                              [c[b : b + 1] for c in cotangents])
        for got, want in zip(results, batched):
            np.testing.assert_allclose(got, want[b : b + 1], rtol=tol, atol=tol)
        for name, grad in grads.items():
            if name in ("x", "h0", "c0"):
                np.testing.assert_allclose(grad, batched_grads[name][b : b + 1], rtol=tol, atol=tol, err_msg=name)
            else:
                summed[name] = summed.get(name, 0) + grad  # a weight's gradient sums over the samples
    for name, total in summed.items():
        np.testing.assert_allclose(total, batched_grads[name], rtol=10 * tol, atol=10 * tol, err_msg=name)


def test_recurrent_op_gradients_do_not_depend_on_which_outputs_were_used():
    # The recurrent ops record their outputs without zero fill: an unused output reaches their backward as None.
    # Using an output with a zero cotangent must give the same gradients as not using it at all.
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) * 0.5 for s in ((2, 4, 3), (3, 8), (2, 8), (8,), (2, 2), (2, 2))]
    cotangent = [rng.standard_normal(s) for s in ((2, 4, 2), (2, 2), (2, 2))]
    for used in range(3):  # only the outputs, only h_last, only c_last
        grads = []
        for with_zeros in (False, True):
            leaves = [Tensor(a, requires_grad=True, dtype="float64") for a in arrays]
            results = lstm(*leaves)
            loss = (results[used] * Tensor(cotangent[used], dtype="float64")).sum()
            if with_zeros:
                for i in set(range(3)) - {used}:
                    loss = loss + (results[i] * 0.0).sum()
            loss.backward()
            grads.append([leaf.grad for leaf in leaves])
        for a, b in zip(*grads):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
