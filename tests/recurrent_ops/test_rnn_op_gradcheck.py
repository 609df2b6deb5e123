"""Finite-difference checks (float64) of the fused recurrent sequence ops, for every op and option."""
import numpy as np
import pytest
from helpers.gradcheck import check_gradients
from recurrent_op_cases import arrays_and_names, lengths_mask, make_case, run

KINDS_AND_OPTIONS = [
    ("simple_rnn", {"activation": "tanh"}),
    ("simple_rnn", {"activation": "relu"}),
    ("lstm", {}),
    ("lstm", {"activation": "sigmoid", "recurrent_activation": "hard_sigmoid"}),  # the kernels' general path
    ("gru", {"reset_after": True}),
    ("gru", {"reset_after": False}),
    ("gru", {"reset_after": True, "activation": "sigmoid", "recurrent_activation": "hard_sigmoid"}),
]
IDS = ["rnn-tanh", "rnn-relu", "lstm", "lstm-other-activations", "gru-after", "gru-before", "gru-other-activations"]


def _mixed_mask(B, T):
    """Row 0 fully masked, row 1 masked in the middle, row 2 right-padded, the rest full."""
    mask = np.ones((B, T), bool)
    mask[0] = False
    mask[1, 1 : T - 1] = False
    mask[2, T - 1 :] = False
    return mask


def _case(kind, options, **kw):
    return make_case(kind, reset_after=options.get("reset_after", True), **kw)


@pytest.mark.parametrize("kind, options", KINDS_AND_OPTIONS, ids=IDS)
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
def test_all_inputs_all_outputs(kind, options, masked):
    case = _case(kind, options, B=4, T=4, seed=1)
    arrays, names = arrays_and_names(case)
    mask = _mixed_mask(4, 4) if masked else None
    check_gradients(lambda *a: run(kind, names, a, mask=mask, **options), arrays)


@pytest.mark.parametrize("kind, options", KINDS_AND_OPTIONS, ids=IDS)
def test_without_bias(kind, options):
    case = _case(kind, options, use_bias=False, seed=2)
    arrays, names = arrays_and_names(case)
    assert "bias" not in names
    check_gradients(lambda *a: run(kind, names, a, **options), arrays)


@pytest.mark.parametrize("kind, options", KINDS_AND_OPTIONS, ids=IDS)
@pytest.mark.parametrize("which", ["outputs", "final"])
def test_gradient_from_outputs_only_or_final_states_only(kind, options, which):
    case = _case(kind, options, seed=3)
    arrays, names = arrays_and_names(case)
    mask = lengths_mask([4, 2, 3], 4)

    def fn(*a):
        result = run(kind, names, a, mask=mask, **options)
        return result[0] if which == "outputs" else list(result[1:])

    check_gradients(fn, arrays)


@pytest.mark.parametrize("kind, options", KINDS_AND_OPTIONS, ids=IDS)
def test_initial_states_without_grad(kind, options):
    """Only the weights require grad: the op skips dx and dh0 and the weight gradients stay right."""
    case = _case(kind, options, seed=4)
    arrays, names = arrays_and_names(case)
    wrt = [names.index(n) for n in ("kernel", "recurrent_kernel", "bias")]
    tensors = []
    check_gradients(lambda *a: run(kind, names, a, **options), arrays, wrt=wrt, tensors_out=tensors)
    assert all(tensors[names.index(n)].grad is None for n in ("x", "h0"))


@pytest.mark.parametrize("kind, options", KINDS_AND_OPTIONS, ids=IDS)
@pytest.mark.parametrize("B, T, H", [(1, 3, 3), (3, 1, 3), (1, 1, 3), (2, 3, 1)])
def test_small_shapes(kind, options, B, T, H):
    """Batch 1, one step, and one unit (whose (1, G) weights have transposes that are contiguous views)."""
    case = _case(kind, options, B=B, T=T, H=H, seed=5)
    arrays, names = arrays_and_names(case)
    check_gradients(lambda *a: run(kind, names, a, **options), arrays)


@pytest.mark.parametrize("kind, options", [KINDS_AND_OPTIONS[0], KINDS_AND_OPTIONS[2], KINDS_AND_OPTIONS[3]],
                         ids=["rnn", "lstm", "gru"])
def test_long_sequence(kind, options):
    """T = 600: the inputs are checked along random directions (gradcheck switches above 600 elements)."""
    T = 600
    case = _case(kind, options, B=2, T=T, D=2, H=2, seed=6, scale=0.5)
    arrays, names = arrays_and_names(case)
    mask = lengths_mask([T, T - 37], T)
    check_gradients(lambda *a: run(kind, names, a, mask=mask, **options), arrays, directions=2)
