"""ReLU, LeakyReLU, ELU, PReLU, Softmax and Activation equal Keras 3's layers on the same inputs (and weights),
keep their configs through save/load, and reject what Keras rejects."""
from __future__ import annotations

import numpy as np
import pytest
from layer_harness import check_layer

from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers import ELU, Activation, Dense, LeakyReLU, PReLU, ReLU, Softmax, deserialize, serialize
from rnnkit.models import Sequential, load_model

X = 3.0 * np.random.default_rng(4).standard_normal((3, 4, 5))

CASES = [
    ("ReLU", {}), ("ReLU", {"max_value": 6.0}), ("ReLU", {"negative_slope": 0.1}),
    ("ReLU", {"threshold": 0.5}), ("ReLU", {"max_value": 2.0, "negative_slope": 0.2, "threshold": 0.7}),
    ("LeakyReLU", {}), ("LeakyReLU", {"negative_slope": 0.05}), ("ELU", {}), ("ELU", {"alpha": 0.5}),
    ("Softmax", {}), ("Softmax", {"axis": 1}), ("Softmax", {"axis": (1, 2)}),
    ("Activation", {"activation": "tanh"}), ("Activation", {"activation": "softplus"}),
    ("Activation", {"activation": "hard_sigmoid"}), ("Activation", {"activation": "elu"}),
]


def ours_and_keras(name, kwargs):
    import keras

    from rnnkit import layers

    return getattr(layers, name)(dtype="float64", **kwargs), getattr(keras.layers, name)(dtype="float64", **kwargs)


@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}{k}" for n, k in CASES])
def test_outputs_equal_keras(name, kwargs):
    ours, theirs = ours_and_keras(name, kwargs)
    np.testing.assert_allclose(ours(X).numpy(), np.asarray(theirs(X).detach().cpu()), rtol=1e-12, atol=1e-15)
    config = ours.get_config()
    for key, value in kwargs.items():
        assert config[key] == (list(value) if isinstance(value, tuple) else value)
    clone = deserialize(serialize(ours))
    np.testing.assert_array_equal(clone(X).numpy(), ours(X).numpy())


def test_softmax_mask_equals_keras():
    ours, theirs = ours_and_keras("Softmax", {})
    mask = np.random.default_rng(1).random((3, 4, 5)) > 0.4
    mask[1, 2] = False  # a fully masked row: zeros, as Keras
    expected = np.asarray(theirs(X, mask=mask).cpu())
    np.testing.assert_allclose(ours(X, mask=mask).numpy(), expected, rtol=1e-12, atol=1e-15)
    broadcast = mask[:, :, :1]
    np.testing.assert_allclose(ours(X, mask=broadcast).numpy(), np.asarray(theirs(X, mask=broadcast).cpu()),
                               rtol=1e-12, atol=1e-15)
    with pytest.raises(ShapeError, match="must be broadcastable"):
        ours(X, mask=np.ones((3, 4, 2), dtype=bool))


def test_prelu_equals_keras_with_the_same_alpha():
    ours, theirs = ours_and_keras("PReLU", {"shared_axes": [1]})
    ours(X), theirs(X)
    alpha = np.random.default_rng(2).uniform(0.0, 0.5, size=(1, 5))
    ours.set_weights([alpha])
    theirs.set_weights([alpha])
    np.testing.assert_allclose(ours(X).numpy(), np.asarray(theirs(X).detach().cpu()), rtol=1e-12, atol=1e-15)
    check_layer(lambda: PReLU(alpha_initializer="ones", dtype="float64"), X, output_shapes=[(3, 4, 5)],
                weight_shapes=[(4, 5)])


def test_keras_defaults_and_errors():
    import keras

    assert LeakyReLU().negative_slope == keras.layers.LeakyReLU().negative_slope == 0.3
    with pytest.warns(UserWarning, match="`alpha` is deprecated"):
        assert LeakyReLU(alpha=0.2).negative_slope == 0.2
    for bad in ({"max_value": -1.0}, {"negative_slope": -0.1}, {"threshold": -1.0}):
        with pytest.raises(ConfigError, match="cannot be None or a negative value"):
            ReLU(**bad)
        with pytest.raises(ValueError):
            keras.layers.ReLU(**bad)


def test_models_with_activation_layers_train_save_and_load(tmp_path):
    model = Sequential([Dense(6, input_shape=(5,)), LeakyReLU(), Dense(4), ReLU(max_value=3.0), ELU(),
                        Dense(3), PReLU(), Activation("tanh"), Dense(2), Softmax()])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x = X.reshape(-1, 5)
    y = np.eye(2)[np.arange(len(x)) % 2]
    history = model.fit(x, y, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "m.rnnkit")
    np.testing.assert_array_equal(load_model(tmp_path / "m.rnnkit").predict(x, verbose=0),
                                  model.predict(x, verbose=0))
