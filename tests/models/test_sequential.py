"""Sequential: construction, add/pop, input shape, lazy building, dtype handling and errors."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers import Dense, Dropout, Embedding, SimpleRNN
from rnnkit.models import Input, Sequential
from rnnkit.random import set_random_seed


def test_seed_model_builds_from_input_shape_and_counts_params():
    model = Sequential([SimpleRNN(32, input_shape=(28, 28)), Dense(10, activation="softmax")])
    assert model.input_shape == (None, 28, 28)
    assert [w.shape for w in model.weights] == [(28, 32), (32, 32), (32,), (32, 10), (10,)]
    assert model.count_params() == 28 * 32 + 32 * 32 + 32 + 32 * 10 + 10


def test_add_pop_and_layers():
    model = Sequential()
    rnn, head = SimpleRNN(4, input_shape=(3, 2)), Dense(2)
    model.add(rnn)
    model.add(head)
    assert model.layers == [rnn, head]
    assert model.pop() is head and model.layers == [rnn]
    assert model.predict(np.ones((5, 3, 2)), verbose=0).shape == (5, 4)
    with pytest.raises(ConfigError, match="already in model"):
        model.add(rnn)
    with pytest.raises(ConfigError, match="expects a Layer"):
        model.add("dense")
    model.pop()
    with pytest.raises(ConfigError, match="no layers to pop"):
        model.pop()


def test_leading_input_gives_the_shape():
    model = Sequential([Input((6,)), Dense(3)])
    assert model.input_shape == (None, 6) and model.count_params() == 6 * 3 + 3


def test_lazy_model_builds_on_first_batch_and_matches_manual_composition():
    set_random_seed(1)
    rnn, head = SimpleRNN(5), Dense(2)
    model = Sequential([rnn, head])
    assert not model.built and model.weights == []
    x = np.random.default_rng(0).standard_normal((4, 3, 2))
    out = model.predict(x, verbose=0)
    assert model.built and len(model.weights) == 5
    np.testing.assert_array_equal(out, head(rnn(x)).numpy())


def test_build_before_call_creates_parameters():
    model = Sequential([SimpleRNN(4), Dense(2)])
    with pytest.raises(ConfigError, match="build"):
        model.parameters()
    model.build((None, 7, 3))
    assert [p.shape for p in model.parameters()] == [(3, 4), (4, 4), (4,), (4, 2), (2,)]


def test_float64_input_is_cast_to_float32_and_float64_stack_stays_float64():
    model = Sequential([Dense(2, input_shape=(3,))])
    x = np.arange(6, dtype=np.uint8).reshape(2, 3) / 255.0  # float64, as in the seed
    assert model.predict(x, verbose=0).dtype == np.float32
    model64 = Sequential([Dense(2, input_shape=(3,), dtype="float64")])
    assert model64.dtype == "float64" and model64.predict(x, verbose=0).dtype == np.float64


def test_get_set_weights_round_trip():
    model = Sequential([Dense(2, input_shape=(3,))])
    new = [np.full((3, 2), 0.5, np.float32), np.array([1.0, -1.0], np.float32)]
    model.set_weights(new)
    np.testing.assert_array_equal(model.predict(np.ones((1, 3)), verbose=0), [[2.5, 0.5]])
    with pytest.raises(ShapeError):
        model.set_weights(new[:1])


def test_dropout_only_in_training_and_embedding_ids_pass_through():
    model = Sequential([Embedding(10, 4, input_shape=(5,)), Dropout(0.5), SimpleRNN(3)])
    ids = np.array([[1, 2, 3, 4, 5]])
    a, b = model.predict(ids, verbose=0), model.predict(ids, verbose=0)
    np.testing.assert_array_equal(a, b)  # inference: Dropout is the identity
    trained = [model(ids, training=True).numpy() for _ in range(3)]
    assert any(not np.array_equal(t, a) for t in trained)


def test_config_round_trip():
    model = Sequential([SimpleRNN(4, input_shape=(3, 2), name="r"), Dense(2, name="d")], name="stack")
    clone = Sequential.from_config(model.get_config())
    assert clone.name == "stack" and [layer.name for layer in clone.layers] == ["r", "d"]
    assert clone.input_shape == (None, 3, 2) and clone.count_params() == model.count_params()


def test_get_layer_and_reset_states():
    rnn = SimpleRNN(3, stateful=True, name="stateful_rnn")
    model = Sequential([rnn, Dense(1, name="head")])
    assert model.get_layer("head") is model.layers[1] and model.get_layer(index=0) is rnn
    with pytest.raises(ConfigError, match="no layer named 'nope'"):
        model.get_layer("nope")
    x = np.ones((2, 4, 2))
    first = model.predict(x, verbose=0)
    assert not np.allclose(model.predict(x, verbose=0), first)  # the states carried over
    model.reset_states()
    np.testing.assert_allclose(model.predict(x, verbose=0), first, rtol=1e-6)
