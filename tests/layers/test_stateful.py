"""Stateful recurrent layers: states carried across calls (truncated BPTT), reset_states, fixed batch size."""
import numpy as np
import pytest

from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers import GRU, LSTM, Bidirectional, SimpleRNN

KINDS = [SimpleRNN, LSTM, GRU]


@pytest.mark.parametrize("cls", KINDS)
def test_chunks_equal_one_long_call(cls):
    x = np.random.default_rng(0).standard_normal((3, 12, 2))
    stateful = cls(4, return_sequences=True, stateful=True, dtype="float64")
    whole = cls(4, return_sequences=True, dtype="float64")
    stateful(x[:, :4])
    whole(x)
    whole.set_weights(stateful.get_weights())
    stateful.reset_states()
    chunks = [stateful(x[:, i:i + 4]).numpy() for i in range(0, 12, 4)]
    np.testing.assert_allclose(np.concatenate(chunks, axis=1), whole(x).numpy(), rtol=1e-12)
    assert all(not s.requires_grad for s in stateful.states)  # detached: truncated BPTT

    stateful.reset_states()
    np.testing.assert_allclose(stateful(x[:, :4]).numpy(), whole(x[:, :4]).numpy(), rtol=1e-12)


def test_reset_states_to_given_values_and_gradients_stop_at_the_chunk():
    layer = LSTM(2, stateful=True, return_state=True, dtype="float64")
    x = np.random.default_rng(1).standard_normal((1, 3, 2))
    layer(x)
    h0, c0 = np.full((1, 2), 0.5), np.full((1, 2), -0.5)
    layer.reset_states([h0, c0])
    fresh = LSTM(2, return_state=True, dtype="float64")
    fresh(x)
    fresh.set_weights(layer.get_weights())
    ours = layer(x)
    theirs = fresh(x, initial_state=[h0, c0])
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-13)
    out = layer(x)[0]
    layer.zero_grad()
    out.sum().backward()
    assert all(w.grad is not None for w in layer.weights)
    with pytest.raises(ShapeError, match=r"batch size 1.*batch size 4"):
        layer.reset_states([np.zeros((4, 2)), np.zeros((4, 2))])
    with pytest.raises(ShapeError, match=r"expects 2 initial state"):
        layer.reset_states([h0])


def test_batch_size_must_stay_fixed():
    layer = GRU(3, stateful=True)
    layer(np.ones((2, 5, 1)))
    with pytest.raises(ShapeError, match=r"batch size 2; got batch size 3"):
        layer(np.ones((3, 5, 1)))
    with pytest.raises(ConfigError, match="stateful=True"):
        GRU(3).reset_states()


def test_bidirectional_stateful_resets_both_directions():
    layer = Bidirectional(SimpleRNN(2, stateful=True, dtype="float64"))
    x = np.random.default_rng(2).standard_normal((1, 3, 2))
    first = layer(x).numpy()
    assert not np.allclose(layer(x).numpy(), first)  # the states carried over
    layer.reset_states()
    np.testing.assert_allclose(layer(x).numpy(), first, rtol=1e-13)
    assert layer.stateful


def test_batch_input_shape_fixes_the_batch_and_round_trips():
    layer = LSTM(2, stateful=True, batch_input_shape=(4, 3, 1))
    assert layer.batch_size == 4 and layer.input_shape_arg == (3, 1)
    assert layer.get_config()["batch_input_shape"] == [4, 3, 1] and "input_shape" not in layer.get_config()
    assert LSTM.from_config(layer.get_config()).batch_size == 4
    with pytest.raises(ShapeError, match=r"batch size 4; got batch size 2"):
        layer(np.ones((2, 3, 1)))
