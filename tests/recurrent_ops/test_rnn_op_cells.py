"""The one-step cell ops: equal to one step of the sequence op, and finite-difference checked."""
import numpy as np
import pytest
from helpers.gradcheck import check_gradients
from recurrent_op_cases import arrays_and_names, make_case, run

from rnnkit import Tensor
from rnnkit.ops.recurrent import gru_cell, lstm_cell, simple_rnn_cell

CELLS = [("simple_rnn", {"activation": "tanh"}), ("simple_rnn", {"activation": "relu"}), ("lstm", {}),
         ("gru", {"reset_after": True}), ("gru", {"reset_after": False})]
IDS = ["rnn-tanh", "rnn-relu", "lstm", "gru-after", "gru-before"]


def cell(kind, x_t, states, kernel, recurrent_kernel, bias, **options):
    if kind == "simple_rnn":
        return simple_rnn_cell(x_t, states[0], kernel, recurrent_kernel, bias, **options)
    if kind == "lstm":
        return lstm_cell(x_t, states[0], states[1], kernel, recurrent_kernel, bias, **options)
    return gru_cell(x_t, states[0], kernel, recurrent_kernel, bias, **options)


def _case(kind, options, **kw):
    return make_case(kind, reset_after=options.get("reset_after", True), **kw)


@pytest.mark.parametrize("kind, options", CELLS, ids=IDS)
def test_cell_steps_equal_the_sequence_op(kind, options):
    """Feeding the cell step by step reproduces the sequence op's outputs and final states."""
    case = _case(kind, options, B=3, T=5, seed=7)
    arrays, names = arrays_and_names(case)
    outputs, *finals = run(kind, names, [Tensor(a, dtype="float64") for a in arrays], **options)
    states = [Tensor(case["h0"], dtype="float64")] + ([Tensor(case["c0"], dtype="float64")] if kind == "lstm" else [])
    f64 = [None if a is None else Tensor(a, dtype="float64") for a in (case["kernel"], case["recurrent_kernel"],
                                                                      case["bias"])]
    for t in range(5):
        new = cell(kind, Tensor(case["x"][:, t], dtype="float64"), states, *f64, **options)
        states = list(new) if kind == "lstm" else [new]
        np.testing.assert_allclose(states[0].data, outputs.data[:, t], rtol=1e-12, atol=1e-13)
    for state, final in zip(states, finals):
        np.testing.assert_allclose(state.data, final.data, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kind, options", CELLS, ids=IDS)
@pytest.mark.parametrize("use_bias", [True, False])
def test_cell_gradients(kind, options, use_bias):
    case = _case(kind, options, B=3, seed=8, use_bias=use_bias)
    x_t = case["x"][:, 0]
    states = [case["h0"]] + ([case["c0"]] if kind == "lstm" else [])
    weights = [case["kernel"], case["recurrent_kernel"]] + ([case["bias"]] if use_bias else [])
    n = len(states)

    def fn(x_t, *rest):
        s, w = rest[:n], list(rest[n:]) + ([None] if not use_bias else [])
        out = cell(kind, x_t, s, *w, **options)
        return list(out) if kind == "lstm" else out

    check_gradients(fn, [x_t, *states, *weights])


def test_cell_rejects_a_sequence():
    case = make_case("simple_rnn")
    with pytest.raises(ValueError, match=r"x_t must have shape \(batch, features\); got shape \(3, 4, 2\)"):
        simple_rnn_cell(case["x"], case["h0"], case["kernel"], case["recurrent_kernel"], case["bias"])
