"""SimpleRNNCell / LSTMCell / GRUCell: one step at a time equals the fused layer; gradients; harness checks."""
import numpy as np
import pytest

from layer_harness import check_layer, check_param_gradients, leaf, randomize_weights
from rnnkit.errors import ShapeError
from rnnkit.layers import GRU, LSTM, RNN, Bidirectional, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell

CASES = {
    "simple_rnn_relu": (SimpleRNNCell, SimpleRNN, {"activation": "relu"}, 1),
    "lstm": (LSTMCell, LSTM, {}, 2),
    "gru_reset_after": (GRUCell, GRU, {}, 1),
    "gru_reset_before": (GRUCell, GRU, {"reset_after": False}, 1),
}


@pytest.mark.parametrize("case", list(CASES))
def test_unrolled_cell_equals_layer(case):
    cell_cls, layer_cls, args, n_states = CASES[case]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 3))
    states0 = [rng.standard_normal((2, 4)) for _ in range(n_states)]
    layer = layer_cls(4, return_sequences=True, return_state=True, dtype="float64", **args)
    layer(x)
    randomize_weights(layer)
    expected = layer(x, initial_state=states0)

    cell = cell_cls(4, dtype="float64", **args)
    cell(x[:, 0], states0)
    cell.set_weights(layer.get_weights())
    states, outputs = states0, []
    for t in range(5):
        out, states = cell(x[:, t], states)
        outputs.append(out.numpy())
    np.testing.assert_allclose(np.stack(outputs, axis=1), expected[0].numpy(), rtol=1e-12)
    for ours, theirs in zip(states, expected[1:]):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("case", list(CASES))
def test_cell_gradients_over_two_steps(case):
    cell_cls, _, args, n_states = CASES[case]
    rng = np.random.default_rng(1)
    cell = cell_cls(3, dtype="float64", **args)
    x1, x2 = leaf(rng.standard_normal((2, 2))), leaf(rng.standard_normal((2, 2)))
    states = [leaf(rng.standard_normal((2, 3))) for _ in range(n_states)]
    cell(x1, states)
    randomize_weights(cell, seed=2)

    def forward():
        _, middle = cell(x1, states)
        return cell(x2, middle)[1]

    check_param_gradients(forward, [x1, x2, *states, *cell.weights])


@pytest.mark.parametrize("case", list(CASES))
def test_cell_harness_and_state_size(case):
    cell_cls, _, args, n_states = CASES[case]
    x = np.random.default_rng(2).standard_normal((3, 2))
    gates = {SimpleRNNCell: 1, LSTMCell: 4, GRUCell: 3}[cell_cls]
    bias = (2, 15) if case == "gru_reset_after" else (gates * 5,)
    states = [np.zeros((3, 5))] * n_states
    cell = check_layer(lambda: cell_cls(5, **args), x, call_kwargs={"states": states},
                       output_shapes=[(3, 5)] * (1 + n_states), weight_shapes=[(2, gates * 5), (5, gates * 5), bias])
    assert cell.state_size == (5 if n_states == 1 else [5, 5])
    assert [s.shape for s in cell.get_initial_state(3)] == [(3, 5)] * n_states


def test_cell_dropout_only_in_training():
    cell = SimpleRNNCell(2, dropout=0.5, seed=0, kernel_initializer="ones", recurrent_initializer="zeros",
                         activation=None, dtype="float64")
    x = np.ones((50, 4))
    np.testing.assert_array_equal(cell(x, [np.zeros((50, 2))])[0].numpy(), 4.0)
    dropped = cell(x, [np.zeros((50, 2))], training=True)[0].numpy()[:, 0]
    assert set(np.unique(dropped)) <= {0.0, 2.0, 4.0, 6.0, 8.0} and dropped.std() > 0  # 2 * (kept features)


@pytest.mark.parametrize("case", list(CASES))
def test_rnn_of_a_cell_equals_the_layer(case):
    cell_cls, layer_cls, args, n_states = CASES[case]
    x = np.random.default_rng(3).standard_normal((2, 4, 3))
    gates = {SimpleRNNCell: 1, LSTMCell: 4, GRUCell: 3}[cell_cls]
    bias = (2, 6) if case == "gru_reset_after" else (gates * 2,)
    wrapped = check_layer(lambda: RNN(cell_cls(2, dtype="float64", **args), return_sequences=True), x,
                          output_shapes=[(2, 4, 2)], weight_shapes=[(3, gates * 2), (2, gates * 2), bias])
    assert wrapped.name.startswith("rnn") and wrapped.get_config()["cell"]["class_name"] == cell_cls.__name__
    layer = layer_cls(2, return_sequences=True, dtype="float64", **args)
    layer(x)
    layer.set_weights(wrapped.get_weights())
    np.testing.assert_allclose(wrapped(x).numpy(), layer(x).numpy(), rtol=1e-13)
    bidirectional = Bidirectional(RNN(cell_cls(2, **args), return_state=True))
    assert len(bidirectional(x)) == 1 + 2 * n_states


def test_rnn_reuses_a_built_cell_and_checks_its_input_size():
    cell = GRUCell(2)
    cell(np.ones((1, 3)), [np.zeros((1, 2))])
    layer = RNN(cell)
    layer(np.ones((1, 4, 3)))
    assert len(layer.weights) == 3 and layer.weights[0] is cell.kernel
    with pytest.raises(ShapeError, match="last axis 3"):
        RNN(cell)(np.ones((1, 4, 5)))
