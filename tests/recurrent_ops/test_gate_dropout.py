"""Dropout masks per gate inside the recurrent ops (Keras' recurrent_dropout, ops/recurrent/gate_dropout.py):
outputs against an independent NumPy reference of Keras' implementation 1, and gradients against finite
differences, in float64, with and without input masks and padding masks, GRU in both formulations."""
import numpy as np
import pytest
from gate_dropout_cases import gate_masks, reference
from helpers.gradcheck import check_gradients
from recurrent_op_cases import arrays_and_names, make_case, padded_and_gapped_mask, run

from rnnkit import Tensor
from rnnkit.errors import ShapeError
from rnnkit.ops.recurrent import gru_cell, lstm_cell, simple_rnn_cell

KINDS = [("simple_rnn", {}), ("lstm", {}), ("gru", {"reset_after": True}), ("gru", {"reset_after": False})]
IDS = ["rnn", "lstm", "gru-after", "gru-before"]


def _case(kind, options, B=3, T=4, D=2, H=3, seed=0):
    return make_case(kind, B=B, T=T, D=D, H=H, seed=seed, reset_after=options.get("reset_after", True))


@pytest.mark.parametrize("kind, options", KINDS, ids=IDS)
@pytest.mark.parametrize("inputs", [False, True], ids=["rec-only", "with-input"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
def test_outputs_equal_kerass_equations(kind, options, inputs, masked):
    B, T, D, H = 4, 6, 3, 5
    case = _case(kind, options, B, T, D, H, seed=11)
    dm, rm = gate_masks(kind, B, D, H, rate=0.4, seed=12, inputs=inputs)
    mask = padded_and_gapped_mask(B, T) if masked else None
    arrays, names = arrays_and_names(case)
    got = run(kind, names, [Tensor(a, dtype="float64") for a in arrays], mask=mask, input_masks=dm,
              recurrent_masks=rm, **options)
    want = reference(kind, case, dm, rm, mask, reset_after=options.get("reset_after", True))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.data, w, rtol=1e-12, atol=1e-12)
    unmasked = run(kind, names, [Tensor(a, dtype="float64") for a in arrays], mask=mask, **options)
    assert not np.allclose(got[0].data, unmasked[0].data)  # the masks do change the result


@pytest.mark.parametrize("kind, options", KINDS, ids=IDS)
@pytest.mark.parametrize("inputs", [False, True], ids=["rec-only", "with-input"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
def test_gradients_equal_finite_differences(kind, options, inputs, masked):
    B, T, D, H = 3, 4, 2, 3
    case = _case(kind, options, B, T, D, H, seed=21)
    dm, rm = gate_masks(kind, B, D, H, rate=0.4, seed=22, inputs=inputs)
    mask = padded_and_gapped_mask(B, T) if masked else None
    arrays, names = arrays_and_names(case)
    check_gradients(lambda *t: run(kind, names, t, mask=mask, input_masks=dm, recurrent_masks=rm, **options),
                    arrays, rtol=1e-6)


@pytest.mark.parametrize("kind, options", KINDS, ids=IDS)
def test_gradients_with_a_bias_free_layer_and_only_the_final_state(kind, options):
    B, T, D, H = 2, 3, 2, 4
    case = make_case(kind, B=B, T=T, D=D, H=H, seed=31, reset_after=options.get("reset_after", True),
                     use_bias=False)
    dm, rm = gate_masks(kind, B, D, H, rate=0.5, seed=32)
    arrays, names = arrays_and_names(case)
    check_gradients(lambda *t: run(kind, names, t, input_masks=dm, recurrent_masks=rm, **options)[1], arrays)


@pytest.mark.parametrize("kind, options", KINDS, ids=IDS)
def test_all_ones_masks_give_the_results_without_masks(kind, options):
    B, T, D, H = 3, 5, 2, 4
    case = _case(kind, options, B, T, D, H, seed=41)
    G = {"simple_rnn": 1, "lstm": 4, "gru": 3}[kind]
    arrays, names = arrays_and_names(case)
    leaves = [Tensor(a, dtype="float64", requires_grad=True) for a in arrays]
    plain = run(kind, names, leaves, **options)
    plain[0].sum().backward()
    plain_grads = [leaf.grad for leaf in leaves]
    leaves = [Tensor(a, dtype="float64", requires_grad=True) for a in arrays]
    ones = run(kind, names, leaves, input_masks=np.ones((G, B, D)), recurrent_masks=np.ones((G, B, H)), **options)
    ones[0].sum().backward()
    for a, b in zip(plain, ones):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-13, atol=1e-13)
    for a, b in zip(plain_grads, [leaf.grad for leaf in leaves]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kind, cell, options", [("simple_rnn", simple_rnn_cell, {}), ("lstm", lstm_cell, {}),
                                                 ("gru", gru_cell, {"reset_after": True}),
                                                 ("gru", gru_cell, {"reset_after": False})], ids=IDS)
def test_cells_take_the_same_masks_as_one_step_of_the_sequence_op(kind, cell, options):
    B, D, H = 3, 2, 4
    case = _case(kind, options, B, 1, D, H, seed=51)
    dm, rm = gate_masks(kind, B, D, H, rate=0.3, seed=52)
    x_t = Tensor(case["x"][:, 0], dtype="float64")
    states = [Tensor(case["h0"], dtype="float64")] + ([Tensor(case["c0"], dtype="float64")] if kind == "lstm" else [])
    weights = [Tensor(case[n], dtype="float64") for n in ("kernel", "recurrent_kernel", "bias")]
    got = cell(x_t, *states, *weights, input_masks=dm, recurrent_masks=rm, **options)
    got = got if isinstance(got, (list, tuple)) else [got]
    want = reference(kind, case, dm, rm, reset_after=options.get("reset_after", True))[1:]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.data, w, rtol=1e-12, atol=1e-12)


def test_masks_of_the_wrong_shape_are_refused_with_both_shapes():
    case = make_case("lstm", B=2, T=3, D=2, H=3)
    arrays, names = arrays_and_names(case)
    with pytest.raises(ShapeError, match=r"recurrent_masks must have shape \(gates, batch, features\) = "
                                         r"\(4, 2, 3\); got shape \(3, 2, 3\)"):
        run("lstm", names, arrays, recurrent_masks=np.ones((3, 2, 3)))
