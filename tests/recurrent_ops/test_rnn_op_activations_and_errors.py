"""Gate activations (values, derivatives from outputs), extreme inputs, dtypes and error messages."""
import sys

import numpy as np
import pytest
from recurrent_op_cases import arrays_and_names, make_case, run

from rnnkit import Tensor
from rnnkit.errors import ConfigError, ShapeError
from rnnkit.ops.recurrent import ACTIVATIONS, get_activation, lstm, simple_rnn

REFERENCE = {
    "tanh": np.tanh,
    "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
    "relu": lambda v: np.maximum(v, 0),
    "hard_sigmoid": lambda v: np.clip(v / 6 + 0.5, 0, 1),  # Keras 3: 0 below -3, 1 above 3, x/6 + 1/2 between
    "linear": lambda v: v,
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_value_and_derivative_from_output(name):
    act = get_activation(name)
    x = np.array([-7.0, -2.9, -0.4, 0.3, 1.7, 2.95, 8.0])  # avoids the kinks at 0 and +-3
    y = act.forward(x, np.empty_like(x))
    np.testing.assert_allclose(y, REFERENCE[name](x), rtol=1e-12, atol=1e-15)
    eps = 1e-6
    numeric = (REFERENCE[name](x + eps) - REFERENCE[name](x - eps)) / (2 * eps)
    np.testing.assert_allclose(act.derivative(y, np.empty_like(y)), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_in_place_keeps_float32(name):
    x = np.linspace(-5, 5, 11, dtype=np.float32)
    act = get_activation(name)
    y = act.forward(x, x)
    assert y is x and y.dtype == np.float32
    assert act.derivative(y, np.empty_like(y)).dtype == np.float32


def test_unknown_activation_names_the_value_and_the_choices():
    with pytest.raises(ConfigError, match=r"unknown recurrent activation 'swish'; expected one of 'tanh', 'sigmoid'"):
        get_activation("swish")


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru"])
def test_extreme_inputs_stay_finite(kind):
    case = make_case(kind, B=2, T=6, seed=50)
    case["x"] = case["x"] * 1000
    arrays, names = arrays_and_names(case)
    with np.errstate(all="raise"):
        leaves = [Tensor(a, requires_grad=True) for a in arrays]  # float32
        outputs, *finals = run(kind, names, leaves)
        (outputs.sum() + finals[0].sum()).backward()
    assert np.all(np.isfinite(outputs.data)) and all(np.all(np.isfinite(leaf.grad)) for leaf in leaves)


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru"])
def test_float32_in_float32_out(kind):
    case = make_case(kind, B=2, T=3, seed=51)
    arrays, names = arrays_and_names(case)
    leaves = [Tensor(a, requires_grad=True) for a in arrays]
    outputs, *finals = run(kind, names, leaves, mask=np.array([[True, False, True], [True, True, False]]))
    (outputs.sum() + finals[0].sum()).backward()
    assert outputs.dtype == np.float32 and all(f.dtype == np.float32 for f in finals)
    assert all(leaf.grad.dtype == np.float32 for leaf in leaves)


def test_all_true_mask_equals_no_mask():
    case = make_case("lstm", B=2, T=4, seed=52)
    arrays, names = arrays_and_names(case)
    a = run("lstm", names, [Tensor(v, dtype="float64") for v in arrays])
    b = run("lstm", names, [Tensor(v, dtype="float64") for v in arrays], mask=np.ones((2, 4), bool))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u.data, v.data)


def test_masked_step_outputs_zero_and_carries_state():
    case = make_case("simple_rnn", B=1, T=3, seed=53)
    arrays, names = arrays_and_names(case)
    outputs, h_last = run("simple_rnn", names, [Tensor(v, dtype="float64") for v in arrays],
                          mask=np.array([[True, False, False]]))
    assert np.all(outputs.data[0, 1:] == 0)
    np.testing.assert_array_equal(h_last.data[0], outputs.data[0, 0])


def test_shape_errors_name_what_was_expected():
    x, W, U, b, h0 = np.zeros((2, 3, 4)), np.zeros((4, 5)), np.zeros((5, 5)), np.zeros(5), np.zeros((2, 5))
    with pytest.raises(ShapeError, match=r"x must have shape \(batch, time, features\); got shape \(3, 4\)"):
        simple_rnn(x[0], W, U, b, h0)
    with pytest.raises(ShapeError, match=r"kernel must have shape \(input_dim, 1 \* units\) = \(4, 5\); got"):
        simple_rnn(x, np.zeros((3, 5)), U, b, h0)
    with pytest.raises(ShapeError, match=r"recurrent_kernel must have shape \(units, 4 \* units\); got shape \(5, 5\)"):
        lstm(x, W, U, b, h0, h0)
    with pytest.raises(ShapeError, match=r"h0 must have shape \(batch, units\) = \(2, 5\); got shape \(3, 5\)"):
        simple_rnn(x, W, U, b, np.zeros((3, 5)))
    with pytest.raises(ShapeError, match=r"bias must have shape \(5,\); got shape \(4,\)"):
        simple_rnn(x, W, U, np.zeros(4), h0)
    with pytest.raises(ShapeError, match=r"mask must have shape \(batch, time\) = \(2, 3\); got shape \(3, 2\)"):
        simple_rnn(x, W, U, b, h0, mask=np.ones((3, 2), bool))


@pytest.mark.parametrize("kind, options", [("simple_rnn", {}), ("lstm", {}), ("gru", {"reset_after": True}),
                                           ("gru", {"reset_after": False})])
def test_float32_runs_never_upcast(kind, options, monkeypatch):
    """Every gradient is *computed* in float32 (not computed in float64 and cast back at the end)."""
    common = sys.modules["rnnkit.ops.recurrent.common"]
    seen = []
    original = common.grad_for

    def spy(parent, grad):
        if grad is not None:
            seen.append(grad.dtype)
        return original(parent, grad)

    monkeypatch.setattr(common, "grad_for", spy)
    case = make_case(kind, B=2, T=3, seed=54, reset_after=options.get("reset_after", True))
    arrays, names = arrays_and_names(case)
    leaves = [Tensor(a, requires_grad=True) for a in arrays]
    outputs, *finals = run(kind, names, leaves, mask=np.array([[True, False, True], [True, True, True]]), **options)
    (outputs.sum() + finals[0].sum()).backward()
    assert len(seen) == len(leaves) and all(d == np.float32 for d in seen), seen
