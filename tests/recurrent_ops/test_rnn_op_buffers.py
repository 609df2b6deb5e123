"""The ops reuse their large internal arrays between calls (common.scratch): results must not depend on the
order in which forward and backward passes of several live ops interleave, and a second backward through a
freed op must fail loudly."""
import numpy as np
import pytest
from recurrent_op_cases import arrays_and_names, make_case, run

from rnnkit import Tensor, no_grad
from rnnkit.errors import RnnkitError

KINDS = [("simple_rnn", {}), ("lstm", {}), ("gru", {"reset_after": True}), ("gru", {"reset_after": False})]
IDS = ["rnn", "lstm", "gru-after", "gru-before"]


def _grads(kind, names, arrays, options, mask):
    leaves = [Tensor(a, requires_grad=True, dtype="float64") for a in arrays]
    outputs, *finals = run(kind, names, leaves, mask=mask, **options)
    return leaves, outputs, finals


@pytest.mark.parametrize("kind, options", KINDS, ids=IDS)
@pytest.mark.parametrize("masked", [False, True])
def test_interleaved_calls_give_the_same_gradients(kind, options, masked):
    mask = np.array([[True, True, False, False], [True, False, True, True], [False] * 4]) if masked else None
    cases = [make_case(kind, B=3, T=4, seed=s, reset_after=options.get("reset_after", True)) for s in (60, 61)]
    reference = []
    for case in cases:  # one at a time
        arrays, names = arrays_and_names(case)
        leaves, outputs, finals = _grads(kind, names, arrays, options, mask)
        (outputs.sum() + finals[0].sum()).backward()
        reference.append([leaf.grad.copy() for leaf in leaves] + [outputs.data.copy()])
    live = []
    for case in cases:  # both alive at once
        arrays, names = arrays_and_names(case)
        live.append(_grads(kind, names, arrays, options, mask))
    with no_grad():  # a no-grad call in between takes (and returns) buffers too
        run(kind, names, [Tensor(a, dtype="float64") for a in arrays], mask=mask, **options)
    for (leaves, outputs, finals), ref in zip(reversed(live), reversed(reference)):  # backward in reverse order
        (outputs.sum() + finals[0].sum()).backward()
        for got, want in zip([leaf.grad for leaf in leaves] + [outputs.data], ref):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kind, options", KINDS, ids=IDS)
def test_second_backward_through_the_same_op_is_an_error(kind, options):
    case = make_case(kind, seed=62, reset_after=options.get("reset_after", True))
    arrays, names = arrays_and_names(case)
    leaves, outputs, finals = _grads(kind, names, arrays, options, None)
    finals[0].sum().backward()
    with pytest.raises(RnnkitError, match="saved arrays were freed after the first backward pass"):
        finals[0].sum().backward()


@pytest.mark.parametrize("kind, options", KINDS, ids=IDS)
@pytest.mark.parametrize("T", [1, 3])
def test_batch_of_one_results_do_not_share_memory_with_reused_buffers(kind, options, T):
    """With B = 1 (and T = 1) the transposes between the ops' feature-major arrays and the caller's batch-major
    ones are contiguous already; results must still be copies, not views of arrays a later call reuses, and the
    incoming gradients must not be written into."""
    def one_call(seed):
        case = make_case(kind, B=1, T=T, seed=seed, reset_after=options.get("reset_after", True))
        arrays, names = arrays_and_names(case)
        leaves, outputs, finals = _grads(kind, names, arrays, options, None)
        upstream = [np.full(f.shape, 0.5) for f in finals]
        sum(f * u for f, u in zip(finals, upstream)).sum().backward()
        assert all((u == 0.5).all() for u in upstream)
        with no_grad():  # inference frees its buffers at once
            inferred = [r.data for r in run(kind, names, [Tensor(a, dtype="float64") for a in arrays], **options)]
        return [leaf.grad for leaf in leaves] + [f.data for f in finals] + inferred

    first = one_call(63)
    snapshot = [a.copy() for a in first]
    one_call(64)  # same shapes, different values: reuses every buffer the first call gave back
    for got, want in zip(first, snapshot):
        np.testing.assert_array_equal(got, want)
