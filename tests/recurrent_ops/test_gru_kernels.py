"""GRU paths the shared op tests leave out: the compiled kernels' general (non tanh/sigmoid) branches without
reset_after, mixed activations (one inline derivative, one general), float32 (fast tanh) against float64, the
no-grad forward, and gradients wanted for only some inputs."""
import numpy as np
import pytest
from helpers.gradcheck import check_gradients, relative_error
from recurrent_op_cases import arrays_and_names, lengths_mask, make_case, run

from rnnkit import Tensor, no_grad

RESET = [True, False]
RESET_IDS = ["after", "before"]
ACTIVATIONS = [("sigmoid", "hard_sigmoid"), ("relu", "sigmoid"), ("tanh", "hard_sigmoid"), ("linear", "linear")]
ACTIVATION_IDS = ["sigmoid-hard_sigmoid", "relu-sigmoid", "tanh-hard_sigmoid", "linear-linear"]


def _mask(B, T):
    """Row 0 right-padded, row 1 masked in the middle, the rest full."""
    mask = np.ones((B, T), bool)
    mask[0, T - 2 :] = False
    mask[1, 1 : T - 1] = False
    return mask


@pytest.mark.parametrize("reset_after", RESET, ids=RESET_IDS)
@pytest.mark.parametrize("activation, recurrent_activation", ACTIVATIONS, ids=ACTIVATION_IDS)
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
def test_gradients_with_other_activations(reset_after, activation, recurrent_activation, masked):
    case = make_case("gru", B=4, T=4, seed=70, reset_after=reset_after)
    arrays, names = arrays_and_names(case)
    mask = _mask(4, 4) if masked else None
    options = dict(reset_after=reset_after, activation=activation, recurrent_activation=recurrent_activation)
    check_gradients(lambda *a: run("gru", names, a, mask=mask, **options), arrays)


def _forward_backward(case, dtype, reset_after, mask):
    arrays, names = arrays_and_names(case)
    leaves = [Tensor(a, requires_grad=True, dtype=dtype) for a in arrays]
    outputs, h_last = run("gru", names, leaves, mask=mask, reset_after=reset_after)
    rng = np.random.default_rng(1)
    g_out, g_last = rng.standard_normal(outputs.shape), rng.standard_normal(h_last.shape)
    ((outputs * Tensor(g_out, dtype=dtype)).sum() + (h_last * Tensor(g_last, dtype=dtype)).sum()).backward()
    return [outputs.data, h_last.data] + [leaf.grad for leaf in leaves], ["outputs", "h_last"] + names


@pytest.mark.parametrize("reset_after", RESET, ids=RESET_IDS)
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
def test_float32_agrees_with_float64(reset_after, masked):
    """float32 runs the rational tanh and float32 arithmetic; it must stay close to the exact float64 run. An odd
    batch and unit count leave remainders after the vectorised loops."""
    B, T = 7, 9
    case = make_case("gru", B=B, T=T, D=5, H=11, seed=71, reset_after=reset_after)
    mask = lengths_mask([9, 3, 9, 0, 5, 9, 1], T) if masked else None
    got, names = _forward_backward(case, "float32", reset_after, mask)
    want, _ = _forward_backward(case, "float64", reset_after, mask)
    for name, a, b in zip(names, got, want):
        assert a.dtype == np.float32
        assert relative_error(a.astype(np.float64), b) < 2e-5, name


@pytest.mark.parametrize("reset_after", RESET, ids=RESET_IDS)
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_no_grad_forward_equals_the_recording_one(reset_after, masked, dtype):
    """Without a backward pass to come the op reuses one gate block per step; the results must not change."""
    case = make_case("gru", B=5, T=6, seed=72, reset_after=reset_after)
    arrays, names = arrays_and_names(case)
    mask = _mask(5, 6) if masked else None
    leaves = [Tensor(a, requires_grad=True, dtype=dtype) for a in arrays]
    outputs, h_last = run("gru", names, leaves, mask=mask, reset_after=reset_after)
    with no_grad():
        outputs_ng, h_last_ng = run("gru", names, [Tensor(a, dtype=dtype) for a in arrays], mask=mask,
                                    reset_after=reset_after)
    np.testing.assert_array_equal(outputs_ng.data, outputs.data)
    np.testing.assert_array_equal(h_last_ng.data, h_last.data)


@pytest.mark.parametrize("reset_after", RESET, ids=RESET_IDS)
@pytest.mark.parametrize("wanted", ["x", "kernel", "recurrent_kernel", "bias", "h0"])
def test_one_input_wanting_a_gradient_gets_the_full_runs_gradient(reset_after, wanted):
    """The op computes only the gradients asked for; each must equal the one from a run that wants them all."""
    case = make_case("gru", B=3, T=5, seed=73, reset_after=reset_after)
    arrays, names = arrays_and_names(case)
    mask = _mask(3, 5)

    def grads(want):
        leaves = [Tensor(a, requires_grad=(n in want), dtype="float64") for a, n in zip(arrays, names)]
        outputs, h_last = run("gru", names, leaves, mask=mask, reset_after=reset_after)
        (outputs.sum() + 2 * h_last.sum()).backward()
        return {n: leaf.grad for n, leaf in zip(names, leaves)}

    alone, full = grads({wanted}), grads(set(names))
    assert all(g is None for n, g in alone.items() if n != wanted)
    np.testing.assert_allclose(alone[wanted], full[wanted], rtol=1e-13, atol=1e-15)
